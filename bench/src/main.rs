//! `loadgen`: Switchboard and its Socket.IO peer, measured side by side in one run.
//!
//! It starts both stacks (each with its own Redis, three instances), registers accounts on
//! each, then runs every scenario on one stack and then the other, alternating which goes
//! first, and writes `<out>/<date>.json`, `<date>.md` and `<date>.svg` (`<date>-<names>.*` with
//! `--only`, so a partial run never overwrites a full one's files). A scenario that fails
//! makes the run exit non-zero (after the report is written): the smoke in `scripts/test`
//! is `loadgen --smoke`. See the README's Benchmarks section for what each figure means.
//!
//! One scenario is Switchboard's alone: `redis-scale` (the fan-out step-up on one Redis, then
//! on a Redis Cluster of 3 masters that it starts itself). `--only redis-scale` runs just that
//! comparison, and then the peer's stack is not started at all.

mod accounts;
mod chart;
mod client;
mod metrics;
mod ours;
mod peer;
mod plan;
mod pool;
mod report;
mod scenario;
mod sender;
mod stack;
mod storm_client;
mod wire;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Parser;

use crate::accounts::Account;
use crate::plan::Plan;
use crate::report::{Figure, Measure, Report};
use crate::scenario::{Ctx, Scenario};
use crate::stack::Stack;
use crate::wire::Proto;

#[derive(Parser, Debug)]
#[command(about = "Switchboard vs the Socket.IO peer: every scenario on both stacks, one report")]
struct Args {
    /// A few seconds per scenario, small counts (what scripts/test runs).
    #[arg(long)]
    smoke: bool,
    /// Repository root (scripts/cluster, bench/peer, target/site).
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Switchboard's server build: debug or release.
    #[arg(long, env = "PROFILE", default_value = "release")]
    profile: String,
    /// Where the report files go (default: bench/results, or target/bench-smoke with --smoke).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Instances per stack.
    #[arg(long, default_value_t = 3)]
    instances: usize,
    /// Run only these scenarios (comma-separated names as in the report, e.g. `fan-out`, or
    /// `redis-scale` for one Redis against a Redis Cluster); for working on one scenario or
    /// that comparison, not for the published side-by-side figures.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    let root = args.root.canonicalize().context("--root")?;
    let plan = if args.smoke { Plan::smoke() } else { Plan::full() };
    let out =
        args.out.clone().unwrap_or_else(|| root.join(if args.smoke { "target/bench-smoke" } else { "bench/results" }));
    let date = time::OffsetDateTime::now_utc().date().to_string();
    let run = format!("{:x}", rand::random::<u32>());
    let unknown: Vec<&String> = args.only.iter().filter(|o| Scenario::ALL.iter().all(|s| s.name() != *o)).collect();
    if !unknown.is_empty() {
        let names: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
        bail!("--only: no scenario named {unknown:?} (scenarios: {})", names.join(", "));
    }
    let chosen: Vec<Scenario> =
        Scenario::ALL.into_iter().filter(|s| args.only.is_empty() || args.only.iter().any(|o| o == s.name())).collect();
    let ctx =
        Ctx { plan: plan.clone(), root: root.clone(), run, profile: args.profile.clone(), instances: args.instances };
    let mut report = Report {
        date: date.clone(),
        machine: machine(),
        load: vec![load()],
        plan,
        rows: Vec::new(),
        failures: Vec::new(),
    };

    // Switchboard-only scenarios (redis-scale) have no use for the peer's stack.
    let need_peer = chosen.iter().any(|s| !s.switchboard_only());
    if need_peer {
        eprintln!("starting both stacks ({} instances each)", args.instances);
    } else {
        eprintln!("starting Switchboard's stack ({} instances; the peer's is not needed)", args.instances);
    }
    let ours = Stack::start(Proto::Ours, &root, &args.profile, args.instances).await?;
    let peer = if need_peer {
        match Stack::start(Proto::Peer, &root, &args.profile, args.instances).await {
            Ok(peer) => Some(peer),
            Err(e) => {
                let _ = ours.stop().await;
                return Err(e);
            }
        }
    } else {
        None
    };
    let stacks: Vec<&Stack> = [Some(&ours), peer.as_ref()].into_iter().flatten().collect();
    let result = run_all(&ctx, &chosen, &stacks, &mut report).await;
    let stopped = (ours.stop().await, if let Some(peer) = peer { peer.stop().await } else { Ok(()) });
    report.load.push(load());
    if let Err(e) = result {
        report.failures.push(format!("setup: {e:#}"));
    }
    // A partial run is filed under its scenarios' names, next to (not over) the full run's.
    let stem = if args.only.is_empty() {
        date.clone()
    } else {
        let names = args.only.join("+").replace(|c: char| !c.is_ascii_alphanumeric() && c != '+', "-");
        format!("{date}-{names}")
    };
    write(&report, &out, &stem)?;
    stopped.0?;
    stopped.1?;
    if !report.failures.is_empty() {
        bail!("{} scenario(s) failed: {}", report.failures.len(), report.failures.join("; "));
    }
    Ok(())
}

/// Registers accounts on the stacks, then runs every chosen scenario on each (alternating which
/// goes first), a Switchboard-only one on Switchboard's alone.
async fn run_all(ctx: &Ctx, chosen: &[Scenario], stacks: &[&Stack], report: &mut Report) -> Result<()> {
    let mut accounts: Vec<Vec<Account>> = Vec::new();
    for &stack in stacks {
        let started = std::time::Instant::now();
        let list = accounts::register_many(&stack.urls(), &format!("b{}", ctx.run), ctx.plan.accounts, 6).await?;
        eprintln!("{}: {} accounts registered in {:.1?}", stack.proto.label(), list.len(), started.elapsed());
        accounts.push(list);
    }
    // Scenarios run on both stacks so far (a Switchboard-only one does not shift the alternation).
    let mut n = 0;
    for scenario in chosen {
        // Alternate which stack goes first, so neither always meets a warmer machine.
        let mut order: Vec<usize> = (0..stacks.len()).collect();
        if n % 2 == 1 {
            order.reverse();
        }
        if !scenario.switchboard_only() {
            n += 1;
        }
        for i in order {
            let stack = stacks[i];
            if scenario.switchboard_only() && stack.proto != Proto::Ours {
                continue;
            }
            eprintln!("{} on {}", scenario.name(), stack.proto.label());
            match scenario.run(ctx, stack, &accounts[i]).await {
                Ok(measures) => measures.into_iter().for_each(|m| report.add(scenario.name(), stack.proto, m)),
                Err(e) => {
                    eprintln!("  failed: {e:#}");
                    report.failures.push(format!("{} on {}: {e:#}", scenario.name(), stack.proto.label()));
                    let failed = Figure {
                        value: None,
                        note: format!("not run: {e:#}"),
                        generator_limited: false,
                        details: serde_json::Value::Null,
                    };
                    let measure = Measure {
                        metric: format!("{} (failed)", scenario.name()),
                        unit: "",
                        better: report::Better::Higher,
                        figure: failed,
                        switchboard_only: scenario.switchboard_only(),
                    };
                    report.add(scenario.name(), stack.proto, measure);
                }
            }
        }
    }
    Ok(())
}

fn write(report: &Report, out: &Path, stem: &str) -> Result<()> {
    std::fs::create_dir_all(out)?;
    let json = out.join(format!("{stem}.json"));
    std::fs::write(&json, serde_json::to_string_pretty(report)?)?;
    std::fs::write(out.join(format!("{stem}.md")), report.markdown())?;
    chart::write(report, &out.join(format!("{stem}.svg")))?;
    println!("{}", report.markdown());
    eprintln!("wrote {}", json.display());
    Ok(())
}

/// "N cores <CPU model>, X GiB, <kernel>": what the README prints next to the figures.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model =
        cpuinfo.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).unwrap_or("?").trim();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next()?.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0);
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|o| o.lines().find(|l| l.starts_with("PRETTY_NAME=")).map(|l| l[12..].trim_matches('"').to_owned()))
        .unwrap_or_default();
    format!("{cores} cores {model}, {} GiB, {os}", mem_kib / 1024 / 1024)
}

/// The 1, 5 and 15 minute load averages.
fn load() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}
