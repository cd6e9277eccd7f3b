//! The integration-test harness: a real `redis-server` on a free port (killed
//! on drop), Switchboard instances on port 0 in this process, and a client that
//! logs in over HTTP with a cookie jar and speaks the websocket protocol.
#![allow(dead_code)]

/// Instantiates a contract suite: every test (a function taking what a backend factory makes)
/// listed once, for each backend factory named in brackets —
/// `contract_tests!([memory, redis]: test_a, test_b)` makes `memory::test_a`, `redis::test_a`, ….
/// `contract_tests!(memory: test_a)` instantiates the list for one factory.
#[allow(unused_macros)]
macro_rules! contract_tests {
    ([$($backend:ident),+ $(,)?]: $($test:ident),* $(,)?) => {
        contract_tests!(@each [$($backend),+] [$($test),*]);
    };
    (@each [$backend:ident $(, $rest:ident)*] $tests:tt) => {
        contract_tests!(@one $backend $tests);
        contract_tests!(@each [$($rest),*] $tests);
    };
    (@each [] $tests:tt) => {};
    (@one $backend:ident [$($test:ident),*]) => {
        mod $backend {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(super::$backend().await).await;
                }
            )*
        }
    };
    ($backend:ident: $($test:ident),* $(,)?) => {
        contract_tests!(@one $backend [$($test),*]);
    };
}

/// Waits until `ready` holds, checking every 50 ms; panics with `what` after `within`.
pub async fn wait_until<F, Fut>(within: Duration, what: &str, mut ready: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while !ready().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out after {within:?} waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `start` on a thread that lives as long as the test process and returns what it made:
/// servers started there with `PR_SET_PDEATHSIG` die with that thread, so with the process,
/// however the tests end (a shared server is never dropped).
pub fn started_for_the_whole_run<T: Send + 'static>(start: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(start());
        loop {
            std::thread::park();
        }
    });
    rx.recv().expect("started")
}

mod cluster;
mod databases;
pub mod events;
mod postgres;
mod socket;

#[allow(unused_imports)] // each test crate uses part of the harness
pub use cluster::{RedisCluster, connect, shared_cluster, unique_prefix};
#[allow(unused_imports)] // each test crate uses part of the harness
pub use databases::{Database, postgres_database, sqlite_database};
#[allow(unused_imports)] // each test crate uses part of the harness
pub use postgres::{Postgres, shared_postgres};
#[allow(unused_imports)] // each test crate uses part of the harness
pub use socket::{Raw, Socket};

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use leptos::prelude::LeptosOptions;
use reqwest::cookie::{CookieStore, Jar};
use switchboard::Server;
use switchboard::backend::Backend;
use switchboard::config::Config;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

/// How long a test waits for anything before it fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// A `redis-server` child process on a free port with its own data directory
/// (AOF on, so a restart keeps the data, as in production); killed and removed on drop.
pub struct RedisServer {
    port: u16,
    dir: std::path::PathBuf,
    child: Option<Child>,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl RedisServer {
    /// Starts Redis and waits until it answers.
    pub async fn start() -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("switchboard-test-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("redis data dir");
        let mut redis = Self { port, dir, child: None };
        redis.spawn().await;
        redis
    }

    async fn spawn(&mut self) {
        let dir = self.dir.to_string_lossy().into_owned();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--dir", &dir])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server must be installed (scripts/test installs it)");
        self.child = Some(child);
        let client = redis::Client::open(self.url()).expect("url");
        for _ in 0..100 {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING").query_async::<String>(&mut conn).await.is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    /// The Redis URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills Redis (SIGKILL) and starts it again on the same port from its append-only file.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.spawn().await;
    }

    /// Kills Redis (SIGKILL); [`RedisServer::resume`] starts it again.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts a stopped Redis again on the same port and data.
    pub async fn resume(&mut self) {
        self.spawn().await;
    }
}

/// Leptos settings for in-process instances (the static site is not needed).
pub fn leptos_options() -> LeptosOptions {
    LeptosOptions::builder().output_name("switchboard").site_root("target/site").build()
}

/// The instances of a test that puts users on two of them: on the memory backend one instance
/// stands for both; on Redis two instances share a Redis started for the test (so what one user
/// does on one instance must reach the other user through Redis).
pub struct Pair {
    /// The first instance.
    pub a: Instance,
    second: Option<Instance>,
    _redis: Option<RedisServer>,
}

impl Pair {
    /// One instance on the memory backend.
    pub async fn memory() -> Self {
        Self { a: Instance::start(None, "solo").await, second: None, _redis: None }
    }

    /// Two instances on a fresh Redis.
    pub async fn redis() -> Self {
        let redis = RedisServer::start().await;
        let a = Instance::start(Some(&redis.url()), "app-a").await;
        let b = Instance::start(Some(&redis.url()), "app-b").await;
        Self { a, second: Some(b), _redis: Some(redis) }
    }

    /// The second instance (the first, on the memory backend).
    pub fn b(&self) -> &Instance {
        self.second.as_ref().unwrap_or(&self.a)
    }
}

/// A Switchboard instance running in this process.
pub struct Instance {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Where `/metrics` is served when it has a listener of its own (`METRICS_ADDR`).
    pub metrics_addr: Option<SocketAddr>,
    /// Its id.
    pub id: String,
    shutdown: CancellationToken,
    /// The drain state of an in-process instance (counts its open sockets).
    drain: Option<switchboard::drain::Drain>,
    /// The serving task, for instances in this process (`None` for a view of a child process).
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Instance {
    /// Starts an instance on `redis_url` (or the memory backend when `None`).
    pub async fn start(redis_url: Option<&str>, id: &str) -> Self {
        let mut config = Config::for_tests();
        config.redis_url = redis_url.map(str::to_owned);
        config.instance_id = Some(id.to_owned());
        Self::start_with(config, None).await
    }

    /// Starts an instance with a given configuration and, optionally, a shared backend.
    pub async fn start_with(config: Config, backend: Option<Backend>) -> Self {
        capture_logs();
        let server = match backend {
            Some(backend) => Server::with_backend(config, leptos_options(), backend).await,
            None => Server::build(config, leptos_options()).await,
        }
        .expect("instance starts");
        let addr = server.local_addr();
        let metrics_addr = server.metrics_addr();
        let id = server.instance().to_owned();
        let shutdown = server.shutdown_token();
        let drain = Some(server.drain());
        let task = tokio::spawn(async move {
            let _ = server.run().await;
        });
        Self { addr, metrics_addr, id, shutdown, drain, task: Some(task) }
    }

    /// The base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Whether `/readyz` answers 200.
    pub async fn is_ready(&self) -> bool {
        let url = format!("{}/readyz", self.url());
        matches!(reqwest::get(url).await, Ok(r) if r.status().is_success())
    }

    /// Waits until `/readyz` says `ready` (panics after [`PATIENCE`]).
    pub async fn wait_ready(&self, ready: bool) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while self.is_ready().await != ready {
            assert!(tokio::time::Instant::now() < deadline, "{} never became ready={ready}", self.id);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The websockets this in-process instance holds open now (its socket tasks still running).
    pub fn open_sockets(&self) -> usize {
        self.drain.as_ref().map_or(0, switchboard::drain::Drain::open_sockets)
    }

    /// Waits until the instance holds no open websocket; `false` if that did not happen within `wait`.
    pub async fn sockets_closed_within(&self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        while self.open_sockets() > 0 {
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        true
    }

    /// Starts the drain (as SIGTERM does) without waiting for it.
    pub fn begin_drain(&self) {
        self.shutdown.cancel();
    }

    /// Whether the instance has stopped serving.
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(tokio::task::JoinHandle::is_finished)
    }

    /// Shuts the instance down and waits until it stopped.
    pub async fn stop(self) {
        self.shutdown.cancel();
        if let Some(task) = self.task {
            let _ = tokio::time::timeout(PATIENCE, task).await;
        }
    }
}

/// Sends what in-process instances log (`info` and up, or `RUST_LOG`) to the test's captured
/// output: a failing test prints what its instances said before it failed (a request that
/// never answered, a Redis error), a passing one prints nothing.
fn capture_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,switchboard=info,switchboard_app=info"));
    // The first test of the binary installs it; the others find it there.
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
}

/// Starts an instance in this process on `redis` with the test configuration as `tune` changes it.
pub async fn tuned(redis: &RedisServer, id: &str, tune: impl FnOnce(&mut Config)) -> Instance {
    let mut config = Config::for_tests();
    config.redis_url = Some(redis.url());
    config.instance_id = Some(id.into());
    tune(&mut config);
    Instance::start_with(config, None).await
}

/// A Switchboard instance as a real child process (the built binary), for SIGKILL tests.
pub struct ProcessInstance {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
}

impl ProcessInstance {
    /// Starts the server binary on a free port against `redis_url`.
    pub async fn start(redis_url: &str, id: &str) -> Self {
        Self::start_with_env(redis_url, id, &[]).await
    }

    /// Like [`ProcessInstance::start`], with more environment (e.g. `DATABASE_URL`).
    pub async fn start_with_env(redis_url: &str, id: &str, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_switchboard-server"))
            .envs(env.iter().copied())
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("REDIS_URL", redis_url)
            .env("INSTANCE_ID", id)
            .env("LEPTOS_OUTPUT_NAME", "switchboard")
            .env("LEPTOS_SITE_ROOT", "target/site")
            .env("RUST_LOG", "warn")
            // As Config::for_tests: tests drive more traffic than a person; limits have their own tests.
            .env("SENDS_PER_10S", "1000000")
            .env("FRAMES_PER_SECOND", "1000000")
            .env("AUTH_ATTEMPTS_PER_CLIENT", "1000000")
            .env("PRESENCE_GRACE_MS", "300")
            .kill_on_drop(true)
            .spawn()
            .expect("server binary runs");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let instance = Self { addr, child };
        let url = format!("{}/readyz", instance.as_instance().url());
        for _ in 0..200 {
            if matches!(reqwest::get(&url).await, Ok(r) if r.status().is_success()) {
                return instance;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("instance {id} did not become ready");
    }

    /// A view of this process usable wherever an [`Instance`] is (its address; stopping it is `kill`).
    pub fn as_instance(&self) -> Instance {
        Instance {
            addr: self.addr,
            metrics_addr: None,
            id: String::new(),
            shutdown: CancellationToken::new(),
            drain: None,
            task: None,
        }
    }

    /// SIGKILL: the process dies without a word, as in a crash.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }
}

/// The password the helpers register users with.
pub const PASSWORD: &str = "correct horse battery";

/// Registers `name` on `instance`, opens its websocket and joins `general`.
pub async fn chatter(instance: &Instance, name: &str) -> (Browser, Socket) {
    let browser = Browser::new();
    assert!(browser.register(instance, name, PASSWORD).await.is_success(), "register {name}");
    let mut socket = browser.socket(instance).await.expect("admitted");
    socket.join("general").await;
    (browser, socket)
}

/// A user's browser, minus the browser: a cookie jar and HTTP calls.
pub struct Browser {
    jar: Arc<Jar>,
    http: reqwest::Client,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    /// A browser with an empty cookie jar.
    pub fn new() -> Self {
        let jar = Arc::new(Jar::default());
        // A request that never ends fails the test with a reason instead of stalling the suite.
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PATIENCE.max(Duration::from_secs(60)))
            .build()
            .expect("http client");
        Self { jar, http }
    }

    /// POSTs a server function form; returns the status.
    pub async fn call(&self, instance: &Instance, endpoint: &str, form: &[(&str, &str)]) -> reqwest::StatusCode {
        let url = format!("{}/api/{endpoint}", instance.url());
        self.http.post(url).form(form).send().await.expect("server fn answers").status()
    }

    /// POSTs a server function form; returns the status and the body.
    pub async fn call_text(
        &self,
        instance: &Instance,
        endpoint: &str,
        form: &[(&str, &str)],
    ) -> (reqwest::StatusCode, String) {
        let url = format!("{}/api/{endpoint}", instance.url());
        let response = self.http.post(url).form(form).send().await.expect("server fn answers");
        let status = response.status();
        (status, response.text().await.unwrap_or_default())
    }

    /// Registers (and so logs in) `name`.
    pub async fn register(&self, instance: &Instance, name: &str, password: &str) -> reqwest::StatusCode {
        self.call(instance, "register", &[("name", name), ("password", password)]).await
    }

    /// Logs in as `name`.
    pub async fn login(&self, instance: &Instance, name: &str, password: &str) -> reqwest::StatusCode {
        self.call(instance, "login", &[("name", name), ("password", password)]).await
    }

    /// GETs a path; returns status and body.
    pub async fn get(&self, instance: &Instance, path: &str) -> (reqwest::StatusCode, String) {
        let response = self.http.get(format!("{}{path}", instance.url())).send().await.expect("GET answers");
        let status = response.status();
        (status, response.text().await.unwrap_or_default())
    }

    /// The `Cookie` header this browser sends to `instance`.
    pub fn cookie(&self, instance: &Instance) -> Option<String> {
        let url = instance.url().parse().expect("url");
        self.jar.cookies(&url).and_then(|v| v.to_str().ok().map(str::to_owned))
    }

    /// The `Cookie` header this browser sends to `path` on `instance`.
    pub fn cookies_at(&self, instance: &Instance, path: &str) -> Option<String> {
        let url = format!("{}{path}", instance.url()).parse().expect("url");
        self.jar.cookies(&url).and_then(|v| v.to_str().ok().map(str::to_owned))
    }

    /// Replaces the cookies for `instance` with a raw `name=value` pair.
    pub fn set_cookie(&self, instance: &Instance, cookie: &str) {
        let url = instance.url().parse().expect("url");
        self.jar.add_cookie_str(&format!("{cookie}; Path=/"), &url);
    }

    /// Opens the chat websocket with this browser's cookies and the instance's own Origin.
    pub async fn socket(&self, instance: &Instance) -> Result<Socket, u16> {
        let origin = instance.url();
        Socket::connect(instance, self.cookie(instance).as_deref(), Some(&origin)).await
    }
}

/// Every value stored under `prefix` (strings, hashes, streams), as one text: what a test
/// searches for words that must be gone. Works on one server and on a cluster (`KEYS` is
/// asked of every primary).
pub async fn dump_prefix(conn: &mut switchboard::redis_conn::RedisConn, prefix: &str) -> String {
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(conn).await.expect("keys");
    let mut text = String::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query_async(conn).await.expect("type");
        let value: redis::Value = match kind.as_str() {
            "string" => redis::cmd("GET").arg(&key).query_async(conn).await,
            "hash" => redis::cmd("HGETALL").arg(&key).query_async(conn).await,
            "stream" => redis::cmd("XRANGE").arg(&key).arg("-").arg("+").query_async(conn).await,
            "set" => redis::cmd("SMEMBERS").arg(&key).query_async(conn).await,
            "zset" => redis::cmd("ZRANGE").arg(&key).arg(0).arg(-1).query_async(conn).await,
            _ => continue,
        }
        .expect("value");
        text.push_str(&format!("{key} = {value:?}\n"));
    }
    text
}
