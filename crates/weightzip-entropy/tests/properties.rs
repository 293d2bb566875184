//! Property tests: every stream round-trips, and no input makes a decoder panic.

use proptest::prelude::*;
use weightzip_entropy::stream::{decode_stream, encode_stream, parse_stream};
use weightzip_entropy::ByteReader;
use weightzip_entropy::{histogram, rans, DecodeTable, EncodeTable, FreqTable};

fn skewed_bytes() -> impl Strategy<Value = Vec<u8>> {
    // Mixtures of a few frequent symbols and random ones, like real planes.
    (
        prop::collection::vec(any::<u8>(), 1..6),
        prop::collection::vec(any::<u16>(), 0..3000),
    )
        .prop_map(|(common, picks)| {
            picks
                .iter()
                .map(|&p| {
                    if p % 7 == 0 {
                        (p >> 8) as u8
                    } else {
                        common[p as usize % common.len()]
                    }
                })
                .collect()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn stream_round_trips(symbols in skewed_bytes()) {
        let mut buf = Vec::new();
        encode_stream(&symbols, &mut buf).unwrap();
        let mut back = vec![0u8; symbols.len()];
        let mut r = ByteReader::new(&buf);
        decode_stream(&mut r, &mut back).unwrap();
        prop_assert_eq!(r.pos(), buf.len());
        prop_assert_eq!(back, symbols);
    }

    #[test]
    fn rans_round_trips_at_every_precision(symbols in skewed_bytes(), bits in 8u32..=15) {
        prop_assume!(!symbols.is_empty());
        let t = FreqTable::from_counts(&histogram(&symbols), bits).unwrap();
        let mut payload = Vec::new();
        rans::encode(&symbols, &EncodeTable::new(&t), &mut payload).unwrap();
        let mut back = vec![0u8; symbols.len()];
        rans::decode(&payload, &DecodeTable::new(&t), &mut back).unwrap();
        prop_assert_eq!(back, symbols);
    }

    #[test]
    fn stream_decoder_survives_random_input(bytes in prop::collection::vec(any::<u8>(), 0..600), n in 0usize..2000) {
        let mut out = vec![0u8; n];
        let _ = decode_stream(&mut ByteReader::new(&bytes), &mut out);
        let _ = parse_stream(&mut ByteReader::new(&bytes), n);
    }

    #[test]
    fn stream_decoder_survives_mutations(symbols in skewed_bytes(), flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let mut buf = Vec::new();
        encode_stream(&symbols, &mut buf).unwrap();
        for (at, x) in flips {
            let i = at % buf.len();
            buf[i] ^= x | 1;
        }
        let mut out = vec![0u8; symbols.len()];
        let _ = decode_stream(&mut ByteReader::new(&buf), &mut out);
    }
}
