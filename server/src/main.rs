//! The `switchboard-server` binary: configuration, logging, signals; the rest
//! is the library.

use anyhow::Context;
use leptos::config::get_configuration;
use switchboard::config::Config;
use switchboard::{Server, telemetry};
use tracing::info;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    return_large_blocks_to_the_os();
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

/// Makes glibc give large freed blocks back to the operating system.
///
/// Every password hash allocates 19 MiB (argon2id). glibc serves blocks that big with `mmap`
/// at first, but its threshold then grows to the size of the freed block, so later hashes come
/// from the heap arenas and their memory is never returned: an instance grew to 200–330 MB
/// after a few logins and stayed there. A fixed 1 MiB threshold keeps big blocks mmapped and
/// unmapped on free; small allocations (the chat's) are unaffected.
fn return_large_blocks_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator parameters; glibc serialises it with allocation.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
