//! How big each scenario is, in full and in smoke mode.
//!
//! One place for every count, so the README can say exactly what a figure was measured with
//! and the smoke is visibly the same code on small numbers.

use std::time::Duration;

/// A fan-out shape: `rooms` rooms of `members` sockets each, spread over the instances.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Shape {
    /// Rooms.
    pub rooms: usize,
    /// Sockets per room.
    pub members: usize,
}

/// The counts of one run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Plan {
    /// `"full"` or `"smoke"`.
    pub mode: &'static str,
    /// Accounts registered per stack (sockets beyond that share accounts).
    pub accounts: usize,
    /// Idle sockets opened first, not counted in the marginal figure.
    pub idle_warm: usize,
    /// Idle socket levels (on top of the warm ones), cumulative.
    pub idle_levels: Vec<usize>,
    /// Members of each idle socket's room.
    pub idle_room_size: usize,
    /// Messages each idle room holds before its members join (Switchboard answers a join with
    /// them, as a real room would; the peer keeps no history).
    pub idle_history: usize,
    /// Page scenario: concurrent keep-alive connections and duration.
    pub page_connections: usize,
    /// How long the page is loaded.
    pub page_duration: Duration,
    /// Logins at once, and for how long.
    pub login_concurrency: usize,
    /// How long logins are measured.
    pub login_duration: Duration,
    /// Fan-out shapes.
    pub fanout: Vec<Shape>,
    /// The Redis scale test's shape: the fan-out step-up run on Switchboard over one Redis,
    /// then over a Redis Cluster (3 masters).
    pub redis_scale: Shape,
    /// First fan-out rate, deliveries/s.
    pub fanout_start: f64,
    /// Each step multiplies the rate by this.
    pub fanout_factor: f64,
    /// Most steps per shape.
    pub fanout_steps: usize,
    /// Steps that bisect the gap between the best passing step and the first failing one.
    pub fanout_refine: usize,
    /// Length of one step.
    pub step: Duration,
    /// Wait after a step before counting what was lost.
    pub grace: Duration,
    /// Wait after the sockets of a fan-out or latency scenario are open, so the joins' own
    /// traffic (history, presence) is over before anything is timed.
    pub settle: Duration,
    /// Cross-instance latency: shape and messages/s.
    pub latency_shape: Shape,
    /// Messages per second sent in the latency scenario.
    pub latency_rate: f64,
    /// How long the latency scenario sends.
    pub latency_duration: Duration,
    /// Sockets per generator task.
    pub per_task: usize,
    /// Reconnect storm: clients (in rooms of 30), rooms they cycle over, messages/s, and how
    /// long messages flow (the kill comes after a third of it).
    pub storm_clients: usize,
    /// Rooms of the storm.
    pub storm_rooms: usize,
    /// Messages per second during the storm.
    pub storm_rate: f64,
    /// How long messages flow during the storm.
    pub storm_duration: Duration,
}

impl Plan {
    /// Every scenario at the size the issue asks for (20K idle lowered to what the
    /// 20,000 file-descriptor limit allows: 1,000 warm + 18,000).
    pub fn full() -> Self {
        Plan {
            mode: "full",
            accounts: 1000,
            idle_warm: 1000,
            idle_levels: vec![5000, 10_000, 18_000],
            idle_room_size: 30,
            idle_history: 50,
            page_connections: 64,
            page_duration: Duration::from_secs(10),
            login_concurrency: 8,
            login_duration: Duration::from_secs(10),
            fanout: vec![
                Shape { rooms: 1, members: 1000 },
                Shape { rooms: 20, members: 100 },
                Shape { rooms: 100, members: 10 },
            ],
            redis_scale: Shape { rooms: 100, members: 10 },
            fanout_start: 5000.0,
            fanout_factor: 1.5,
            fanout_steps: 12,
            fanout_refine: 2,
            step: Duration::from_secs(4),
            grace: Duration::from_secs(2),
            settle: Duration::from_secs(5),
            latency_shape: Shape { rooms: 10, members: 10 },
            latency_rate: 200.0,
            latency_duration: Duration::from_secs(10),
            per_task: 100,
            storm_clients: 900,
            storm_rooms: 30,
            storm_rate: 100.0,
            storm_duration: Duration::from_secs(12),
        }
    }

    /// A few seconds per scenario, small counts: proves every path works end to end.
    pub fn smoke() -> Self {
        Plan {
            mode: "smoke",
            accounts: 12,
            idle_warm: 20,
            idle_levels: vec![60],
            idle_room_size: 10,
            idle_history: 5,
            page_connections: 8,
            page_duration: Duration::from_secs(2),
            login_concurrency: 2,
            login_duration: Duration::from_secs(2),
            fanout: vec![Shape { rooms: 1, members: 30 }, Shape { rooms: 3, members: 10 }],
            // Ten rooms, so they spread over the masters' slots; three members, one per instance.
            redis_scale: Shape { rooms: 10, members: 3 },
            fanout_start: 300.0,
            fanout_factor: 2.0,
            fanout_steps: 2,
            fanout_refine: 1,
            step: Duration::from_millis(1500),
            grace: Duration::from_secs(1),
            settle: Duration::from_millis(300),
            latency_shape: Shape { rooms: 2, members: 6 },
            latency_rate: 20.0,
            latency_duration: Duration::from_secs(2),
            per_task: 10,
            storm_clients: 12,
            storm_rooms: 2,
            storm_rate: 10.0,
            storm_duration: Duration::from_secs(3),
        }
    }
}
