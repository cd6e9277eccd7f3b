//! What an operator sees of an instance: logs, request spans and metrics.
//!
//! Logs are filtered by `RUST_LOG` (default `info` for Switchboard, `warn` for the
//! rest) and written as text or, with `LOG_FORMAT=json`, one JSON object per line;
//! events carry the span fields (`request_id`, `instance`, `user`, `room`) of the
//! work they belong to. Every HTTP request gets a span and an `x-request-id`
//! ([`http`]); every websocket's span carries the id of its upgrade request.
//! Metrics are Prometheus counters, gauges and histograms ([`metrics`]).

pub mod http;
pub mod metrics;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global `tracing` subscriber, writing to stderr in `format`.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,switchboard=info,switchboard_server=info,switchboard_app=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second call (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).try_init(),
    };
}
