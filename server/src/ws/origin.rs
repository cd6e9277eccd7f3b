//! The websocket Origin check.
//!
//! Browsers attach cookies to a websocket handshake from any site, and CORS
//! does not apply to websockets, so without this check any page on the web
//! could open a socket as the visitor (cross-site websocket hijacking). A
//! handshake is admitted when its `Origin` is the page's own origin (same host
//! as the `Host` header) or one the operator listed. A handshake without an
//! `Origin` comes from a non-browser client, which carries no ambient cookies
//! of a victim, and is admitted (its session cookie is still required).

/// The allowed origins.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    allowed: Vec<String>,
}

fn normalise(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

impl OriginPolicy {
    /// A policy admitting the page's own origin and the listed ones (`scheme://host[:port]`).
    pub fn new(allowed: &[String]) -> Self {
        Self { allowed: allowed.iter().map(|o| normalise(o)).filter(|o| !o.is_empty()).collect() }
    }

    /// Whether a handshake with this `Origin` and `Host` header may proceed.
    pub fn admits(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        let Some(origin) = origin else { return true };
        let origin = normalise(origin);
        if self.allowed.iter().any(|allowed| allowed == &origin) {
            return true;
        }
        let origin_host = origin.split_once("://").map(|(_, rest)| rest);
        matches!((origin_host, host), (Some(o), Some(h)) if o == normalise(h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_is_admitted() {
        let policy = OriginPolicy::default();
        assert!(policy.admits(Some("http://localhost:3000"), Some("localhost:3000")));
        assert!(policy.admits(Some("https://Chat.Example.com"), Some("chat.example.com")));
    }

    #[test]
    fn foreign_origins_are_refused() {
        let policy = OriginPolicy::default();
        assert!(!policy.admits(Some("http://evil.example"), Some("localhost:3000")));
        assert!(!policy.admits(Some("http://localhost:3001"), Some("localhost:3000")), "other port");
        assert!(!policy.admits(Some("null"), Some("localhost:3000")));
        assert!(!policy.admits(Some("http://localhost:3000.evil.example"), Some("localhost:3000")));
        assert!(!policy.admits(Some("http://evil.example"), None));
    }

    #[test]
    fn listed_origins_are_admitted() {
        let policy = OriginPolicy::new(&["https://chat.example.com/".to_owned()]);
        assert!(policy.admits(Some("https://chat.example.com"), Some("10.0.0.5:3000")));
        assert!(!policy.admits(Some("http://chat.example.com"), Some("10.0.0.5:3000")), "scheme matters");
    }

    #[test]
    fn non_browser_clients_without_origin_are_admitted() {
        assert!(OriginPolicy::default().admits(None, Some("localhost:3000")));
    }
}
