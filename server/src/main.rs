//! The `switchboard-server` binary: configuration, logging, signals; the rest
//! is the library.

use anyhow::Context;
use clap::Parser;
use leptos::config::get_configuration;
use switchboard::config::Config;
use switchboard::{Server, telemetry};
use tracing::info;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    telemetry::init();
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
