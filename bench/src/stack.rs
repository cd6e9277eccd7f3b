//! Starting and stopping the two stacks, each with its own Redis, three instances each.
//!
//! Switchboard comes up through `scripts/cluster up --name bench` (the same script developers
//! use; its HAProxy is started but not used), with the abuse limits raised so that capacity,
//! not policy, is measured. The peer is started here: a `redis-server` on a free port and
//! three `node server.js` processes. The generator talks to the instances directly on both
//! stacks, so no load balancer sits in either path.
//!
//! For the Redis scale test, Switchboard also comes up on a Redis Cluster instead of its one
//! Redis: `scripts/cluster up --name bench-redis-cluster --redis-cluster`, which runs
//! `scripts/redis-cluster up .run/bench-redis-cluster/redis-cluster` (6 nodes: 3 masters,
//! 3 replicas) and gives every instance that directory's `url` as `REDIS_URL`; `down` stops
//! it with `scripts/redis-cluster down`. Same script, same settings, same instances as the
//! one-Redis stack: only the Redis differs.

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
    /// What its instances store in and publish through.
    pub redis: Redis,
    /// Its Redis's process ids: one `redis-server`, or every node of a Redis Cluster (replicas
    /// included: they do work too).
    pub redis_pids: Vec<u32>,
    /// `REDIS_WAIT_REPLICAS` of a Switchboard stack: replicas that confirm a send before its ack.
    pub wait_replicas: u32,
    root: PathBuf,
    children: Vec<Child>,
    redis_dir: Option<PathBuf>,
    /// The `scripts/cluster --name` a Switchboard stack was started with (`None`: the peer).
    cluster_name: Option<&'static str>,
}

/// The Redis behind a stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Redis {
    /// One `redis-server`.
    One,
    /// A Redis Cluster from `scripts/redis-cluster`: 3 masters, one replica each.
    Cluster,
}

impl Redis {
    /// How reports name it.
    pub fn label(self) -> &'static str {
        match self {
            Redis::One => "one Redis",
            Redis::Cluster => "Redis Cluster 3 masters",
        }
    }
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

/// `scripts/cluster --name` of Switchboard's stack on one Redis (the one every scenario uses).
const CLUSTER_NAME: &str = "bench";
/// `scripts/cluster --name` of Switchboard's stack on a Redis Cluster (the Redis scale test);
/// a name of its own, so it can run while the other is up.
const REDIS_CLUSTER_NAME: &str = "bench-redis-cluster";

impl Stack {
    /// Starts `proto`'s stack with `instances` instances; `profile` is the server build
    /// (`debug` or `release`) for Switchboard.
    pub async fn start(proto: Proto, root: &Path, profile: &str, instances: usize) -> Result<Stack> {
        match proto {
            Proto::Ours => start_ours(root, profile, instances, Redis::One, 0).await,
            Proto::Peer => start_peer(root, instances).await,
        }
    }

    /// Starts Switchboard's stack with `instances` instances on a Redis Cluster (6 nodes,
    /// 3 masters) instead of one Redis, acknowledging a send only once `wait_replicas`
    /// replicas have it (`REDIS_WAIT_REPLICAS`); `stop` stops the cluster too.
    pub async fn start_ours_on_redis_cluster(
        root: &Path,
        profile: &str,
        instances: usize,
        wait_replicas: u32,
    ) -> Result<Stack> {
        start_ours(root, profile, instances, Redis::Cluster, wait_replicas).await
    }

    /// Its name in the log: the proto's, and the Redis when it is a cluster (with its `WAIT`).
    pub fn label(&self) -> String {
        match (self.redis, self.wait_replicas) {
            (Redis::One, _) => self.proto.label().to_owned(),
            (Redis::Cluster, 0) => format!("{} on {}", self.proto.label(), self.redis.label()),
            (Redis::Cluster, n) => format!("{} on {}, WAIT {n}", self.proto.label(), self.redis.label()),
        }
    }

    /// The instances' base URLs.
    pub fn urls(&self) -> Vec<String> {
        self.instances.iter().map(|i| i.url.clone()).collect()
    }

    /// Process ids of every server process and its Redis (every node of a Redis Cluster).
    pub fn all_pids(&self) -> Vec<u32> {
        self.instances.iter().map(|i| i.pid).chain(self.redis_pids.iter().copied()).collect()
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
        if let Some(name) = self.cluster_name {
            cluster_down(&self.root, name).await?;
        }
        Ok(())
    }
}

/// `scripts/cluster down --name NAME` (which also runs `scripts/redis-cluster down` on the
/// Redis Cluster it started, if any).
async fn cluster_down(root: &Path, name: &str) -> Result<()> {
    let status =
        Command::new(root.join("scripts/cluster")).args(["down", "--name", name]).current_dir(root).status().await?;
    if !status.success() {
        bail!("scripts/cluster down --name {name} failed: {status}");
    }
    Ok(())
}

async fn start_ours(root: &Path, profile: &str, instances: usize, redis: Redis, wait_replicas: u32) -> Result<Stack> {
    let name = match redis {
        Redis::One => CLUSTER_NAME,
        Redis::Cluster => REDIS_CLUSTER_NAME,
    };
    let mut up = Command::new(root.join("scripts/cluster"));
    up.args(["up", "--name", name, "--instances", &instances.to_string()]);
    if redis == Redis::Cluster {
        up.arg("--redis-cluster");
    }
    up.env("REDIS_WAIT_REPLICAS", wait_replicas.to_string());
    let status = up.envs(OUR_SETTINGS).env("PROFILE", profile).current_dir(root).stdout(Stdio::null()).status().await?;
    let stack = if status.success() {
        read_ours(root, name, instances, redis, wait_replicas)
    } else {
        Err(anyhow::anyhow!("scripts/cluster up --name {name} failed: {status}"))
    };
    match stack {
        Ok(stack) => Ok(stack),
        Err(e) => {
            // Whatever `up` got to start (instances, Redis nodes) is stopped before giving up.
            let _ = cluster_down(root, name).await;
            Err(e)
        }
    }
}

/// What `scripts/cluster up --name NAME` recorded in `.run/NAME`.
fn read_ours(root: &Path, name: &'static str, instances: usize, redis: Redis, wait_replicas: u32) -> Result<Stack> {
    let run = root.join(".run").join(name);
    let read = |file: &str| -> Result<String> {
        Ok(std::fs::read_to_string(run.join(file)).with_context(|| format!("reading {file}"))?.trim().to_owned())
    };
    let mut list = Vec::new();
    for i in 1..=instances {
        let port = read(&format!("app-{i}.port"))?;
        let pid = read(&format!("app-{i}.pid"))?.parse()?;
        list.push(Instance { url: format!("http://127.0.0.1:{port}"), pid });
    }
    // The REDIS_URL every instance was given.
    let url = read("redis.url")?;
    let redis_pids = match redis {
        Redis::One => vec![read("redis.pid")?.parse()?],
        Redis::Cluster => {
            if !url.starts_with("redis+cluster://") {
                bail!("{name}: the instances got REDIS_URL={url}, not a Redis Cluster");
            }
            // scripts/redis-cluster records each node as redis-PORT.pid in its directory.
            let dir = run.join("redis-cluster");
            let mut pids = Vec::new();
            for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
                let file = entry?.file_name();
                let file = file.to_string_lossy();
                if file.starts_with("redis-") && file.ends_with(".pid") {
                    pids.push(read(&format!("redis-cluster/{file}"))?.parse()?);
                }
            }
            if pids.is_empty() {
                bail!("no redis-*.pid in {}", dir.display());
            }
            pids.sort_unstable();
            pids
        }
    };
    Ok(Stack {
        proto: Proto::Ours,
        instances: list,
        redis,
        redis_pids,
        wait_replicas,
        root: root.to_owned(),
        children: Vec::new(),
        redis_dir: None,
        cluster_name: Some(name),
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
        redis: Redis::One,
        redis_pids: vec![redis_pid],
        wait_replicas: 0,
        root: root.to_owned(),
        children,
        redis_dir: Some(redis_dir),
        cluster_name: None,
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
