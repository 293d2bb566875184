use xxhash_rust::xxh3::xxh3_64;

use super::*;

fn real_bytes() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/v1-minilm-slice.bf16.safetensors"
    );
    std::fs::read(path).unwrap()
}

fn chunk_of(bytes: &[u8]) -> ChunkRef {
    ChunkRef {
        offset: 16,
        stored_len: 10,
        raw_len: bytes.len() as u64,
        codec: 0,
        checksum: xxh3_64(bytes),
        base: None,
    }
}

#[test]
fn identical_bytes_in_another_file_are_found_and_verified() {
    let data = real_bytes();
    let copy = data.clone();
    let (a, b) = (&data[1000..5000], &copy[1000..5000]);
    let mut store = ChunkStore::new();
    let f0 = store.begin_file(Reread::Bytes(&data));
    let h = content_hash(a);
    assert_eq!(store.find(&h, a, f0, &data.as_slice()), None);
    store.stored(h, &chunk_of(a), f0, &[(1000, 4000)]);
    let f1 = store.begin_file(Reread::Bytes(&copy));
    let found = store.find(&content_hash(b), b, f1, &copy.as_slice());
    assert_eq!(found, Some(chunk_of(a)));
    assert_eq!((store.refs, store.ref_bytes), (1, 4000));
}

/// A hash match whose bytes differ (a collision, or a file changed since)
/// never makes a reference.
#[test]
fn a_hash_match_with_other_bytes_is_refused() {
    let data = real_bytes();
    let (a, b) = (&data[1000..5000], &data[5000..9000]);
    let mut store = ChunkStore::new();
    let f0 = store.begin_file(Reread::Bytes(&data));
    let h = content_hash(a);
    store.stored(h, &chunk_of(a), f0, &[(1000, 4000)]);
    assert_eq!(store.find(&h, b, f0, &data.as_slice()), None);
    // Same bytes, but the stored chunk's checksum says it was coded from
    // others.
    let mut wrong = chunk_of(a);
    wrong.checksum ^= 1;
    store.stored(h, &wrong, f0, &[(1000, 4000)]);
    assert_eq!(store.find(&h, a, f0, &data.as_slice()), None);
    assert_eq!(store.refs, 0);
}

#[test]
fn a_stored_chunk_takes_at_most_its_use_limit() {
    let data = real_bytes();
    let a = &data[..4096];
    let mut store = ChunkStore::new();
    let f0 = store.begin_file(Reread::Bytes(&data));
    let h = content_hash(a);
    store.stored(h, &chunk_of(a), f0, &[(0, 4096)]);
    let mut found = 0u64;
    for _ in 0..400 {
        if store.find(&h, a, f0, &data.as_slice()).is_some() {
            found += 1;
        }
    }
    assert_eq!(found, u64::from(MAX_CHUNK_USES - 1));
}

#[test]
fn a_file_that_cannot_be_read_again_makes_no_reference() {
    let data = real_bytes();
    let a = &data[..4096];
    let mut store = ChunkStore::new();
    let f0 = store.begin_file(Reread::Gone);
    store.stored(content_hash(a), &chunk_of(a), f0, &[(0, 4096)]);
    let f1 = store.begin_file(Reread::Bytes(&data));
    assert_eq!(store.find(&content_hash(a), a, f1, &data.as_slice()), None);
}
