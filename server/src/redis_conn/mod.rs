//! One handle over the two shapes of Redis an instance can run on.
//!
//! A single server is reached through a [`ConnectionManager`] (one multiplexed
//! connection that reconnects by itself); a Redis Cluster through a
//! [`ClusterConnection`], which routes every command to the node owning its key's
//! slot and follows `MOVED`, `ASK` and failovers. Every store takes a
//! [`RedisConn`], so each script runs unchanged on both: the key layout puts
//! everything one script touches under one hash tag. What does differ between the
//! two — where a `WAIT` must go, what a health check may ping, which publish
//! reaches a room's sharded channel — is decided here and nowhere else.

mod slot;
mod target;

use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, RedisFuture, RedisResult, Value};

use crate::telemetry::metrics::{metrics, observe};

pub use slot::key_slot;
pub use target::RedisTarget;

/// A command connection to a single Redis or to a Redis Cluster. Cheap to clone: clones share
/// the underlying connections.
#[derive(Clone)]
pub enum RedisConn {
    /// One server.
    Single(ConnectionManager),
    /// A cluster: commands go to the node owning their key.
    Cluster(ClusterConnection),
}

impl RedisConn {
    /// Whether this is a cluster connection.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// The command that publishes to a room's channel: `SPUBLISH` on a cluster, where the channel
    /// lives on the room's slot and only that shard carries it; `PUBLISH` on one server.
    pub fn room_publish(&self) -> &'static str {
        if self.is_cluster() { "SPUBLISH" } else { "PUBLISH" }
    }

    /// Checks that Redis answers: the server, or one node of a cluster. (A failover under way on
    /// one shard must not make every instance report itself down: the other shards still serve.)
    pub async fn ping(&mut self) -> RedisResult<()> {
        match self {
            Self::Single(conn) => redis::cmd("PING").exec_async(conn).await,
            Self::Cluster(conn) => {
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::RandomPrimary);
                conn.route_command(redis::cmd("PING"), routing).await.map(drop)
            }
        }
    }

    /// Blocks until `replicas` replicas of the node holding `key` acknowledged every write sent
    /// to that node on this connection so far, or `timeout` passed; returns how many did.
    pub async fn wait_for_replicas(&mut self, key: &str, replicas: u32, timeout: Duration) -> RedisResult<u32> {
        let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut wait = redis::cmd("WAIT");
        wait.arg(replicas).arg(timeout_ms);
        match self {
            Self::Single(conn) => wait.query_async(conn).await,
            Self::Cluster(conn) => {
                let route = Route::new(key_slot(key.as_bytes()), SlotAddr::Master);
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route));
                Ok(redis::from_redis_value(conn.route_command(wait, routing).await?)?)
            }
        }
    }
}

/// Times a round trip into `switchboard_redis_seconds`.
fn timed<'a, T: Send + 'a>(request: RedisFuture<'a, T>) -> RedisFuture<'a, T> {
    let started = Instant::now();
    Box::pin(async move {
        let answer = request.await;
        observe(&metrics().redis_seconds, started.elapsed());
        answer
    })
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        timed(match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        timed(match self {
            Self::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        })
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
        }
    }
}
