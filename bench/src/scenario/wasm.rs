//! Client bytes: what a browser downloads to run the chat, raw and gzip (level 9).
//!
//! Switchboard: the release site's `target/site/pkg/switchboard_bg.wasm` (the JS glue is
//! given in the details). The peer: `socket.io.min.js`, the client the Socket.IO server
//! serves itself — the peer's whole page script besides that is a few inline lines.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::json;

use super::Ctx;
use crate::report::{Better, Measure};
use crate::wire::Proto;

/// Measures the client of `proto`.
pub fn run(ctx: &Ctx, proto: Proto) -> Result<Vec<Measure>> {
    let (main, extra) = match proto {
        Proto::Ours => {
            (ctx.root.join("target/site/pkg/switchboard_bg.wasm"), ctx.root.join("target/site/pkg/switchboard.js"))
        }
        Proto::Peer => {
            let dist = ctx.root.join("bench/peer/node_modules/socket.io/client-dist");
            (dist.join("socket.io.min.js"), dist.join("socket.io.min.js"))
        }
    };
    let (raw, gzip) = sizes(&main)?;
    let (extra_raw, extra_gzip) = sizes(&extra)?;
    let details = json!({"file": main.display().to_string(), "glue_file": extra.display().to_string(),
        "glue_raw": extra_raw, "glue_gzip": extra_gzip});
    let note = if proto == Proto::Ours { "wasm" } else { "socket.io.min.js" };
    Ok(vec![
        Measure::value("client bytes, raw", "KiB", Better::Lower, raw as f64 / 1024.0, details.clone()).note(note),
        Measure::value("client bytes, gzip -9", "KiB", Better::Lower, gzip as f64 / 1024.0, details).note(note),
    ])
}

fn sizes(path: &Path) -> Result<(usize, usize)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {} (build the site first)", path.display()))?;
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(&bytes)?;
    Ok((bytes.len(), encoder.finish()?.len()))
}
