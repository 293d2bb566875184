//! Arbitrary (or mutated) archives: open, verify, extract in memory.
//! Errors are fine; a panic or wrong bytes passing the checksums are not.
#![no_main]
use libfuzzer_sys::fuzz_target;
use weightzip::{decompress_bytes, Archive, ExtractOptions};

fuzz_target!(|data: &[u8]| {
    if let Ok(archive) = Archive::from_bytes(data) {
        let opts = ExtractOptions { threads: 1, ..Default::default() };
        let _ = archive.verify(&opts);
    }
    let _ = decompress_bytes(data);
});
