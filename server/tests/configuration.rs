//! Configuration that refuses nonsense: every kind of bad setting stops the real binary at
//! start-up with one line naming the variable (exit code 2), and the README's settings table
//! lists exactly the settings `--help` does.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs the server binary with `env` (and nothing inherited that could configure it); gives
/// up after ten seconds (a setting wrongly accepted would start a server that never exits).
fn start_with(env: &[(&str, &str)]) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard-server"));
    command.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    command.env("LISTEN_ADDR", "127.0.0.1:0").stdout(Stdio::null()).stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("the server binary runs");
    let deadline = Instant::now() + Duration::from_secs(10);
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break -1;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    (code, stderr)
}

#[test]
fn every_kind_of_bad_setting_stops_the_instance_with_one_line_naming_it() {
    let cases = [
        ("SOCKET_QUEUE", "0"),
        ("SESSION_TTL_SECS", "abc"),
        ("SESSION_TTL_SECS", "5"),
        ("REDIS_URL", "mysql://db:3306/"),
        ("REDIS_URL", "redis+cluster:///"),
        ("ALLOWED_ORIGINS", "chat.example.com"),
        ("ALLOWED_ORIGINS", "https://ok.example.com,https://bad.example.com/path"),
        ("REDIS_PREFIX", "{sb}:"),
        ("COOKIE_NAME", "a=b"),
        ("LISTEN_ADDR", "nonsense"),
        ("METRICS_ADDR", "localhost"),
        ("LOG_FORMAT", "xml"),
        ("COOKIE_SECURE", "maybe"),
        ("HASH_CONCURRENCY", "0"),
        ("MAX_FRAME_BYTES", "-1"),
        ("REDIS_WAIT_TIMEOUT_MS", "0"),
        ("INSTANCE_ID", "app one"),
        ("DATABASE_URL", "mysql://db:3306/chat"),
        ("RETENTION_DAYS", "-3"),
    ];
    for (name, value) in cases {
        let (code, stderr) = start_with(&[(name, value)]);
        assert_eq!(code, 2, "{name}={value}: exit code; stderr: {stderr}");
        let lines: Vec<&str> = stderr.lines().filter(|line| !line.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{name}={value}: one line, got {stderr:?}");
        assert!(lines[0].contains(name), "{name}={value}: the line names the variable: {}", lines[0]);
    }
}

#[test]
fn help_and_version_are_not_errors() {
    for flag in ["--help", "--version"] {
        let output = Command::new(env!("CARGO_BIN_EXE_switchboard-server")).arg(flag).output().expect("runs");
        assert!(output.status.success(), "{flag}");
    }
}

/// The environment names `--help` lists.
fn help_settings() -> Vec<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard-server")).arg("--help").output().expect("runs");
    let help = String::from_utf8_lossy(&output.stdout);
    let mut names: Vec<String> =
        help.split("[env: ").skip(1).filter_map(|rest| rest.split(['=', ']']).next().map(str::to_owned)).collect();
    names.sort();
    names.dedup();
    names
}

/// The names in the README's settings table (the `## Configuration` section).
fn readme_settings() -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).expect("README");
    let section = readme.split("\n## Configuration").nth(1).and_then(|rest| rest.split("\n## ").next()).unwrap_or("");
    let mut names: Vec<String> = section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next().map(str::to_owned))
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn the_readme_table_and_help_list_the_same_settings() {
    let help = help_settings();
    assert!(help.len() > 30, "--help lists the settings: {help:?}");
    // RUST_LOG is read by the log filter, not by the settings parser.
    let readme: Vec<String> = readme_settings().into_iter().filter(|name| name != "RUST_LOG").collect();
    let missing: Vec<&String> = help.iter().filter(|name| !readme.contains(name)).collect();
    let unknown: Vec<&String> = readme.iter().filter(|name| !help.contains(name)).collect();
    assert!(missing.is_empty(), "settings missing from the README table: {missing:?}");
    assert!(unknown.is_empty(), "README lists settings the server does not know: {unknown:?}");
}
