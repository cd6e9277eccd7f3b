//! What `REDIS_URL` names: one server (`redis://…`, `unix://…`) or a Redis Cluster given by seed
//! nodes, `redis+cluster://[user:password@]host:port[,host:port…][/]`. A cluster needs only some
//! of its nodes as seeds: the client asks them for the slot map and finds the rest. (TLS,
//! `rediss://`, parses but is not compiled in: connecting says so.)

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::{ErrorKind, IntoConnectionInfo, ProtocolVersion, PushInfo, RedisError, RedisResult};
use tokio::sync::mpsc::UnboundedSender;

use super::RedisConn;

/// How long a connection attempt or a reply may take before it counts as failed.
const TIMEOUT: Duration = Duration::from_secs(2);

/// A parsed `REDIS_URL`: where to connect, not yet connected.
#[derive(Clone, Debug)]
pub enum RedisTarget {
    /// One server.
    Single(redis::Client),
    /// A cluster, by the URLs of its seed nodes (`redis://host:port/` each).
    Cluster(Vec<String>),
}

impl RedisTarget {
    /// Parses `url`; an error names what is wrong with it.
    pub fn parse(url: &str) -> RedisResult<Self> {
        let Some((scheme, rest)) = url.split_once("+cluster://") else {
            return Ok(Self::Single(redis::Client::open(url)?));
        };
        if scheme != "redis" && scheme != "rediss" {
            return Err(invalid("a cluster URL starts with redis+cluster:// or rediss+cluster://", url));
        }
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        let (userinfo, hosts) = match authority.rsplit_once('@') {
            Some((userinfo, hosts)) => (format!("{userinfo}@"), hosts),
            None => (String::new(), authority),
        };
        let seeds: Vec<String> = hosts
            .split(',')
            .filter(|host| !host.trim().is_empty())
            .map(|host| format!("{scheme}://{userinfo}{}/", host.trim()))
            .collect();
        if seeds.is_empty() {
            return Err(invalid("a cluster URL names at least one host:port", url));
        }
        for seed in &seeds {
            seed.as_str().into_connection_info()?;
        }
        Ok(Self::Cluster(seeds))
    }

    /// Whether this names a cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// Connects the command connection shared by the stores.
    pub async fn connect(&self) -> RedisResult<RedisConn> {
        match self {
            Self::Single(client) => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(TIMEOUT))
                    .set_response_timeout(Some(TIMEOUT))
                    .set_number_of_retries(2)
                    .set_max_delay(Duration::from_secs(1));
                let manager = ConnectionManager::new_with_config(client.clone(), config).await?;
                Ok(RedisConn::Single(manager))
            }
            Self::Cluster(seeds) => {
                let client = self.cluster_builder(seeds).build()?;
                Ok(RedisConn::Cluster(client.get_async_connection().await?))
            }
        }
    }

    /// A cluster client whose connections speak RESP3 and hand every push (pub/sub messages,
    /// subscription confirmations, resubscriptions after a failover) to `pushes`; `None` for a
    /// single server, whose pub/sub uses a dedicated connection of the plain client instead.
    pub fn cluster_pubsub(&self, pushes: UnboundedSender<PushInfo>) -> Option<RedisResult<ClusterClient>> {
        match self {
            Self::Single(_) => None,
            Self::Cluster(seeds) => {
                Some(self.cluster_builder(seeds).use_protocol(ProtocolVersion::RESP3).push_sender(pushes).build())
            }
        }
    }

    fn cluster_builder(&self, seeds: &[String]) -> ClusterClientBuilder {
        ClusterClientBuilder::new(seeds.iter().map(String::as_str))
            .connection_timeout(TIMEOUT)
            .response_timeout(TIMEOUT)
            .retries(4)
    }
}

fn invalid(what: &'static str, url: &str) -> RedisError {
    RedisError::from((ErrorKind::InvalidClientConfig, what, crate::redact::redacted(url)))
}

#[cfg(test)]
mod tests {
    use super::RedisTarget;

    fn seeds(url: &str) -> Vec<String> {
        match RedisTarget::parse(url) {
            Ok(RedisTarget::Cluster(seeds)) => seeds,
            other => panic!("{url}: expected a cluster, got {other:?}"),
        }
    }

    #[test]
    fn cluster_urls_list_their_seeds() {
        assert_eq!(
            seeds("redis+cluster://10.0.0.1:7000,10.0.0.2:7001/"),
            ["redis://10.0.0.1:7000/", "redis://10.0.0.2:7001/"]
        );
        assert_eq!(seeds("redis+cluster://app:pw@a:1,b:2"), ["redis://app:pw@a:1/", "redis://app:pw@b:2/"]);
    }

    #[test]
    fn single_urls_stay_single() {
        assert!(matches!(RedisTarget::parse("redis://127.0.0.1:6379/0"), Ok(RedisTarget::Single(_))));
    }

    #[test]
    fn nonsense_is_refused() {
        assert!(RedisTarget::parse("redis+cluster:///").is_err());
        assert!(RedisTarget::parse("http+cluster://a:1").is_err());
        assert!(RedisTarget::parse("redis+cluster://a:notaport").is_err());
        assert!(RedisTarget::parse("not a url").is_err());
    }
}
