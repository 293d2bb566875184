//! Symbol histograms and Shannon entropies.

/// Counts of each byte value.
pub type Histogram = [u64; 256];

/// Counts every byte of `data`.
///
/// Four sub-histograms break the store-to-load dependency when the same
/// value repeats (as exponent bytes do), which roughly doubles throughput.
pub fn histogram(data: &[u8]) -> Histogram {
    let mut sub = [[0u32; 256]; 4];
    let mut total = [0u64; 256];
    // u32 sub-counts cannot overflow within a block of 4 * 2^30 bytes.
    for block in data.chunks(1 << 30) {
        let mut quads = block.chunks_exact(4);
        for q in &mut quads {
            sub[0][q[0] as usize] += 1;
            sub[1][q[1] as usize] += 1;
            sub[2][q[2] as usize] += 1;
            sub[3][q[3] as usize] += 1;
        }
        for &b in quads.remainder() {
            sub[0][b as usize] += 1;
        }
        for s in sub.iter_mut() {
            for (t, c) in total.iter_mut().zip(s.iter_mut()) {
                *t += u64::from(*c);
                *c = 0;
            }
        }
    }
    total
}

/// Shannon entropy in bits per symbol of a histogram (0 for an empty one).
pub fn entropy_bits(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let total_f = total as f64;
    let mut h = 0.0;
    for &c in counts {
        if c > 0 {
            let p = c as f64 / total_f;
            h -= p * p.log2();
        }
    }
    h
}

/// Conditional entropy H(Y | X) in bits from a joint count table laid out
/// as `joint[x * ny + y]`.
pub fn conditional_entropy_bits(joint: &[u64], ny: usize) -> f64 {
    if ny == 0 {
        return 0.0;
    }
    let total: u64 = joint.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let mut h = 0.0;
    for row in joint.chunks(ny) {
        let row_total: u64 = row.iter().sum();
        if row_total > 0 {
            h += row_total as f64 / total as f64 * entropy_bits(row);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_counts_every_byte() {
        let data: Vec<u8> = (0..1003u32).map(|i| (i * 7 % 13) as u8).collect();
        let h = histogram(&data);
        let mut naive = [0u64; 256];
        for &b in &data {
            naive[b as usize] += 1;
        }
        assert_eq!(h, naive);
    }

    #[test]
    fn entropy_of_known_distributions() {
        assert_eq!(entropy_bits(&[]), 0.0);
        assert_eq!(entropy_bits(&[5]), 0.0);
        assert!((entropy_bits(&[1, 1]) - 1.0).abs() < 1e-12);
        assert!((entropy_bits(&[1; 256]) - 8.0).abs() < 1e-12);
        // H(Y|X) = 0 when Y is a function of X, H(Y) when independent.
        assert!(conditional_entropy_bits(&[3, 0, 0, 5], 2).abs() < 1e-12);
        assert!((conditional_entropy_bits(&[2, 2, 3, 3], 2) - 1.0).abs() < 1e-12);
    }
}
