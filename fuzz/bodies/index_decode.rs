// Body of the `index_decode` fuzz target, included by
// fuzz/fuzz_targets/index_decode.rs and by the replay test
// crates/weightzip/tests/fuzz_artifacts.rs, so both run the same code.
//
// Input: the chunk area's end (u64 LE) then a serialised index (the bytes
// `Archive` gets after decompressing the index). Errors are fine; a panic is
// not, and an index that parses serialises to bytes that parse back to it.

pub fn fuzz_one(data: &[u8]) {
    let Some((end, raw)) = data.split_first_chunk::<8>() else {
        return;
    };
    let chunk_area_end = u64::from_le_bytes(*end);
    if let Ok(index) = weightzip::Index::from_bytes(raw, chunk_area_end) {
        match weightzip::Index::from_bytes(&index.to_bytes(), chunk_area_end) {
            Ok(again) => assert!(again == index, "index changes in a re-serialisation"),
            Err(e) => panic!("the re-serialised index does not parse: {e}"),
        }
    }
}
