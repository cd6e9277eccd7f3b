//! The instance's metrics, in Prometheus' text format at `/metrics`.
//!
//! Every metric is registered once, when first used, and kept as a handle: an
//! increment on the hot path (a delivery, a frame) is one atomic add, never a
//! registry lookup or a lock. Histograms are Prometheus histograms with fixed
//! buckets (seconds), so percentiles can be aggregated across instances. The
//! Prometheus recorder is installed by whatever touches a metric first (the
//! binary does it before anything else, with the instance id as a label on
//! every series).

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets, in seconds: 100 µs to 10 s.
const BUCKETS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// The name of every metric the instance exports.
const NAMES: &[&str] = &[
    "switchboard_sockets_open",
    "switchboard_rooms_local",
    "switchboard_frames_in_total",
    "switchboard_frames_out_total",
    "switchboard_messages_stored_total",
    "switchboard_messages_changed_total",
    "switchboard_deliveries_total",
    "switchboard_acks_total",
    "switchboard_send_seconds",
    "switchboard_redis_seconds",
    "switchboard_pubsub_reconnects_total",
    "switchboard_pubsub_refills_total",
    "switchboard_rejoins_total",
    "switchboard_replayed_messages_total",
    "switchboard_gaps_total",
    "switchboard_slow_consumers_total",
    "switchboard_drains_total",
    "switchboard_moves_total",
    "switchboard_fallback_streams_total",
    "switchboard_fallback_relayed_total",
    "switchboard_logins_total",
    "switchboard_page_renders_total",
    "switchboard_page_seconds",
    "switchboard_rate_limited_total",
    "switchboard_errors_total",
];

/// The name of every metric the instance exports (as the dashboard and the README list them).
pub fn names() -> &'static [&'static str] {
    NAMES
}

/// Why a client was refused by a rate limit.
#[derive(Debug, Clone, Copy)]
pub enum Limited {
    /// Too many chat messages.
    Send,
    /// Too many frames on a socket (a flood).
    Frames,
    /// Too many login attempts on one name.
    LoginName,
    /// Too many login or registration attempts from one address.
    AuthClient,
    /// Too many renames or typing notices on a socket.
    Socket,
}

/// Every metric of the instance, as handles.
pub struct Metrics {
    /// Open websockets.
    pub sockets_open: Gauge,
    /// Rooms with at least one local member (one pub/sub subscription each).
    pub rooms_local: Gauge,
    /// Frames received from clients.
    pub frames_in: Counter,
    /// Frames written to clients.
    pub frames_out: Counter,
    /// Chat messages stored (duplicates not counted).
    pub messages_stored: Counter,
    /// Changes to messages stored: edits, deletions, reactions (duplicates not counted).
    pub messages_changed: Counter,
    /// Room events handed to local sockets.
    pub deliveries: Counter,
    /// Sends acknowledged.
    pub acks: Counter,
    /// From a send's arrival to its storage (the ack), seconds.
    pub send_seconds: Histogram,
    /// One Redis command or pipeline round trip, seconds.
    pub redis_seconds: Histogram,
    /// Pub/sub connections re-established after a drop.
    pub pubsub_reconnects: Counter,
    /// Rooms refilled from their stream after a pub/sub hole.
    pub pubsub_refills: Counter,
    /// Joins with `since` (a client catching up after a reconnect).
    pub rejoins: Counter,
    /// Messages replayed to catching-up clients.
    pub replayed: Counter,
    /// Catch-ups that found part of the range trimmed (a `gap`).
    pub gaps: Counter,
    /// Sockets cut for reading too slowly (4008).
    pub slow_consumers: Counter,
    /// Drains begun (SIGTERM).
    pub drains: Counter,
    /// `move` frames sent by a drain.
    pub moves: Counter,
    /// HTTP fallback streams opened.
    pub fallback_opened: Counter,
    /// HTTP fallback responses that resumed a stream (`Last-Event-ID`).
    pub fallback_resumed: Counter,
    /// Fallback `POST`s handed to the instance holding their stream.
    pub fallback_relayed: Counter,
    /// Logins and registrations that succeeded.
    pub logins_ok: Counter,
    /// Logins and registrations refused (wrong password, taken name, limits).
    pub logins_failed: Counter,
    /// Pages rendered (server-side).
    pub page_renders: Counter,
    /// Page render time, seconds.
    pub page_seconds: Histogram,
    limited: [Counter; 5],
}

impl Metrics {
    fn register() -> Self {
        let limited = |kind: &'static str| counter!("switchboard_rate_limited_total", "kind" => kind);
        Self {
            sockets_open: gauge!("switchboard_sockets_open"),
            rooms_local: gauge!("switchboard_rooms_local"),
            frames_in: counter!("switchboard_frames_in_total"),
            frames_out: counter!("switchboard_frames_out_total"),
            messages_stored: counter!("switchboard_messages_stored_total"),
            messages_changed: counter!("switchboard_messages_changed_total"),
            deliveries: counter!("switchboard_deliveries_total"),
            acks: counter!("switchboard_acks_total"),
            send_seconds: histogram!("switchboard_send_seconds"),
            redis_seconds: histogram!("switchboard_redis_seconds"),
            pubsub_reconnects: counter!("switchboard_pubsub_reconnects_total"),
            pubsub_refills: counter!("switchboard_pubsub_refills_total"),
            rejoins: counter!("switchboard_rejoins_total"),
            replayed: counter!("switchboard_replayed_messages_total"),
            gaps: counter!("switchboard_gaps_total"),
            slow_consumers: counter!("switchboard_slow_consumers_total"),
            drains: counter!("switchboard_drains_total"),
            moves: counter!("switchboard_moves_total"),
            fallback_opened: counter!("switchboard_fallback_streams_total", "how" => "opened"),
            fallback_resumed: counter!("switchboard_fallback_streams_total", "how" => "resumed"),
            fallback_relayed: counter!("switchboard_fallback_relayed_total"),
            logins_ok: counter!("switchboard_logins_total", "outcome" => "ok"),
            logins_failed: counter!("switchboard_logins_total", "outcome" => "refused"),
            page_renders: counter!("switchboard_page_renders_total"),
            page_seconds: histogram!("switchboard_page_seconds"),
            limited: [
                limited("send"),
                limited("frames"),
                limited("login_name"),
                limited("auth_client"),
                limited("socket"),
            ],
        }
    }

    /// Counts a request refused by a rate limit.
    pub fn rate_limited(&self, kind: Limited) {
        self.limited[kind as usize].increment(1);
    }

    /// Counts an error answered to a client, by its protocol code (rare: looked up per call).
    pub fn error(&self, code: &'static str) {
        counter!("switchboard_errors_total", "code" => code).increment(1);
    }
}

/// Records `elapsed` in `histogram`, in seconds.
pub fn observe(histogram: &Histogram, elapsed: Duration) {
    histogram.record(elapsed.as_secs_f64());
}

struct Installed {
    handle: Option<PrometheusHandle>,
    metrics: Metrics,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

/// Installs the Prometheus recorder (once per process), labelling every series with
/// `instance_id` when given. Later calls change nothing.
pub fn install(instance_id: Option<&str>) {
    installed(instance_id);
}

fn installed(instance_id: Option<&str>) -> &'static Installed {
    INSTALLED.get_or_init(|| {
        let mut builder = PrometheusBuilder::new();
        if let Some(id) = instance_id {
            builder = builder.add_global_label("instance_id", id);
        }
        let handle = builder
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
            .and_then(|builder| builder.install_recorder())
            .map_err(|err| tracing::warn!(%err, "metrics recorder not installed; /metrics stays empty"))
            .ok();
        if let Some(handle) = &handle {
            // Histograms are drained into their buckets on upkeep (scraping does it too).
            let handle = handle.clone();
            std::thread::spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_secs(5));
                    handle.run_upkeep();
                }
            });
        }
        Installed { handle, metrics: Metrics::register() }
    })
}

/// The instance's metrics (installing the recorder on first use).
pub fn metrics() -> &'static Metrics {
    &installed(None).metrics
}

/// The current values in Prometheus' text format.
pub fn render() -> String {
    installed(None).handle.as_ref().map(PrometheusHandle::render).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_name_is_exported_and_every_export_is_listed() {
        let metrics = metrics();
        metrics.send_seconds.record(0.001);
        metrics.error("bad_frame");
        let text = render();
        for name in names() {
            assert!(text.contains(&format!("# TYPE {name} ")), "{name} is not exported:\n{text}");
        }
        for line in text.lines().filter_map(|line| line.strip_prefix("# TYPE ")) {
            let name = line.split(' ').next().unwrap_or_default();
            assert!(names().contains(&name), "{name} is exported but not listed");
        }
    }
}
