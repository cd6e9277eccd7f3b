//! The chat page with a session, on one instance, from `page_connections` keep-alive
//! connections in a closed loop (each connection asks again as soon as it has an answer).
//!
//! Both pages look the session up in Redis, load the user and render HTML: Switchboard's is
//! Leptos SSR of the chat route, the peer's an Express template of similar content.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use reqwest::StatusCode;
use serde_json::json;

use super::Ctx;
use crate::accounts::{Account, http_client};
use crate::metrics::{self, CpuMeter, GENERATOR_LIMIT};
use crate::report::{Better, Measure};
use crate::stack::Stack;

/// Loads `/` for `page_duration` from every connection.
pub async fn run(ctx: &Ctx, stack: &Stack, accounts: &[Account]) -> Result<Vec<Measure>> {
    let plan = &ctx.plan;
    let http = http_client(plan.page_connections)?;
    let url = format!("{}/", stack.instances[0].url);
    let cookie = accounts[0].cookie.clone();
    // One page first: it must be the chat page (200), not a redirect to the login page.
    let status = http.get(&url).header("cookie", cookie.clone()).send().await?.status();
    if status != StatusCode::OK {
        bail!("GET / with a session answered {status}");
    }
    let cpu = CpuMeter::start();
    let started = Instant::now();
    let deadline = started + plan.page_duration;
    let workers: Vec<_> = (0..plan.page_connections)
        .map(|_| {
            let (http, url, cookie) = (http.clone(), url.clone(), cookie.clone());
            tokio::spawn(async move {
                let (mut hist, mut errors, mut bytes) = (metrics::histogram(), 0u64, 0usize);
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    match http.get(&url).header("cookie", cookie.clone()).send().await {
                        Ok(r) if r.status() == StatusCode::OK => match r.bytes().await {
                            Ok(body) => {
                                bytes = body.len();
                                metrics::record(&mut hist, sent.elapsed().as_micros() as u64);
                            }
                            Err(_) => errors += 1,
                        },
                        _ => errors += 1,
                    }
                }
                (hist, errors, bytes)
            })
        })
        .collect();
    let (mut hist, mut errors, mut bytes) = (metrics::histogram(), 0, 0);
    for worker in workers {
        let (h, e, b) = worker.await?;
        let _ = hist.add(&h);
        errors += e;
        bytes = bytes.max(b);
    }
    let elapsed = started.elapsed().max(Duration::from_millis(1)).as_secs_f64();
    let cores = cpu.cores();
    if hist.is_empty() {
        bail!("no page answered 200 ({errors} errors)");
    }
    let details = json!({"ok": hist.len(), "errors": errors, "seconds": elapsed, "page_bytes": bytes,
        "p50_ms": metrics::ms(&hist, 50.0), "p99_ms": metrics::ms(&hist, 99.0), "generator_cores": cores});
    let limited = cores > GENERATOR_LIMIT;
    let conns = plan.page_connections;
    Ok(vec![
        Measure::value(
            format!("chat page req/s, {conns} connections"),
            "req/s",
            Better::Higher,
            hist.len() as f64 / elapsed,
            details.clone(),
        )
        .limited(limited),
        Measure::value(
            format!("chat page p99, {conns} connections"),
            "ms",
            Better::Lower,
            metrics::ms(&hist, 99.0),
            details,
        )
        .limited(limited),
    ])
}
