//! URLs as logs and error messages may show them: with any password replaced.

/// `url` with the password of its user info (`redis://user:secret@host`) replaced by `***`, for
/// logs and error messages.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((userinfo, host)) = rest.rsplit_once('@') else { return url.to_owned() };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => format!("{scheme}://***@{host}"),
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn passwords_never_reach_logs() {
        assert_eq!(redacted("redis://:hunter2@10.0.0.1:6379/0"), "redis://:***@10.0.0.1:6379/0");
        assert_eq!(redacted("rediss://app:p@ss@cache:6380/"), "rediss://app:***@cache:6380/");
        assert_eq!(redacted("redis://secret-token@cache/"), "redis://***@cache/");
        assert_eq!(redacted("redis://127.0.0.1:6379/"), "redis://127.0.0.1:6379/");
        assert_eq!(redacted("not a url"), "not a url");
    }
}
