//! Prints the tensor layout of each file given on the command line, parsed
//! both by streaming the header (`read_layout`) and from the whole file in
//! memory (`layout_of`), and checks that the two agree.
//!
//! Usage: `cargo run -p weightzip-lab --example dump_layout -- FILE...`
//! Output lines: `name<TAB>type<TAB>shape<TAB>offset<TAB>end<TAB>category/role/layer`.

use std::fs::File;
use std::process::ExitCode;
use weightzip_format::{layout_of, read_layout};
use weightzip_lab::naming::classify;

fn main() -> ExitCode {
    let mut failed = false;
    for path in std::env::args().skip(1) {
        match dump(&path) {
            Ok(()) => {}
            Err(e) => {
                eprintln!("{path}: {e}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn dump(path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let streamed = read_layout(&mut file, len)?;
    let whole = std::fs::read(path)?;
    let mapped = layout_of(&whole)?;
    if streamed != mapped {
        return Err("read_layout and layout_of disagree".into());
    }
    let data: u64 = mapped.tensors.iter().map(|t| t.len).sum();
    println!(
        "# {path}: {} header_len={} tensors={} tensor_bytes={} file_len={len}",
        mapped.kind,
        mapped.header_len,
        mapped.tensors.len(),
        data
    );
    for t in &mapped.tensors {
        let n = classify(&t.name);
        println!(
            "{}\t{}\t{:?}\t{}\t{}\t{}/{}/{}",
            t.name,
            t.ty,
            t.shape,
            t.offset,
            t.end(),
            n.category,
            n.role.unwrap_or("-"),
            n.layer.map_or("-".to_string(), |l| l.to_string())
        );
    }
    Ok(())
}
