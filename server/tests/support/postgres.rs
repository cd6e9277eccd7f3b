//! A real PostgreSQL for tests: Debian's `postgres` 15, a throwaway cluster made by `initdb`
//! on a free port (listening on 127.0.0.1 and a socket in its own directory).
//!
//! Most tests share one server per test binary ([`shared_postgres`]) and keep apart by
//! database ([`Postgres::fresh_database`]); a test that stops the database starts its own
//! ([`Postgres::start`]). PostgreSQL refuses to run as root, so as root the server runs as the
//! `postgres` system user (the package makes it). The shared server dies with the test
//! process (`PR_SET_PDEATHSIG` from a thread that never ends); an owned one on drop.
//! `fsync` is off (a throwaway cluster, never the product's default: a killed server still
//! leaves its writes in the page cache); commits stay synchronous, so a test that kills the
//! server sees what a crash does to acknowledged messages.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sqlx::Connection;

/// Where Debian puts PostgreSQL 15's server programs.
const BIN: &str = "/usr/lib/postgresql/15/bin";

/// A running PostgreSQL; killed and its data removed on drop.
pub struct Postgres {
    port: u16,
    dir: std::path::PathBuf,
    child: Option<Child>,
    owner: Option<(u32, u32)>,
    die_with_thread: bool,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The server every test of this binary may share (started on first use).
pub fn shared_postgres() -> &'static Postgres {
    static SHARED: OnceLock<Postgres> = OnceLock::new();
    SHARED.get_or_init(|| super::started_for_the_whole_run(|| Postgres::start_blocking(true)))
}

/// The `postgres` user's ids when running as root (PostgreSQL refuses root), else `None`.
fn server_user() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions; getpwnam's result is read at once, before any
    // other call that could reuse its static buffer.
    unsafe {
        if libc::geteuid() != 0 {
            return None;
        }
        let pw = libc::getpwnam(c"postgres".as_ptr());
        assert!(!pw.is_null(), "running as root needs the postgres user (apt-get install postgresql)");
        Some(((*pw).pw_uid, (*pw).pw_gid))
    }
}

impl Postgres {
    /// Starts a server owned by the caller (killed on drop).
    pub async fn start() -> Self {
        tokio::task::spawn_blocking(|| Self::start_blocking(false)).await.expect("postgres start")
    }

    fn start_blocking(die_with_thread: bool) -> Self {
        let port = super::free_port();
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("switchboard-test-pg-{}-{port}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("postgres dir");
        let owner = server_user();
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown the postgres dir");
        }
        let mut pg = Self { port, dir, child: None, owner, die_with_thread };
        let status = pg
            .command("initdb")
            .args([
                "-D",
                &pg.data(),
                "-U",
                "switchboard",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ])
            .stdout(Stdio::null())
            .status()
            .expect("initdb must be installed (scripts/test installs postgresql)");
        assert!(status.success(), "initdb failed");
        pg.spawn_blocking();
        pg
    }

    fn data(&self) -> String {
        self.dir.join("data").to_string_lossy().into_owned()
    }

    /// A command for one of PostgreSQL's programs, as the user that may run it.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(format!("{BIN}/{program}"));
        if let Some((uid, gid)) = self.owner {
            command.uid(uid).gid(gid);
        }
        command
    }

    /// Starts the server and waits until it answers; a start refused because the killed server's
    /// processes still hold the data directory is tried again.
    fn spawn_blocking(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = self.url("postgres");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        self.child = Some(self.server_command().spawn().expect("postgres runs"));
        while Instant::now() < deadline {
            if runtime.block_on(sqlx::PgConnection::connect(&url)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
            if let Some(child) = self.child.as_mut()
                && matches!(child.try_wait(), Ok(Some(_)))
            {
                self.child = Some(self.server_command().spawn().expect("postgres runs"));
            }
        }
        panic!("postgres did not start on port {} (see {}/server.log)", self.port, self.dir.display());
    }

    fn server_command(&self) -> Command {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))
            .expect("postgres log");
        let mut command = self.command("postgres");
        let socket_dir = self.dir.to_string_lossy().into_owned();
        command
            .args(["-D", &self.data(), "-p", &self.port.to_string(), "-k", &socket_dir])
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=300"])
            .stdout(Stdio::null())
            .stderr(log);
        if self.die_with_thread {
            // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
            unsafe {
                command.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
        }
        command
    }

    /// The URL of database `db` on this server.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://switchboard@127.0.0.1:{}/{db}", self.port)
    }

    /// Makes a new, empty database; its URL.
    pub async fn fresh_database(&self) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("t{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let mut admin = sqlx::PgConnection::connect(&self.url("postgres")).await.expect("postgres up");
        sqlx::raw_sql(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("create database");
        self.url(&name)
    }

    /// Kills the server (SIGKILL, as a crash); [`Postgres::resume`] starts it again.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and data (after [`Postgres::kill`]).
    pub async fn resume(&mut self) {
        let mut me = std::mem::replace(self, Self::placeholder());
        me = tokio::task::spawn_blocking(move || {
            me.spawn_blocking();
            me
        })
        .await
        .expect("postgres resume");
        let mut placeholder = std::mem::replace(self, me);
        placeholder.dir = std::path::PathBuf::new();
    }

    fn placeholder() -> Self {
        Self { port: 0, dir: std::path::PathBuf::new(), child: None, owner: None, die_with_thread: false }
    }
}
