//! Accounts and sessions over HTTP, the same way on both stacks.
//!
//! Both expose `POST /api/register` and `POST /api/login` taking a form `name` + `password`
//! (Switchboard's are Leptos server functions, the peer's Express routes) and answer with a
//! session cookie. Registration spreads over the instances with a small concurrency because
//! each one costs an argon2id hash (19 MiB, 2 passes on both); Switchboard answers 503 beyond
//! its hashing queue, which is retried.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use reqwest::header::HeaderValue;
use reqwest::{Client, StatusCode};

/// The password of every benchmark account.
pub const PASSWORD: &str = "bench password 1";

/// A registered user and its session cookie.
#[derive(Debug, Clone)]
pub struct Account {
    /// The user name.
    pub name: String,
    /// The `Cookie` header that carries its session.
    pub cookie: HeaderValue,
}

/// A client that keeps no cookies and follows no redirects (status codes are the answer).
pub fn http_client(pool: usize) -> Result<Client> {
    Ok(Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(pool)
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// Registers `name` at instance `base`; returns its session cookie.
pub async fn register(base: &str, name: &str) -> Result<Account> {
    for attempt in 0..50 {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let http =
            Client::builder().cookie_provider(jar.clone()).redirect(reqwest::redirect::Policy::none()).build()?;
        let response =
            http.post(format!("{base}/api/register")).form(&[("name", name), ("password", PASSWORD)]).send().await?;
        let status = response.status();
        if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
            tokio::time::sleep(Duration::from_millis(50 * (attempt + 1))).await;
            continue;
        }
        if !status.is_success() {
            bail!("register {name} at {base}: {status}");
        }
        let url = base.parse().context("url")?;
        let cookie = reqwest::cookie::CookieStore::cookies(&*jar, &url).context("no session cookie")?;
        return Ok(Account { name: name.to_owned(), cookie });
    }
    bail!("register {name} at {base}: still busy after 50 attempts")
}

/// Registers `count` accounts named `<prefix>-<i>`, round-robin over `bases`.
pub async fn register_many(bases: &[String], prefix: &str, count: usize, concurrency: usize) -> Result<Vec<Account>> {
    let results: Vec<Result<Account>> = futures::stream::iter(0..count)
        .map(|i| {
            let base = bases[i % bases.len()].clone();
            let name = format!("{prefix}-{i}");
            async move { register(&base, &name).await }
        })
        .buffered(concurrency)
        .collect()
        .await;
    results.into_iter().collect()
}

/// One login; `Ok(true)` when the server accepted it, `Ok(false)` when it refused or was busy.
pub async fn login(http: &Client, base: &str, name: &str) -> Result<bool> {
    let response =
        http.post(format!("{base}/api/login")).form(&[("name", name), ("password", PASSWORD)]).send().await?;
    Ok(response.status().is_success())
}
