//! Value parsers for the settings that a type alone does not check, so a bad value stops the
//! instance at start-up with one line naming the setting — never a surprise at run time.

use clap::builder::{RangedU64ValueParser, TypedValueParser};

use crate::redis_conn::RedisTarget;

/// A `usize` setting of at least `min`.
pub fn at_least(min: u64) -> impl TypedValueParser<Value = usize> {
    RangedU64ValueParser::<usize>::new().range(min..)
}

/// A `REDIS_URL`: one server or a cluster (`redis+cluster://…`); empty means none.
pub fn redis_url(raw: &str) -> Result<String, String> {
    if raw.is_empty() {
        return Ok(String::new());
    }
    RedisTarget::parse(raw).map(|_| raw.to_owned()).map_err(|err| format!("not a Redis URL ({err})"))
}

/// A message-store URL: `postgres://…`, `postgresql://…` or `sqlite:…` (empty: none).
pub fn database_url(raw: &str) -> Result<String, String> {
    if raw.is_empty() || crate::store::dialect::Dialect::of_url(raw).is_some() {
        return Ok(raw.to_owned());
    }
    Err("not a database URL (postgres://user:password@host:5432/db, or sqlite:path)".to_owned())
}

/// An origin as browsers send it: `http://host` or `https://host:port`, nothing after (empty:
/// none).
pub fn origin(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        // `ALLOWED_ORIGINS=` (or a trailing comma): nothing more allowed.
        return Ok(String::new());
    }
    let refuse = || format!("'{raw}' is not an origin (scheme://host[:port], e.g. https://chat.example.com)");
    let (scheme, rest) = raw.split_once("://").ok_or_else(refuse)?;
    if scheme != "http" && scheme != "https" {
        return Err(refuse());
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => (host, Some(port)),
        _ => (rest, None),
    };
    let host_ok =
        !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'));
    let port_ok = port.is_none_or(|port| port.parse::<u16>().is_ok_and(|port| port > 0));
    if host_ok && port_ok { Ok(raw.to_owned()) } else { Err(refuse()) }
}

/// A key prefix: no Redis Cluster hash-tag braces (they would move every key off its slot).
pub fn redis_prefix(raw: &str) -> Result<String, String> {
    if raw.contains(['{', '}']) || raw.chars().any(char::is_whitespace) {
        return Err("a prefix may not contain braces or spaces (e.g. sb:)".into());
    }
    Ok(raw.to_owned())
}

/// A cookie name: a non-empty HTTP token.
pub fn cookie_name(raw: &str) -> Result<String, String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if raw.is_empty() || !raw.chars().all(token) {
        return Err(format!("'{raw}' is not a cookie name (letters, digits, - and _)"));
    }
    Ok(raw.to_owned())
}

/// An instance id: printable, no spaces, at most 64 characters (it is shown and logged).
pub fn instance_id(raw: &str) -> Result<String, String> {
    if raw.is_empty() || raw.len() > 64 || !raw.chars().all(|c| c.is_ascii_graphic()) {
        return Err(format!("'{raw}' is not an instance id (1 to 64 visible ASCII characters)"));
    }
    Ok(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        for good in ["https://chat.example.com", "http://127.0.0.1:8080", "http://localhost:3000", "https://[::1]:443"]
        {
            assert_eq!(origin(good).as_deref(), Ok(good), "{good}");
        }
        for bad in
            ["chat.example.com", "https://chat.example.com/", "ftp://x", "https://", "http://x:0", "http://x:99999"]
        {
            assert!(origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prefixes_cookies_and_ids() {
        assert!(redis_prefix("sb:").is_ok() && redis_prefix("").is_ok());
        assert!(redis_prefix("{sb}:").is_err() && redis_prefix("s b").is_err());
        assert!(cookie_name("jsessionid").is_ok() && cookie_name("a=b").is_err() && cookie_name("").is_err());
        assert!(instance_id("app-1").is_ok() && instance_id("app 1").is_err());
        assert!(redis_url("redis://127.0.0.1:6379/").is_ok() && redis_url("").is_ok());
        assert!(redis_url("mysql://x").is_err() && redis_url("redis+cluster://").is_err());
    }
}
