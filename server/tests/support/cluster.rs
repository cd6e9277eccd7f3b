//! A real Redis Cluster for tests: six `redis-server` processes (three masters, three
//! replicas) on free ports, joined by `redis-cli --cluster create`.
//!
//! Most tests share one cluster per test binary ([`shared_cluster`]) and keep apart by key
//! prefix ([`unique_prefix`]); a test that kills a node starts its own ([`RedisCluster::start`]).
//! A cluster owned by a test is killed when it is dropped (panics included); the shared one is
//! never dropped, so its servers are started with `PR_SET_PDEATHSIG` from a thread that lives
//! as long as the test process: none outlives the tests, however they end.

use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use switchboard::redis_conn::{RedisConn, RedisTarget, key_slot};

/// A running cluster; its servers are killed and their data removed on drop.
pub struct RedisCluster {
    ports: Vec<u16>,
    buses: Vec<u16>,
    children: Vec<Option<Child>>,
    dir: std::path::PathBuf,
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The cluster every test of this binary may share (started on first use).
pub fn shared_cluster() -> &'static RedisCluster {
    static SHARED: OnceLock<RedisCluster> = OnceLock::new();
    SHARED.get_or_init(|| super::started_for_the_whole_run(|| RedisCluster::start_blocking(true)))
}

/// A key prefix no other test of this process uses.
pub fn unique_prefix() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("t{}:", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A command connection to `url` (a single server or a cluster), as the server makes it.
pub async fn connect(url: &str) -> RedisConn {
    RedisTarget::parse(url).expect("valid url").connect().await.expect("redis up")
}

impl RedisCluster {
    /// Starts a cluster owned by the caller (killed on drop).
    pub async fn start() -> Self {
        // Not tied to the (short-lived) blocking thread: dropping the cluster kills its servers.
        tokio::task::spawn_blocking(|| Self::start_blocking(false)).await.expect("cluster start")
    }

    /// Starts the six servers; with `die_with_thread`, each dies with the calling thread. A start
    /// that does not come up (a port taken between choosing and binding it, by another test's
    /// server) is thrown away and tried again on other ports.
    fn start_blocking(die_with_thread: bool) -> Self {
        let mut last = String::new();
        for _ in 0..3 {
            match Self::try_start(die_with_thread) {
                Ok(cluster) => return cluster,
                Err(why) => last = why,
            }
        }
        panic!("redis cluster did not start in three tries: {last}");
    }

    fn try_start(die_with_thread: bool) -> Result<Self, String> {
        let ports: Vec<u16> = (0..6).map(|_| super::free_port()).collect();
        // The cluster bus port defaults to port + 10000, which a free port above 55535 cannot have.
        let buses: Vec<u16> = (0..6).map(|_| super::free_port()).collect();
        let dir = std::env::temp_dir().join(format!("switchboard-test-cluster-{}-{}", std::process::id(), ports[0]));
        let children =
            ports.iter().zip(&buses).map(|(&port, &bus)| Some(spawn_node(&dir, port, bus, die_with_thread))).collect();
        let cluster = Self { ports, buses, children, dir };
        for &port in &cluster.ports {
            if !wait_for(Duration::from_secs(10), || cli(port, &["PING"]).is_some_and(|out| out.trim() == "PONG")) {
                return Err(format!("node {port} never answered"));
            }
        }
        let nodes: Vec<String> = cluster.ports.iter().map(|port| format!("127.0.0.1:{port}")).collect();
        let status = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&nodes)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::null())
            .status()
            .expect("redis-cli must be installed (scripts/test installs redis-server)");
        if !status.success() {
            return Err("redis-cli --cluster create failed".into());
        }
        // Healthy means: every node sees three masters and three replicas, and every replica has
        // synced (one that never did refuses to take over in a failover).
        for &port in &cluster.ports {
            let healthy = wait_for(Duration::from_secs(30), || {
                let ok = cli(port, &["CLUSTER", "INFO"]).is_some_and(|info| info.contains("cluster_state:ok"));
                let nodes = cli(port, &["CLUSTER", "NODES"]).unwrap_or_default();
                let count = |role: &str| {
                    nodes
                        .lines()
                        .filter(|line| line.split_whitespace().nth(2).is_some_and(|f| f.contains(role)))
                        .count()
                };
                let replication = cli(port, &["INFO", "replication"]).unwrap_or_default();
                let synced = !replication.contains("role:slave") || replication.contains("master_link_status:up");
                ok && count("master") == 3 && count("slave") == 3 && synced
            });
            if !healthy {
                return Err(format!("node {port} never saw a healthy cluster"));
            }
        }
        Ok(cluster)
    }

    /// The `REDIS_URL` of the cluster: its first three nodes as seeds.
    pub fn url(&self) -> String {
        let seeds: Vec<String> = self.ports[..3].iter().map(|port| format!("127.0.0.1:{port}")).collect();
        format!("redis+cluster://{}/", seeds.join(","))
    }

    /// The port of the master that owns `key`'s slot now (asking again for up to ten seconds
    /// while the nodes' views settle, e.g. a node briefly flagged `fail?` on a loaded machine).
    pub fn master_of(&self, key: &str) -> u16 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(port) = self.try_master_of(key) {
                return port;
            }
            assert!(Instant::now() < deadline, "no live master serves {key}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn try_master_of(&self, key: &str) -> Option<u16> {
        let slot = key_slot(key.as_bytes());
        let nodes = cli(self.live_port(), &["CLUSTER", "NODES"])?;
        nodes.lines().find_map(|line| master_line_port(line, slot))
    }

    /// Kills (SIGKILL) the master owning `key`, and waits until a replica took over its slots
    /// and every surviving node sees the cluster as healthy again. Returns the killed port.
    pub async fn kill_master_of(&mut self, key: &str) -> u16 {
        let port = self.master_of(key);
        let index = self.ports.iter().position(|&p| p == port).expect("a node of ours");
        if let Some(mut child) = self.children[index].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let moved = self.try_master_of(key).is_some_and(|owner| owner != port);
            if moved
                && self
                    .live_ports()
                    .all(|p| cli(p, &["CLUSTER", "INFO"]).is_some_and(|i| i.contains("cluster_state:ok")))
            {
                return port;
            }
            assert!(tokio::time::Instant::now() < deadline, "no replica took over from {port}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Starts the node on `port` again (as an operator's supervisor would) from its data and
    /// cluster state: it rejoins as a replica of the master that replaced it. Waits until it
    /// has synced.
    pub async fn restart(&mut self, port: u16) {
        let index = self.ports.iter().position(|&p| p == port).expect("a node of ours");
        if self.children[index].is_none() {
            self.children[index] = Some(spawn_node(&self.dir, port, self.buses[index], false));
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !cli(port, &["INFO", "replication"]).is_some_and(|info| info.contains("master_link_status:up")) {
            assert!(tokio::time::Instant::now() < deadline, "node {port} did not rejoin as a synced replica");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn live_ports(&self) -> impl Iterator<Item = u16> + '_ {
        self.ports.iter().zip(&self.children).filter(|(_, child)| child.is_some()).map(|(&port, _)| port)
    }

    fn live_port(&self) -> u16 {
        self.live_ports().next().expect("a live node")
    }
}

/// The port in a `CLUSTER NODES` line of a connected master serving `slot`.
fn master_line_port(line: &str, slot: u16) -> Option<u16> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let (address, flags, link) = (fields.get(1)?, fields.get(2)?, fields.get(7)?);
    if !flags.contains("master") || flags.contains("fail") || *link != "connected" {
        return None;
    }
    let serves = fields[8..].iter().any(|range| match range.split_once('-') {
        Some((from, to)) => {
            from.parse().is_ok_and(|from: u16| from <= slot) && to.parse().is_ok_and(|to: u16| slot <= to)
        }
        None => range.parse() == Ok(slot),
    });
    let port = address.split('@').next()?.rsplit(':').next()?;
    if serves { port.parse().ok() } else { None }
}

fn spawn_node(dir: &std::path::Path, port: u16, bus: u16, die_with_thread: bool) -> Child {
    use std::os::unix::process::CommandExt;
    let data = dir.join(port.to_string());
    std::fs::create_dir_all(&data).expect("node data dir");
    let mut command = Command::new("redis-server");
    command
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes"])
        .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "2000", "--cluster-port", &bus.to_string()])
        .args(["--repl-diskless-sync-delay", "0"])
        .arg("--cluster-config-file")
        .arg(data.join("nodes.conf"))
        .arg("--dir")
        .arg(&data)
        .stdout(Stdio::null());
    if die_with_thread {
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
    }
    command.spawn().expect("redis-server must be installed (scripts/test installs it)")
}

/// `redis-cli -p port args…`, its output if it ran.
fn cli(port: u16, args: &[&str]) -> Option<String> {
    let output = Command::new("redis-cli").arg("-p").arg(port.to_string()).args(args).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

fn wait_for(within: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while !ready() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}
