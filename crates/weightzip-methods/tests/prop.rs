//! Arbitrary inputs (any length, any bytes) round-trip through every
//! untrained method of the float corpora and through the Q4_K coders.

use proptest::prelude::*;
use weightzip_methods::{method_for, methods_for, Corpus};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn float_methods_round_trip_any_bytes(data in proptest::collection::vec(any::<u8>(), 0..3000), skew in 0u8..4) {
        // Skewed high bytes make the rANS paths run, not only the raw ones.
        let data: Vec<u8> = data
            .iter()
            .enumerate()
            .map(|(i, &b)| if i % 2 == 1 { b >> skew } else { b })
            .collect();
        for corpus in [Corpus::Bf16Tensor, Corpus::Fp16Tensor, Corpus::Fp32Tensor] {
            for m in methods_for(corpus) {
                if m.is_trained() || matches!(m.name(), "xz9" | "brotli_q9") {
                    continue;
                }
                let z = m.compress(&data, None).unwrap();
                prop_assert_eq!(&m.decompress(&z, data.len(), None).unwrap(), &data, "{}", m.name());
            }
        }
    }

    #[test]
    fn trained_planes_code_unseen_bytes(train in proptest::collection::vec(any::<u8>(), 2..2000), data in proptest::collection::vec(any::<u8>(), 0..2000)) {
        for name in ["bf16_pretrained_k1", "bf16_mixture_k4"] {
            let m = method_for(name, Corpus::Bf16Tensor).unwrap();
            let p = m.train(Corpus::Bf16Tensor, &[&train, &train[..train.len() / 2]]).unwrap();
            let z = m.compress(&data, p.as_ref()).unwrap();
            prop_assert_eq!(&m.decompress(&z, data.len(), p.as_ref()).unwrap(), &data);
        }
    }

    #[test]
    fn q4k_coders_round_trip_any_blocks(blocks in 0usize..6, seed in any::<u64>(), fill in any::<u8>()) {
        let mut x = seed | 1;
        let data: Vec<u8> = (0..blocks * 144)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if i % 3 == 0 { fill } else { x as u8 }
            })
            .collect();
        let qa = method_for("qa", Corpus::Q4kStream).unwrap();
        let z = qa.compress(&data, None).unwrap();
        prop_assert_eq!(&qa.decompress(&z, data.len(), None).unwrap(), &data);
        let qb = method_for("qb_k4", Corpus::Q4kStream).unwrap();
        let p = qb.train(Corpus::Q4kStream, &[&data[..data.len() / 144 / 2 * 144], &data]).ok().flatten();
        if let Some(p) = p {
            let z = qb.compress(&data, Some(&p)).unwrap();
            prop_assert_eq!(&qb.decompress(&z, data.len(), Some(&p)).unwrap(), &data);
        }
    }
}
