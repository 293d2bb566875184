//! Damaged input to every decoder: truncations and bit flips never panic.
//! Methods with an integrity check (gzip's CRC-32, xz's CRC-64, the `.wz`
//! container's xxh3) must also never return wrong bytes; the others may
//! (the bench compares bytes anyway).

mod common;

use weightzip_methods::{methods_for, Corpus, Profile};

const CHECKED: &[&str] = &["gzip6", "xz9", "whole_xz6", "wz_gguf"];

fn damaged(z: &[u8]) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for cut in [
        0,
        1,
        2,
        7,
        z.len() / 3,
        z.len() / 2,
        z.len().saturating_sub(1),
    ] {
        if cut < z.len() {
            v.push(z[..cut].to_vec());
        }
    }
    let mut longer = z.to_vec();
    longer.extend_from_slice(&[0, 1, 2]);
    v.push(longer);
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for i in 0..24 {
        if z.is_empty() {
            break;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // Half of the flips in the first 64 bytes, where headers and tables live.
        let pos = if i % 2 == 0 {
            (x as usize) % z.len().min(64)
        } else {
            (x as usize) % z.len()
        };
        let mut c = z.to_vec();
        c[pos] ^= 1 << ((x >> 32) % 8);
        v.push(c);
    }
    v
}

#[test]
fn decoders_survive_damaged_input() {
    let mut panics = Vec::new();
    for split in common::splits() {
        let item = match split.corpus {
            Corpus::GgufFile => split.test[0].clone(),
            Corpus::Q4kStream => split.test[0][..144 * 100].to_vec(),
            _ => split.test[0][..16_000.min(split.test[0].len())].to_vec(),
        };
        for m in methods_for(split.corpus) {
            let refs: Vec<&[u8]> = split.train.iter().map(|v| v.as_slice()).collect();
            let profile: Option<Profile> = m.train(split.corpus, &refs).unwrap();
            let z = m.compress(&item, profile.as_ref()).unwrap();
            for bad in damaged(&z) {
                let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    m.decompress(&bad, item.len(), profile.as_ref())
                }));
                let Ok(got) = got else {
                    panics.push(format!("{} on {:?}", m.name(), split.corpus));
                    continue;
                };
                if CHECKED.contains(&m.name()) {
                    if let Ok(out) = got {
                        assert!(out == item, "{}: damaged input gave wrong bytes", m.name());
                    }
                }
                // Wrong lengths the caller might pass.
                let _ = m.decompress(&bad, item.len() / 2, profile.as_ref());
            }
            let _ = m.decompress(&z, item.len() + 144, profile.as_ref());
        }
    }
    panics.dedup();
    assert!(
        panics.is_empty(),
        "decoders panicked on damaged input: {panics:?}"
    );
}

#[test]
fn damaged_profiles_are_errors_or_harmless() {
    for split in common::splits() {
        let item = split.test[0].clone();
        for m in methods_for(split.corpus) {
            if !m.is_trained() {
                continue;
            }
            let refs: Vec<&[u8]> = split.train.iter().map(|v| v.as_slice()).collect();
            let p = m.train(split.corpus, &refs).unwrap().unwrap();
            let z = m.compress(&item, Some(&p)).unwrap();
            for bad in damaged(&p.bytes) {
                let bp = Profile::new(p.method.clone(), bad);
                let _ = m.decompress(&z, item.len(), Some(&bp));
                let _ = m.compress(&item, Some(&bp));
            }
        }
    }
}
