//! Arbitrary (or mutated) archives: open, verify, extract in memory.
//! Errors are fine; a panic or wrong bytes passing the checksums are not.
#![no_main]
use libfuzzer_sys::fuzz_target;
use weightzip::{decompress_bytes_with, Archive, ExtractOptions};

fuzz_target!(|data: &[u8]| {
    // One thread: worker threads' runtime allocations read as leaks to LSan.
    let opts = ExtractOptions {
        threads: 1,
        ..Default::default()
    };
    if let Ok(archive) = Archive::from_bytes(data) {
        let _ = archive.verify(&opts);
    }
    let _ = decompress_bytes_with(data, &opts);
});
