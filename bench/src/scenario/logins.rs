//! Sign-ins per second on one instance (`login_concurrency` at once, closed loop, existing
//! accounts in turn), then that instance's RSS: argon2id's 19 MiB per hash is what makes an
//! instance's memory grow with logins, on both stacks. The second instance is used: the
//! first held the idle-socket scenario's sockets, whose high-water mark would hide this.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Result, bail};
use serde_json::json;

use super::Ctx;
use crate::accounts::{self, Account, http_client};
use crate::metrics::{self, rss_kib};
use crate::report::{Better, Measure};
use crate::stack::Stack;

/// Logs accounts in for `login_duration`.
pub async fn run(ctx: &Ctx, stack: &Stack, accounts: &[Account]) -> Result<Vec<Measure>> {
    let plan = &ctx.plan;
    let instance = stack.instances.get(1).unwrap_or(&stack.instances[0]);
    let rss_before = rss_kib(instance.pid);
    let http = http_client(plan.login_concurrency)?;
    let names: Arc<Vec<String>> = Arc::new(accounts.iter().map(|a| a.name.clone()).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + plan.login_duration;
    let workers: Vec<_> = (0..plan.login_concurrency)
        .map(|_| {
            let (http, base, names, next) = (http.clone(), instance.url.clone(), names.clone(), next.clone());
            tokio::spawn(async move {
                let (mut hist, mut refused) = (metrics::histogram(), 0u64);
                while Instant::now() < deadline {
                    let name = &names[next.fetch_add(1, Ordering::Relaxed) % names.len()];
                    let sent = Instant::now();
                    match accounts::login(&http, &base, name).await {
                        Ok(true) => metrics::record(&mut hist, sent.elapsed().as_micros() as u64),
                        _ => refused += 1,
                    }
                }
                (hist, refused)
            })
        })
        .collect();
    let (mut hist, mut refused) = (metrics::histogram(), 0);
    for worker in workers {
        let (h, r) = worker.await?;
        let _ = hist.add(&h);
        refused += r;
    }
    let elapsed = started.elapsed().as_secs_f64();
    if hist.is_empty() {
        bail!("no login succeeded ({refused} refused)");
    }
    let rss = rss_kib(instance.pid);
    let details = json!({"ok": hist.len(), "refused": refused, "seconds": elapsed,
        "p50_ms": metrics::ms(&hist, 50.0), "p99_ms": metrics::ms(&hist, 99.0), "rss_before_kib": rss_before, "rss_kib": rss});
    Ok(vec![
        Measure::value(
            format!("logins/s, {} at once", plan.login_concurrency),
            "logins/s",
            Better::Higher,
            hist.len() as f64 / elapsed,
            details.clone(),
        ),
        Measure::value("instance RSS after the sign-ins", "MiB", Better::Lower, rss as f64 / 1024.0, details)
            .note(format!("{} sign-ins + its share of registrations", hist.len())),
    ])
}
