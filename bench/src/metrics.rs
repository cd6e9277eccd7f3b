//! What the harness reads off the machine: latency histograms, CPU time, resident memory.
//!
//! Latencies go into HDR histograms (microseconds, 3 significant digits) so percentiles up to
//! p99.9 are exact enough at any count. CPU time is read so that a result can be flagged when
//! the generator itself was the bottleneck, and so that server CPU per delivery can be shown.

use std::time::Instant;

use hdrhistogram::Histogram;

/// A latency histogram in microseconds, from 1 µs to 60 s.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("constant histogram bounds are valid")
}

/// Records `micros` into `hist`, clamped into its range.
pub fn record(hist: &mut Histogram<u64>, micros: u64) {
    hist.saturating_record(micros.clamp(1, 60_000_000));
}

/// A percentile of `hist` in milliseconds.
pub fn ms(hist: &Histogram<u64>, percentile: f64) -> f64 {
    hist.value_at_quantile(percentile / 100.0) as f64 / 1000.0
}

/// CPU seconds (user + system) this process has used so far.
pub fn self_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the zeroed struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0.0;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// CPU seconds (user + system) process `pid` has used so far (0 if it is gone).
pub fn process_cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // The command name may hold spaces; fields are counted after its closing parenthesis.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (ticks(11) + ticks(12)) / hz
}

/// Resident memory of `pid` in KiB (VmRSS), 0 if unreadable.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The share of a core the generator may use before its figure is flagged.
pub const GENERATOR_LIMIT: f64 = 0.8;

/// Measures this process's CPU use over an interval, in cores.
pub struct CpuMeter {
    cpu: f64,
    wall: Instant,
}

impl CpuMeter {
    /// Starts measuring now.
    pub fn start() -> Self {
        Self { cpu: self_cpu_seconds(), wall: Instant::now() }
    }

    /// Cores used since [`CpuMeter::start`] (1.0 = one core busy the whole time).
    pub fn cores(&self) -> f64 {
        let wall = self.wall.elapsed().as_secs_f64().max(1e-3);
        (self_cpu_seconds() - self.cpu) / wall
    }
}
