//! The deployment files cannot be run here (no container engine), so they are checked with
//! the tools that exist: the compose file and the Prometheus and Grafana files parse; the
//! compose file's instances are given only settings the server knows; the shipped HAProxy
//! config, with the compose file's servers appended, passes `haproxy -c`; and every metric the
//! dashboard charts is one the server exports.

use std::collections::BTreeSet;
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

fn deploy(path: &str) -> String {
    let full = format!("{}/../deploy/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|err| panic!("{full}: {err}"))
}

fn yaml(path: &str) -> Yaml {
    let mut docs = YamlLoader::load_from_str(&deploy(path)).unwrap_or_else(|err| panic!("{path}: {err}"));
    assert_eq!(docs.len(), 1, "{path}: one document");
    docs.remove(0)
}

/// A mapping's keys, with YAML merge keys (`<<: *anchor`) folded in.
fn keys(mapping: &Yaml) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for (key, value) in mapping.as_hash().into_iter().flatten() {
        match key.as_str() {
            Some("<<") => keys.extend(self::keys(value)),
            Some(key) => drop(keys.insert(key.to_owned())),
            None => {}
        }
    }
    keys
}

/// The environment names the server reads (from `--help`), plus those Leptos and the log filter read.
fn known_settings() -> BTreeSet<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard-server")).arg("--help").output().expect("runs");
    let help = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut known: BTreeSet<String> =
        help.split("[env: ").skip(1).filter_map(|rest| rest.split(['=', ']']).next().map(str::to_owned)).collect();
    for extra in ["RUST_LOG", "LEPTOS_SITE_ROOT", "LEPTOS_OUTPUT_NAME", "LEPTOS_SITE_PKG_DIR", "LEPTOS_SITE_ADDR"] {
        known.insert(extra.to_owned());
    }
    known
}

#[test]
fn the_compose_file_gives_the_instances_only_settings_the_server_knows() {
    let compose = yaml("docker-compose.yml");
    let services = &compose["services"];
    let known = known_settings();
    let mut instances = 0;
    for (name, service) in services.as_hash().expect("services").iter() {
        let image = service["image"].as_str().unwrap_or_default();
        if !image.starts_with("switchboard") {
            continue;
        }
        instances += 1;
        let env = keys(&service["environment"]);
        let needed = ["REDIS_URL", "DATABASE_URL", "INSTANCE_ID"];
        assert!(needed.iter().all(|setting| env.contains(*setting)), "{name:?}: {env:?}");
        let unknown: Vec<&String> = env.iter().filter(|setting| !known.contains(*setting)).collect();
        assert!(unknown.is_empty(), "{name:?} is given settings the server does not know: {unknown:?}");
    }
    assert_eq!(instances, 3, "three instances");
    for file in [
        "prometheus.yml",
        "grafana/provisioning/datasources/prometheus.yml",
        "grafana/provisioning/dashboards/switchboard.yml",
    ] {
        assert!(!yaml(file).is_badvalue(), "{file}");
    }
}

#[test]
fn the_haproxy_config_with_the_compose_servers_passes_haproxy_check() {
    let dir = std::env::temp_dir().join(format!("switchboard-deploy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (name, tail) in [
        ("local", "    server app-1 127.0.0.1:3000 check cookie app-1\n".to_owned()),
        ("compose", deploy("compose-servers.cfg")),
    ] {
        let config = dir.join(format!("{name}.cfg"));
        std::fs::write(&config, format!("{}{tail}", deploy("haproxy.cfg"))).expect("write");
        let output = Command::new("haproxy")
            .arg("-c")
            .arg("-f")
            .arg(&config)
            .env("SB_BIND", "127.0.0.1:8080")
            .env("SB_MAXCONN", "1000")
            .output()
            .expect("haproxy must be installed (scripts/test installs it)");
        assert!(output.status.success(), "{name}: {}", String::from_utf8_lossy(&output.stderr));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_dashboard_charts_only_metrics_the_server_exports() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&deploy("grafana/switchboard.json")).expect("dashboard JSON");
    let mut charted = BTreeSet::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if let Some(name) = word.strip_prefix("switchboard_") {
                    let base = name.trim_end_matches("_bucket");
                    charted.insert(format!("switchboard_{base}"));
                }
            }
        }
    }
    assert!(charted.len() >= 15, "the dashboard charts the metrics: {charted:?}");
    // Every metric the server registers appears in its exposition (with HELP/TYPE lines).
    let exported = switchboard::telemetry::metrics::names();
    let unknown: Vec<&String> = charted.iter().filter(|name| !exported.contains(&name.as_str())).collect();
    assert!(unknown.is_empty(), "the dashboard charts metrics the server does not export: {unknown:?}");
}
