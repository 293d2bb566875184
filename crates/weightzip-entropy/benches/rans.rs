//! rANS throughput per kernel: `cargo bench -p weightzip-entropy --bench rans
//! [-- PLANE_FILE...]` where each file holds one symbol plane (e.g. the
//! exponent bytes of real bf16 weights). Without files, synthetic
//! exponent-like and mantissa-like planes are used. Prints million symbols
//! per second (median of `WZ_REPEATS`, default 9) for encode, decode, and
//! for two planes decoded in lock step (`WZ_QUAD=1`: the two twice, four
//! payloads in lock step). `WZ_KERNEL=avx2` and
//! `WZ_WHAT=encode|decode|pair` restrict the run (for `perf stat`).
//! `WZ_ALIAS=1` codes with alias-layout tables of 64 buckets (symbols must
//! be below 64), `WZ_ALIAS=2` with 32 buckets (symbols from 31 up become
//! 31, as an escape symbol would).
//! The same plane file given twice decodes its payloads in lock step with
//! one shared table, as the codecs do.

use weightzip_entropy::rans::fused::WordSink;
use weightzip_entropy::rans::{self, Decoder, Kernel};
use weightzip_entropy::{histogram, AliasShape, DecodeTable, EncodeTable, FreqTable};

const CHUNK: usize = 2 << 20;

fn synthetic(n: usize, exponent_like: bool) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if exponent_like {
                118u8
                    .wrapping_add((x % 64).trailing_zeros() as u8)
                    .wrapping_sub((x >> 20 & 3) as u8)
            } else {
                (x >> 24) as u8 ^ ((x >> 40) as u8 & (x >> 48) as u8 & 0x70)
            }
        })
        .collect()
}

fn alias() -> Option<AliasShape> {
    match std::env::var("WZ_ALIAS").as_deref() {
        Ok("1") => Some(AliasShape::Narrow),
        Ok("2") => Some(AliasShape::Wide),
        _ => None,
    }
}

fn enc_table(t: &FreqTable) -> EncodeTable {
    match alias() {
        Some(shape) => EncodeTable::alias(t, shape).expect("alias table: symbols fit"),
        None => EncodeTable::new(t),
    }
}

fn dec_table(t: &FreqTable) -> DecodeTable {
    match alias() {
        Some(shape) => DecodeTable::alias(t, shape).expect("alias table: symbols fit"),
        None => DecodeTable::new(t),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Seconds of CPU time of this thread (immune to other processes taking
/// the core away; the machines we share are busy), wall time elsewhere.
#[cfg(target_os = "linux")]
fn now() -> f64 {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: clock_gettime writes one timespec to a valid pointer.
    unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.sec as f64 + ts.nsec as f64 * 1e-9
}

#[cfg(not(target_os = "linux"))]
fn now() -> f64 {
    use std::sync::OnceLock;
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
}

fn time(repeats: usize, symbols: usize, mut f: impl FnMut()) -> f64 {
    f();
    median(
        (0..repeats)
            .map(|_| {
                let t = now();
                f();
                symbols as f64 / 1e6 / (now() - t)
            })
            .collect(),
    )
}

struct Plane {
    name: String,
    chunks: Vec<(Vec<u8>, FreqTable, Vec<u8>)>,
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let repeats: usize = std::env::var("WZ_REPEATS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(9);
    let raw: Vec<(String, Vec<u8>)> = if args.is_empty() {
        vec![
            ("synthetic-exponent".into(), synthetic(8 << 20, true)),
            ("synthetic-mantissa".into(), synthetic(8 << 20, false)),
        ]
    } else {
        args.iter()
            .map(|p| {
                let mut data = std::fs::read(p).expect("readable plane file");
                if alias() == Some(AliasShape::Wide) {
                    data.iter_mut().for_each(|s| *s = (*s).min(31));
                }
                (p.clone(), data)
            })
            .collect()
    };
    let only_kernel = std::env::var("WZ_KERNEL").ok();
    let what = std::env::var("WZ_WHAT").unwrap_or_default();
    let want = |w: &str| what.is_empty() || what == w;
    let kernels: Vec<Kernel> = Kernel::supported()
        .into_iter()
        .filter(|k| only_kernel.as_deref().is_none_or(|o| o == k.name()))
        .collect();
    let planes: Vec<Plane> = raw
        .into_iter()
        .map(|(name, data)| Plane {
            name,
            chunks: data
                .chunks(CHUNK)
                .map(|c| {
                    let t = FreqTable::from_counts(&histogram(c), 12).unwrap();
                    let mut p = Vec::new();
                    rans::encode(c, &enc_table(&t), &mut p).unwrap();
                    (c.to_vec(), t, p)
                })
                .collect(),
        })
        .collect();
    if want("tables") {
        let t = &planes[0].chunks[0].1;
        let reps = 2000;
        let t0 = now();
        for _ in 0..reps {
            std::hint::black_box(dec_table(t));
        }
        let t1 = now();
        for _ in 0..reps {
            std::hint::black_box(enc_table(t));
        }
        let t2 = now();
        println!(
            "tables: decode {:.1} us, encode {:.1} us",
            (t1 - t0) / reps as f64 * 1e6,
            (t2 - t1) / reps as f64 * 1e6
        );
    }
    for plane in &planes {
        let n: usize = plane.chunks.iter().map(|c| c.0.len()).sum();
        let coded: usize = plane.chunks.iter().map(|c| c.2.len()).sum();
        println!(
            "{}: {} symbols, {:.3} bits/symbol",
            plane.name,
            n,
            coded as f64 * 8.0 / n as f64
        );
        let mut out = vec![0u8; CHUNK];
        for &k in &kernels {
            if !want("encode") && !want("decode") {
                continue;
            }
            let enc = if !want("encode") {
                0.0
            } else {
                time(repeats, n, || {
                    for (c, t, _) in &plane.chunks {
                        let mut p = Vec::with_capacity(c.len());
                        rans::encode_with(c, &enc_table(t), &mut p, k).unwrap();
                    }
                })
            };
            let dec = if !want("decode") {
                0.0
            } else {
                time(repeats, n, || {
                    for (c, t, p) in &plane.chunks {
                        rans::decode_with(p, &dec_table(t), &mut out[..c.len()], k).unwrap();
                    }
                })
            };
            println!(
                "  {:<8} encode {:>7.0} Msym/s   decode {:>7.0} Msym/s",
                k.name(),
                enc,
                dec
            );
        }
    }
    if want("pair") && planes.len() >= 2 && planes[0].chunks.len() == planes[1].chunks.len() {
        let (a, b) = (&planes[0], &planes[1]);
        let n: usize = a.chunks.iter().map(|c| c.0.len()).sum::<usize>()
            * 2
            * if std::env::var_os("WZ_QUAD").is_some() {
                2
            } else {
                1
            };
        let mut oa = vec![0u8; CHUNK];
        let mut ob = vec![0u8; CHUNK];
        let mut oc = vec![0u8; CHUNK];
        let mut od = vec![0u8; CHUNK];
        println!("{} + {} in lock step:", a.name, b.name);
        for &k in &kernels {
            let dec = time(repeats, n, || {
                for (ca, cb) in a.chunks.iter().zip(&b.chunks) {
                    let (ta, tb) = (dec_table(&ca.1), dec_table(&cb.1));
                    // The same plane twice shares one table (as the codecs do).
                    let tb = if a.name == b.name { &ta } else { &tb };
                    let len = ca.0.len();
                    let mut da = Decoder::new(&ca.2, &ta, len).unwrap();
                    let mut db = Decoder::new(&cb.2, tb, len).unwrap();
                    if std::env::var_os("WZ_QUAD").is_some() {
                        // The same two payloads twice more: 4 in lock step.
                        let mut dc = Decoder::new(&ca.2, &ta, len).unwrap();
                        let mut dd = Decoder::new(&cb.2, tb, len).unwrap();
                        for (((xa, xb), xc), xd) in oa[..len]
                            .chunks_mut(4096)
                            .zip(ob[..len].chunks_mut(4096))
                            .zip(oc[..len].chunks_mut(4096))
                            .zip(od[..len].chunks_mut(4096))
                        {
                            rans::decode_many(
                                [&mut da, &mut db, &mut dc, &mut dd],
                                [xa, xb, xc, xd],
                                k,
                            )
                            .unwrap();
                        }
                        dc.finish().unwrap();
                        dd.finish().unwrap();
                    } else {
                        for (xa, xb) in oa[..len].chunks_mut(4096).zip(ob[..len].chunks_mut(4096)) {
                            rans::decode_pair(&mut da, xa, &mut db, xb, k).unwrap();
                        }
                    }
                    da.finish().unwrap();
                    db.finish().unwrap();
                }
            });
            println!("  {:<8} decode {:>7.0} Msym/s", k.name(), dec);
        }
    }
    if want("words") && alias().is_some() && planes.len() >= 2 && a_and_b_match(&planes) {
        let (a, b) = (&planes[0], &planes[1]);
        let n: usize = a.chunks.iter().map(|c| c.0.len()).sum::<usize>() * 2;
        // Raw bits and fields of no meaning: only the speed is measured.
        let tops: [u16; 128] = std::array::from_fn(|i| (i as u16) << 6);
        let plane: Vec<u8> = (0..CHUNK / 4 + 64).map(|i| (i * 37) as u8).collect();
        let fields: Vec<u8> = (0..CHUNK * 3 / 2 + 64).map(|i| (i * 91) as u8).collect();
        let mut out = vec![0u8; 4 * CHUNK];
        println!("{} + {} into words:", a.name, b.name);
        let speed = time(repeats, n, || {
            for (ca, cb) in a.chunks.iter().zip(&b.chunks) {
                let t = dec_table(&ca.1);
                let len = ca.0.len();
                let mut da = Decoder::new(&ca.2, &t, len).unwrap();
                let mut db = Decoder::new(&cb.2, &t, len).unwrap();
                let (oa, ob) = out.split_at_mut(2 * CHUNK);
                let done = rans::fused::decode_pair_words(
                    &mut da,
                    &mut WordSink {
                        tops: &tops,
                        plane: &plane,
                        fields: &fields,
                        out: oa,
                    },
                    &mut db,
                    &mut WordSink {
                        tops: &tops,
                        plane: &plane,
                        fields: &fields,
                        out: ob,
                    },
                    Kernel::best(),
                );
                std::hint::black_box(done);
            }
        });
        println!("  fused    decode {:>7.0} Mvalues/s", speed);
    }
}

/// Whether the first two planes are the same file (one table for both).
fn a_and_b_match(planes: &[Plane]) -> bool {
    planes[0].name == planes[1].name
}
