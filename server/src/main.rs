//! The `switchboard-server` binary: configuration, logging, signals; the rest
//! is the library.

use anyhow::Context;
use leptos::config::get_configuration;
use switchboard::config::Config;
use switchboard::{Server, telemetry};
use tracing::info;

/// jemalloc instead of glibc's malloc. Measured on the chat page (one instance, 64
/// connections, `bench/profiles/page-cpu.sh`): glibc spent 27 % of the CPU in malloc/free
/// (1,364 pages/s, 1,244 µs of CPU per page), mimalloc 2,296 pages/s, jemalloc 2,993 pages/s
/// (590 µs). It also gives argon2id's 19 MiB blocks back to the system by itself (decay):
/// 17 MiB of RSS after 1,000 registrations and 1,000 logins, where glibc needed a fixed mmap
/// threshold not to keep 200–330 MB after a few sign-ins. Idle sockets cost the same on both.
/// Off with `--no-default-features` (heap profilers that hook malloc cannot see jemalloc's).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::load();
    telemetry::init(config.log_format);
    telemetry::metrics::install(config.instance_id.as_deref());
    let mut leptos = get_configuration(None).context("reading Leptos settings")?.leptos_options;
    if leptos.output_name.is_empty() {
        leptos.output_name = "switchboard".into();
    }
    let server = Server::build(config, leptos).await?;
    let shutdown = server.shutdown_token();
    tokio::spawn(async move {
        wait_for_signal().await;
        info!("shutdown requested");
        shutdown.cancel();
    });
    server.run().await.context("serving")
}

async fn wait_for_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
