//! Starting and stopping the two stacks, each with its own Redis, three instances each.
//!
//! Switchboard comes up through `scripts/cluster up --name bench` (the same script developers
//! use; its HAProxy is started but not used), with the abuse limits raised so that capacity,
//! not policy, is measured. The peer is started here: a `redis-server` on a free port and
//! three `node server.js` processes. The generator talks to the instances directly on both
//! stacks, so no load balancer sits in either path.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::process::{Child, Command};

use crate::wire::Proto;

/// One server process.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Its HTTP base URL, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    /// Its process id (for RSS and CPU).
    pub pid: u32,
}

/// A running stack.
pub struct Stack {
    /// Which one.
    pub proto: Proto,
    /// Its instances.
    pub instances: Vec<Instance>,
    /// Its Redis's process id.
    pub redis_pid: u32,
    root: PathBuf,
    children: Vec<Child>,
    redis_dir: Option<PathBuf>,
}

/// Settings that lift Switchboard's abuse limits for the bench (see `server/src/config.rs`).
const OUR_SETTINGS: [(&str, &str); 8] = [
    ("SENDS_PER_10S", "1000000000"),
    ("FRAMES_PER_SECOND", "1000000"),
    ("AUTH_ATTEMPTS_PER_CLIENT", "1000000000"),
    ("LOGIN_ATTEMPTS_PER_NAME", "1000000000"),
    ("MAX_SOCKETS_PER_USER", "1000000"),
    ("MAX_ROOMS_PER_USER", "1000000"),
    ("HASH_QUEUE", "64"),
    ("RUST_LOG", "warn"),
];

const CLUSTER_NAME: &str = "bench";

impl Stack {
    /// Starts `proto`'s stack with `instances` instances; `profile` is the server build
    /// (`debug` or `release`) for Switchboard.
    pub async fn start(proto: Proto, root: &Path, profile: &str, instances: usize) -> Result<Stack> {
        match proto {
            Proto::Ours => start_ours(root, profile, instances).await,
            Proto::Peer => start_peer(root, instances).await,
        }
    }

    /// The instances' base URLs.
    pub fn urls(&self) -> Vec<String> {
        self.instances.iter().map(|i| i.url.clone()).collect()
    }

    /// Process ids of every server process and its Redis.
    pub fn all_pids(&self) -> Vec<u32> {
        self.instances.iter().map(|i| i.pid).chain([self.redis_pid]).collect()
    }

    /// SIGKILLs instance `index` (the reconnect storm); `stop` still cleans up after it.
    pub fn kill_instance(&self, index: usize) -> Result<()> {
        let pid = self.instances.get(index).context("no such instance")?.pid;
        // SAFETY: kill(2) with a pid this stack started and a valid signal.
        if unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) } != 0 {
            bail!("kill {pid}: {}", std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Stops everything this stack started.
    pub async fn stop(mut self) -> Result<()> {
        // Instances first, then their Redis (children are started Redis first).
        for child in self.children.iter_mut().rev() {
            let _ = child.kill().await;
        }
        if let Some(dir) = &self.redis_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if self.proto == Proto::Ours {
            let status = Command::new(self.root.join("scripts/cluster"))
                .args(["down", "--name", CLUSTER_NAME])
                .current_dir(&self.root)
                .status()
                .await?;
            if !status.success() {
                bail!("scripts/cluster down failed: {status}");
            }
        }
        Ok(())
    }
}

async fn start_ours(root: &Path, profile: &str, instances: usize) -> Result<Stack> {
    let status = Command::new(root.join("scripts/cluster"))
        .args(["up", "--name", CLUSTER_NAME, "--instances", &instances.to_string()])
        .envs(OUR_SETTINGS)
        .env("PROFILE", profile)
        .current_dir(root)
        .stdout(Stdio::null())
        .status()
        .await?;
    if !status.success() {
        bail!("scripts/cluster up failed: {status}");
    }
    let run = root.join(".run").join(CLUSTER_NAME);
    let read = |file: &str| -> Result<String> {
        Ok(std::fs::read_to_string(run.join(file)).with_context(|| format!("reading {file}"))?.trim().to_owned())
    };
    let mut list = Vec::new();
    for i in 1..=instances {
        let port = read(&format!("app-{i}.port"))?;
        let pid = read(&format!("app-{i}.pid"))?.parse()?;
        list.push(Instance { url: format!("http://127.0.0.1:{port}"), pid });
    }
    let redis_pid = read("redis.pid")?.parse()?;
    Ok(Stack {
        proto: Proto::Ours,
        instances: list,
        redis_pid,
        root: root.to_owned(),
        children: Vec::new(),
        redis_dir: None,
    })
}

async fn start_peer(root: &Path, instances: usize) -> Result<Stack> {
    let dir = root.join("bench/peer");
    let redis_dir = std::env::temp_dir().join(format!("switchboard-bench-peer-redis-{}", std::process::id()));
    std::fs::create_dir_all(&redis_dir)?;
    let redis_port = free_port()?;
    // The same Redis settings scripts/cluster gives Switchboard's (AOF on, no RDB snapshots).
    let redis = Command::new("redis-server")
        .args(["--port", &redis_port.to_string(), "--bind", "127.0.0.1", "--appendonly", "yes", "--save", ""])
        .arg("--dir")
        .arg(&redis_dir)
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting redis-server")?;
    let redis_pid = redis.id().context("redis pid")?;
    let mut children = vec![redis];
    wait_tcp(redis_port).await?;
    let mut list = Vec::new();
    for i in 1..=instances {
        let port = free_port()?;
        let child = Command::new("node")
            .arg("server.js")
            .current_dir(&dir)
            .env("PORT", port.to_string())
            .env("REDIS_URL", format!("redis://127.0.0.1:{redis_port}"))
            .env("INSTANCE_ID", format!("peer-{i}"))
            .env("NODE_ENV", "production")
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting node (run npm ci in bench/peer)")?;
        let pid = child.id().context("node pid")?;
        children.push(child);
        list.push(Instance { url: format!("http://127.0.0.1:{port}"), pid });
    }
    for instance in &list {
        wait_http(&format!("{}/healthz", instance.url)).await?;
    }
    Ok(Stack {
        proto: Proto::Peer,
        instances: list,
        redis_pid,
        root: root.to_owned(),
        children,
        redis_dir: Some(redis_dir),
    })
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn wait_tcp(port: u16) -> Result<()> {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("nothing listens on port {port}")
}

async fn wait_http(url: &str) -> Result<()> {
    let http = reqwest::Client::new();
    for _ in 0..150 {
        if http.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{url} did not answer")
}
