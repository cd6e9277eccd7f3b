//! The results of a run: one row per figure, both stacks side by side, written as JSON and
//! as a markdown table.
//!
//! A figure is either a measured value or a note saying why it is missing ("not run: ..."),
//! never a placeholder number; a value the generator may have capped is flagged.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::wire::Proto;

/// Which direction is better for a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// Smaller is better (memory, latency, bytes).
    Lower,
    /// Bigger is better (throughput).
    Higher,
}

/// One stack's value for a figure.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// The measured value (`None`: not run, see `note`).
    pub value: Option<f64>,
    /// Why the value is missing, or what qualifies it.
    pub note: String,
    /// The generator used most of a core while measuring: the stack may do better.
    pub generator_limited: bool,
    /// Raw figures behind the value (steps, percentiles, counts).
    pub details: Value,
}

/// A figure one scenario measured on one stack.
#[derive(Debug, Clone)]
pub struct Measure {
    /// What it is, e.g. "deliveries/s, 1 room × 1000".
    pub metric: String,
    /// Its unit.
    pub unit: &'static str,
    /// Better direction.
    pub better: Better,
    /// The value.
    pub figure: Figure,
    /// Measured on Switchboard alone (the peer has no counterpart: its cell says so).
    pub switchboard_only: bool,
}

impl Measure {
    /// A measured value.
    pub fn value(metric: impl Into<String>, unit: &'static str, better: Better, value: f64, details: Value) -> Self {
        let figure = Figure { value: Some(value), note: String::new(), generator_limited: false, details };
        Measure { metric: metric.into(), unit, better, figure, switchboard_only: false }
    }

    /// Marks the figure as one the peer has no counterpart for.
    pub fn switchboard_only(mut self, only: bool) -> Self {
        self.switchboard_only = only;
        self
    }

    /// Marks the figure as possibly capped by the generator.
    pub fn limited(mut self, limited: bool) -> Self {
        self.figure.generator_limited = limited;
        self
    }

    /// Adds a note.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.figure.note = note.into();
        self
    }
}

/// Both stacks' figures for one metric.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The scenario that measured it.
    pub scenario: String,
    /// What it is.
    pub metric: String,
    /// Its unit.
    pub unit: &'static str,
    /// Better direction.
    pub better: Better,
    /// Switchboard's figure.
    pub ours: Option<Figure>,
    /// The peer's figure.
    pub peer: Option<Figure>,
    /// Measured on Switchboard alone (e.g. one Redis against a Redis Cluster): no peer figure.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub switchboard_only: bool,
}

/// A whole run.
#[derive(Debug, Serialize)]
pub struct Report {
    /// UTC date of the run, `YYYY-MM-DD`.
    pub date: String,
    /// The machine it ran on.
    pub machine: String,
    /// `/proc/loadavg` when the run started and when it ended (other work on the machine
    /// shows here: the run shares its cores with whatever else runs).
    pub load: Vec<String>,
    /// The plan's counts.
    pub plan: crate::plan::Plan,
    /// Every figure.
    pub rows: Vec<Row>,
    /// Scenarios that failed, with their error.
    pub failures: Vec<String>,
}

impl Report {
    /// Files `measure` (from `scenario` on `proto`) into its row.
    pub fn add(&mut self, scenario: &str, proto: Proto, measure: Measure) {
        let position = self.rows.iter().position(|r| r.metric == measure.metric);
        let index = position.unwrap_or_else(|| {
            self.rows.push(Row {
                scenario: scenario.to_owned(),
                metric: measure.metric.clone(),
                unit: measure.unit,
                better: measure.better,
                ours: None,
                peer: None,
                switchboard_only: measure.switchboard_only,
            });
            self.rows.len() - 1
        });
        let row = &mut self.rows[index];
        match proto {
            Proto::Ours => row.ours = Some(measure.figure),
            Proto::Peer => row.peer = Some(measure.figure),
        }
    }

    /// The markdown table: one line per figure, ratio ours/peer.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "Measured {} on {} ({} mode; load average at start and end: {}).\n\n",
            self.date,
            self.machine,
            self.plan.mode,
            self.load.join(" / ")
        );
        out.push_str("| scenario | figure | Switchboard | Socket.IO peer | ours / peer |\n|---|---|---|---|---|\n");
        for row in &self.rows {
            let ratio = match (value(&row.ours), value(&row.peer)) {
                (Some(a), Some(b)) if b != 0.0 => format!("{:.2}", a / b),
                _ => "–".to_owned(),
            };
            let better = if row.better == Better::Lower { "lower is better" } else { "higher is better" };
            let peer = if row.switchboard_only && row.peer.is_none() {
                "– (Switchboard only)".to_owned()
            } else {
                cell(&row.peer)
            };
            let _ = writeln!(
                out,
                "| {} | {} ({}, {better}) | {} | {peer} | {ratio} |",
                row.scenario,
                row.metric,
                row.unit,
                cell(&row.ours),
            );
        }
        if !self.failures.is_empty() {
            out.push_str("\nFailures:\n\n");
            for failure in &self.failures {
                let _ = writeln!(out, "- {failure}");
            }
        }
        out.push_str("\n`*` generator-limited: the load generator used most of a core, the stack may do better.\n");
        out
    }
}

fn value(figure: &Option<Figure>) -> Option<f64> {
    figure.as_ref().and_then(|f| f.value)
}

fn cell(figure: &Option<Figure>) -> String {
    let Some(figure) = figure else { return "not run".to_owned() };
    let mut text = match figure.value {
        Some(v) if v.abs() >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
        None => "not run".to_owned(),
    };
    if figure.generator_limited {
        text.push('*');
    }
    if !figure.note.is_empty() {
        let _ = write!(text, " ({})", figure.note);
    }
    text
}
