//! The SVG chart the README shows: one pair of bars per figure (Switchboard, the peer),
//! each pair scaled to its larger value, so figures of different units share one picture.
//! Drawn with `plotters`' SVG backend only (no font files: text is left to the browser).

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use crate::report::{Better, Report};

const WIDTH: u32 = 960;
const ROW: u32 = 58;
const BAR: i32 = 440;

/// Writes the chart of `report` to `path`.
pub fn write(report: &Report, path: &Path) -> Result<()> {
    let rows: Vec<_> =
        report.rows.iter().filter_map(|r| Some((r, r.ours.as_ref()?.value?, r.peer.as_ref()?.value?))).collect();
    let height = 70 + ROW * rows.len() as u32;
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    let err = |e: DrawingAreaErrorKind<_>| anyhow!("drawing the chart: {e:?}");
    root.fill(&WHITE).map_err(err)?;
    let title = format!("Switchboard vs Socket.IO peer — {} — {}", report.date, report.machine);
    root.draw(&Text::new(title, (10, 10), ("sans-serif", 20).into_font())).map_err(err)?;
    let legend = [("Switchboard", BLUE), ("Socket.IO peer", RED)];
    for (i, (name, color)) in legend.iter().enumerate() {
        let x = 10 + 170 * i as i32;
        root.draw(&Rectangle::new([(x, 38), (x + 14, 50)], color.filled())).map_err(err)?;
        root.draw(&Text::new(*name, (x + 20, 37), ("sans-serif", 16).into_font())).map_err(err)?;
    }
    let width = (WIDTH as i32 - BAR - 90) as f64;
    for (i, (row, ours, peer)) in rows.iter().enumerate() {
        let y = 70 + (ROW * i as u32) as i32;
        let better = if row.better == Better::Lower { "lower is better" } else { "higher is better" };
        let label = format!("{} ({})", row.metric, row.unit);
        root.draw(&Text::new(label, (10, y + 4), ("sans-serif", 15).into_font())).map_err(err)?;
        root.draw(&Text::new(better, (10, y + 22), ("sans-serif", 13).into_font().color(&BLACK.mix(0.6))))
            .map_err(err)?;
        let max = ours.max(*peer).max(f64::MIN_POSITIVE);
        for (j, (value, color)) in [(*ours, BLUE), (*peer, RED)].iter().enumerate() {
            let top = y + j as i32 * 20;
            let length = (value / max * width).round() as i32;
            root.draw(&Rectangle::new([(BAR, top), (BAR + length.max(1), top + 16)], color.mix(0.8).filled()))
                .map_err(err)?;
            let text = if value.abs() >= 100.0 { format!("{value:.0}") } else { format!("{value:.2}") };
            root.draw(&Text::new(text, (BAR + length + 6, top + 2), ("sans-serif", 15).into_font())).map_err(err)?;
        }
    }
    root.present().map_err(err)?;
    Ok(())
}
