//! Configuration, from command-line flags or environment variables.
//!
//! Every setting has an environment variable so the cluster script, the
//! Dockerfile and an operator's unit file can configure instances the same way;
//! `--help` lists them all. Every value is checked when it is read: a bad one stops the instance
//! with one line naming the variable ([`Config::load`]). Leptos' own settings (`LEPTOS_SITE_ROOT`,
//! `LEPTOS_OUTPUT_NAME`, ...) are read by Leptos itself, not here.

mod parse;

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

/// The settings of one Switchboard instance.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "switchboard-server",
    version,
    about = "Switchboard chat server: one instance of a horizontally scaled cluster"
)]
pub struct Config {
    /// Address to listen on (port 0 picks a free port). Defaults to Leptos' LEPTOS_SITE_ADDR.
    #[arg(long, env = "LISTEN_ADDR", value_name = "LISTEN_ADDR")]
    pub listen: Option<SocketAddr>,

    /// Redis URL, e.g. redis://127.0.0.1:6379/0, or a Redis Cluster by seed nodes,
    /// redis+cluster://host:port,host:port/. Without it the instance runs alone on an in-memory backend.
    #[arg(long, env = "REDIS_URL", value_parser = parse::redis_url)]
    pub redis_url: Option<String>,

    /// PostgreSQL URL of the message store, the system of record for every conversation
    /// (postgres://user:password@host:5432/db). Without it an instance on Redis keeps only each
    /// room's recent history (HISTORY_CAP), and one without Redis keeps its history in SQLite
    /// under DATA_DIR.
    #[arg(long, env = "DATABASE_URL", value_parser = parse::database_url)]
    pub database_url: Option<String>,

    /// Directory of the embedded default's files (the SQLite message store, `history.sqlite3`),
    /// used when neither REDIS_URL nor DATABASE_URL is set. Relative to the working directory.
    #[arg(long, env = "DATA_DIR", default_value = "data")]
    pub data_dir: Option<std::path::PathBuf>,

    /// Remove messages older than this many days (0: keep forever).
    #[arg(long, env = "RETENTION_DAYS", default_value_t = 0)]
    pub retention_days: u64,

    /// Keep only each room's newest this many messages (0: no limit). At least HISTORY_CAP, so
    /// the recent history a join shows is never more than the store keeps.
    #[arg(long, env = "RETENTION_MESSAGES", default_value_t = 0)]
    pub retention_messages: u64,

    /// Acknowledge a message only once this many replicas of its Redis node confirmed it (`WAIT`),
    /// so a failover loses nothing acknowledged. 0 acknowledges once the primary stored it.
    #[arg(long, env = "REDIS_WAIT_REPLICAS", default_value_t = 0)]
    pub redis_wait_replicas: u32,

    /// How long a send waits for those replicas; a send not confirmed in time is not acknowledged
    /// (the client's outbox sends it again, and the retry is deduplicated).
    #[arg(long, env = "REDIS_WAIT_TIMEOUT_MS", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub redis_wait_timeout_ms: u64,

    /// This instance's id, shown in the page footer and in the `welcome` frame. Defaults to the host name and port.
    #[arg(long, env = "INSTANCE_ID", value_parser = parse::instance_id)]
    pub instance_id: Option<String>,

    /// Name of the session cookie.
    #[arg(long, env = "COOKIE_NAME", default_value = "jsessionid", value_parser = parse::cookie_name)]
    pub cookie_name: String,

    /// Mark the session cookie `Secure` (set this when the site is served over TLS).
    #[arg(long, env = "COOKIE_SECURE", default_value_t = false, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub cookie_secure: bool,

    /// Prefix of every Redis key and channel, so several deployments can share one Redis.
    #[arg(long, env = "REDIS_PREFIX", default_value = "sb:", value_parser = parse::redis_prefix)]
    pub redis_prefix: String,

    /// Origins allowed to open the websocket, comma-separated (e.g. https://chat.example.com).
    /// The page's own origin (the request's Host) is always allowed.
    #[arg(long, env = "ALLOWED_ORIGINS", value_delimiter = ',', value_parser = parse::origin)]
    pub allowed_origins: Vec<String>,

    /// Idle time after which a session expires, in seconds (sliding: each visit renews it).
    #[arg(long, env = "SESSION_TTL_SECS", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(60..))]
    pub session_ttl_secs: u64,

    /// How often the instance checks (and renews) the sessions of its open sockets, in seconds;
    /// an expired or deleted session closes its sockets and sends the pages to the login screen.
    #[arg(long, env = "SESSION_CHECK_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub session_check_secs: u64,

    /// Number of recent messages a room shows on join.
    #[arg(long, env = "HISTORY_ON_JOIN", default_value_t = 50)]
    pub history_on_join: usize,

    /// Messages kept per room (the stream is trimmed to about this length).
    #[arg(long, env = "HISTORY_CAP", default_value_t = 1000, value_parser = parse::at_least(1))]
    pub history_cap: usize,

    /// Longest chat message, in characters.
    #[arg(long, env = "MAX_MESSAGE_CHARS", default_value_t = protocol::DEFAULT_MAX_MESSAGE_CHARS, value_parser = parse::at_least(1))]
    pub max_message_chars: usize,

    /// Largest websocket frame accepted, in bytes; bigger frames close the socket with 1009.
    #[arg(long, env = "MAX_FRAME_BYTES", default_value_t = 16 * 1024, value_parser = parse::at_least(256))]
    pub max_frame_bytes: usize,

    /// Login attempts allowed per user name per 15 minutes (all instances together).
    #[arg(long, env = "LOGIN_ATTEMPTS_PER_NAME", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub login_attempts_per_name: u64,

    /// Login and registration attempts allowed per client address per 15 minutes.
    #[arg(long, env = "AUTH_ATTEMPTS_PER_CLIENT", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub auth_attempts_per_client: u64,

    /// Chat messages allowed per user per 10 seconds (all sockets and instances together).
    #[arg(long, env = "SENDS_PER_10S", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub sends_per_10s: u64,

    /// Frames a socket may send per second (sustained; bursts of twice that); a flood is closed with 1008.
    #[arg(long, env = "FRAMES_PER_SECOND", default_value_t = 40, value_parser = clap::value_parser!(u32).range(1..))]
    pub frames_per_second: u32,

    /// Open websockets allowed per user on one instance; more are closed with 1008.
    #[arg(long, env = "MAX_SOCKETS_PER_USER", default_value_t = 20, value_parser = parse::at_least(1))]
    pub max_sockets_per_user: usize,

    /// Take the client address from `X-Forwarded-For` (set this when behind a load balancer you run).
    #[arg(long, env = "TRUST_FORWARDED_FOR", default_value_t = false, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub trust_forwarded_for: bool,

    /// A closed socket's user stays present this long, so a reconnect is neither a leave nor a join.
    #[arg(long, env = "PRESENCE_GRACE_MS", default_value_t = 5_000)]
    pub presence_grace_ms: u64,

    /// Frames a socket may have queued before its client counts as too slow (closed with 4008).
    #[arg(long, env = "SOCKET_QUEUE", default_value_t = 256, value_parser = parse::at_least(1))]
    pub socket_queue: usize,

    /// Bytes a socket may have waiting to be written (queued frames and history pages); a live
    /// event beyond it closes the socket with 4008, a history page waits for room.
    #[arg(long, env = "SOCKET_QUEUE_BYTES", default_value_t = 1024 * 1024, value_parser = parse::at_least(1024))]
    pub socket_queue_bytes: usize,

    /// A websocket write that cannot complete in this many seconds (the client stopped
    /// reading) ends the connection, freeing its buffers.
    #[arg(long, env = "WRITE_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub write_timeout_secs: u64,

    /// A socket that wrote less than this many milliseconds ago waits until then before it
    /// writes again, and writes everything that queued meanwhile at once (0: never waits). Only
    /// busy sockets wait; it turns a firehose's one system call per frame into one per batch.
    #[arg(long, env = "WRITE_COALESCE_MS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=1000))]
    pub write_coalesce_ms: u64,

    /// The kernel send buffer of each connection, in bytes (Linux doubles it; 0 keeps the
    /// kernel's autotuning, which lets a client that stops reading pin megabytes).
    #[arg(long, env = "SOCKET_SEND_BUFFER_BYTES", default_value_t = 256 * 1024)]
    pub socket_send_buffer_bytes: usize,

    /// Rooms one user may be in at once; joining one more answers `too_many_rooms`.
    #[arg(long, env = "MAX_ROOMS_PER_USER", default_value_t = 200, value_parser = parse::at_least(1))]
    pub max_rooms_per_user: usize,

    /// Password hashes (argon2id, 19 MiB each) an instance runs at once.
    #[arg(long, env = "HASH_CONCURRENCY", default_value_t = 2, value_parser = parse::at_least(1))]
    pub hash_concurrency: usize,

    /// Logins and registrations that may wait for a hashing slot; beyond it (or after 5 s of
    /// waiting) the answer is 503 "busy, try again".
    #[arg(long, env = "HASH_QUEUE", default_value_t = 16)]
    pub hash_queue: usize,

    /// On SIGTERM, keep serving this long after /readyz turned 503 (at least one health-check interval).
    #[arg(long, env = "DRAIN_GRACE_MS", default_value_t = 2_000)]
    pub drain_grace_ms: u64,

    /// On drain, sockets are told to reconnect after a random delay of up to this.
    #[arg(long, env = "DRAIN_SPREAD_MS", default_value_t = 3_000)]
    pub drain_spread_ms: u64,

    /// On drain, exit after this many seconds even if sockets remain.
    #[arg(long, env = "DRAIN_DEADLINE_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub drain_deadline_secs: u64,

    // Operating (see `telemetry`).
    /// Log format: `text` for people, `json` (one object per line, with span fields) for log pipelines.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Serve `/metrics` (Prometheus) on this address only, apart from the public listener; without
    /// it `/metrics` is served on the public listener (the shipped HAProxy config refuses it).
    #[arg(long, env = "METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    // Connection hygiene (see `serve`).
    /// Seconds a client has to send a request's headers; an idle keep-alive connection is closed
    /// after this too. Stops a client holding connections open by trickling bytes (slowloris).
    #[arg(long, env = "HEADER_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_secs: u64,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Config {
    /// Reads the settings from the command line and the environment. A bad value ends the
    /// process with one line naming the setting and what is wrong (exit code 2); `--help` and
    /// `--version` print and exit 0.
    pub fn load() -> Self {
        match Self::try_parse() {
            Ok(config) => config,
            Err(err) if !err.use_stderr() => err.exit(),
            Err(err) => {
                let rendered = err.render().to_string();
                let line = rendered.lines().next().unwrap_or("invalid configuration");
                eprintln!("switchboard-server: {}", line.trim_start_matches("error: "));
                std::process::exit(2);
            }
        }
    }

    /// The session time-to-live as a [`Duration`].
    pub fn session_ttl(&self) -> Duration {
        Duration::from_secs(self.session_ttl_secs.max(60))
    }

    /// The rate-limit policy.
    pub fn limits(&self) -> crate::ratelimit::Limits {
        use crate::ratelimit::Limit;
        let quarter_hour = Duration::from_secs(15 * 60);
        crate::ratelimit::Limits {
            login_per_name: Limit { max: self.login_attempts_per_name, window: quarter_hour },
            auth_per_client: Limit { max: self.auth_attempts_per_client, window: quarter_hour },
            sends_per_user: Limit { max: self.sends_per_10s, window: Duration::from_secs(10) },
        }
    }

    /// The drain timings.
    pub fn drain_timings(&self) -> crate::drain::DrainTimings {
        crate::drain::DrainTimings {
            grace: Duration::from_millis(self.drain_grace_ms),
            spread: Duration::from_millis(self.drain_spread_ms),
            deadline: Duration::from_secs(self.drain_deadline_secs),
        }
    }

    /// How long conversation is kept.
    pub fn retention(&self) -> crate::store::Retention {
        crate::store::Retention {
            max_age: (self.retention_days > 0).then(|| Duration::from_secs(self.retention_days.saturating_mul(86_400))),
            max_messages: (self.retention_messages > 0).then_some(self.retention_messages),
        }
    }

    /// What a send waits for before it is acknowledged.
    pub fn durability(&self) -> crate::broker::Durability {
        crate::broker::Durability {
            replicas: self.redis_wait_replicas,
            timeout: Duration::from_millis(self.redis_wait_timeout_ms),
        }
    }

    /// How long a client has to send a request's headers.
    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout_secs.max(1))
    }

    /// A configuration for tests and embedding: defaults everywhere, memory backend, port 0.
    pub fn for_tests() -> Self {
        let mut config = Self::parse_from(["switchboard-server"]);
        config.listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        config.redis_url = None;
        config.database_url = None;
        config.data_dir = None;
        config.drain_grace_ms = 0;
        config.drain_spread_ms = 200;
        config.drain_deadline_secs = 5;
        config.presence_grace_ms = 300;
        config.session_check_secs = 1;
        // Tests drive traffic far beyond a person's; those that test a limit set it.
        config.sends_per_10s = 1_000_000;
        config.frames_per_second = 1_000_000;
        config.auth_attempts_per_client = 1_000_000;
        config.login_attempts_per_name = 1_000;
        config
    }
}
