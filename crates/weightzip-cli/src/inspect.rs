//! `weightzip inspect`: what is in an archive, tensor by tensor.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::Path;

use anyhow::Result;
use weightzip::{ChunkRef, SegmentKind};
use weightzip_codec::CodecId;
use weightzip_format::TensorType;

/// The codecs of a chunk list ("delta" for a delta chunk, "ref" for a
/// chunk stored earlier in the archive) and the bytes it stores itself;
/// `seen` holds the payload offsets listed so far.
fn codecs_of(chunks: &[ChunkRef], seen: &mut HashSet<u64>) -> (String, u64) {
    let mut stored = 0;
    let mut names: Vec<&str> = chunks
        .iter()
        .map(|c| {
            if !seen.insert(c.offset) {
                "ref"
            } else {
                stored += c.stored_len;
                if c.base.is_some() {
                    "delta"
                } else {
                    CodecId::from_u8(c.codec).map_or("?", CodecId::name)
                }
            }
        })
        .collect();
    names.dedup();
    names.sort_unstable();
    names.dedup();
    (names.join("+"), stored)
}

fn type_name(ty: &Option<TensorType>) -> String {
    match ty {
        Some(TensorType::St(d)) => d.name().to_string(),
        Some(TensorType::Ggml(g)) => g.name().to_string(),
        None => "?".into(),
    }
}

/// Prints the archive's files and tensors as a table or JSON.
pub fn run(path: &Path, json: bool) -> Result<()> {
    let archive = crate::open_archive(path)?;
    let index = archive.index();
    let mut rows = Vec::new();
    let mut by_codec: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut seen = HashSet::new();
    for e in &index.entries {
        let (_, pass_stored) = codecs_of(&e.passthrough, &mut seen);
        let pass_raw: u64 = e.passthrough.iter().map(|c| c.raw_len).sum();
        let t = by_codec.entry("(non-tensor bytes)".into()).or_default();
        t.0 += pass_raw;
        t.1 += pass_stored;
        for s in &e.segments {
            if let SegmentKind::Tensor { name, ty, shape } = &s.kind {
                let (codec, stored) = codecs_of(&s.chunks, &mut seen);
                let t = by_codec.entry(codec.clone()).or_default();
                t.0 += s.len;
                t.1 += stored;
                rows.push(serde_json::json!({
                    "file": e.path, "tensor": name, "dtype": type_name(ty), "shape": shape,
                    "codec": codec, "bytes": s.len, "stored": stored,
                    "ratio": s.len as f64 / stored.max(1) as f64, "chunks": s.chunks.len(),
                }));
            }
        }
    }
    let archive_bytes = archive.size();
    let total = index.total_size();
    let mut out = std::io::stdout().lock();
    if json {
        let doc = serde_json::json!({
            "archive": path.display().to_string(), "archive_bytes": archive_bytes,
            "original_bytes": total, "ratio": total as f64 / archive_bytes.max(1) as f64,
            "files": index.entries.iter().map(|e| serde_json::json!({"path": e.path, "size": e.size, "checksum": format!("{:016x}", e.checksum)})).collect::<Vec<_>>(),
            "members": index.extras.iter().map(|x| serde_json::json!({"path": x.path, "kind": match &x.kind {
                weightzip::ExtraKind::Dir => "dir", weightzip::ExtraKind::Symlink { .. } => "symlink", weightzip::ExtraKind::Hardlink { .. } => "hardlink" }})).collect::<Vec<_>>(),
            "tensors": rows,
            "base": index.base.as_ref().map(|b| serde_json::json!({"label": b.label, "tensors": b.tensors.len()})),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<48} {:<8} {:<18} {:<10} {:>12} {:>8}",
        "tensor", "dtype", "shape", "codec", "bytes", "ratio"
    )?;
    for r in &rows {
        let name = r["tensor"].as_str().unwrap_or("");
        let name = if index.entries.len() > 1 {
            format!("{}:{}", r["file"].as_str().unwrap_or(""), name)
        } else {
            name.to_string()
        };
        writeln!(
            out,
            "{:<48} {:<8} {:<18} {:<10} {:>12} {:>8.4}",
            name,
            r["dtype"].as_str().unwrap_or(""),
            r["shape"].to_string(),
            r["codec"].as_str().unwrap_or(""),
            r["bytes"].as_u64().unwrap_or(0),
            r["ratio"].as_f64().unwrap_or(0.0)
        )?;
    }
    writeln!(out)?;
    for (codec, (raw, stored)) in &by_codec {
        writeln!(
            out,
            "{codec:<20} {raw:>14} -> {stored:>14} bytes  {:.4}x",
            *raw as f64 / (*stored).max(1) as f64
        )?;
    }
    writeln!(
        out,
        "{} files, {} tensors: {total} -> {archive_bytes} bytes ({:.4}x including index)",
        index.entries.len(),
        rows.len(),
        total as f64 / archive_bytes.max(1) as f64
    )?;
    if let Some(b) = &index.base {
        writeln!(
            out,
            "coded against the base {} ({} of its tensors); decoding needs it: --base",
            b.label,
            b.tensors.len()
        )?;
    }
    Ok(())
}
