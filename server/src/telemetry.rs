//! Logging and tracing setup, done once by the binary.
//!
//! Filtered by `RUST_LOG` (default `info` for Switchboard, `warn` for the
//! rest); events carry the span fields (`instance`, `user`, `room`) of the
//! work they belong to.

use tracing_subscriber::EnvFilter;

/// Installs the global `tracing` subscriber, writing to stderr.
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,switchboard=info,switchboard_server=info,switchboard_app=info"));
    // A second call (tests) keeps the first subscriber.
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
