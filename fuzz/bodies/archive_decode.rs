// Body of the `archive_decode` fuzz target, included by
// fuzz/fuzz_targets/archive_decode.rs and by the replay test
// crates/weightzip/tests/fuzz_artifacts.rs, so both run the same code.
//
// Arbitrary (or mutated) archives: open, verify, extract in memory.
// Errors are fine; a panic is not.

pub fn fuzz_one(data: &[u8]) {
    // One thread: worker threads' runtime allocations read as leaks to LSan.
    let opts = weightzip::ExtractOptions {
        threads: 1,
        ..Default::default()
    };
    if let Ok(archive) = weightzip::Archive::from_bytes(data) {
        let _ = archive.verify(&opts);
    }
    let _ = weightzip::decompress_bytes_with(data, &opts);
}
