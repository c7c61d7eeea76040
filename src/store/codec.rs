//! Compact, lossless encodings of a run's per-row results for the `scores` table.
//!
//! Encoding 1: scores as little-endian f64 (bit-exact), flags as a little-endian bitset, row ids
//! as little-endian u64 — or no row ids at all when they are simply 0..n, the common case.

pub const ENCODING: i64 = 1;

pub fn encode_scores(scores: &[f64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(scores.len() * 8);
    for s in scores {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

pub fn decode_scores(bytes: &[u8], n: usize) -> Option<Vec<f64>> {
    if bytes.len() != n * 8 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect(),
    )
}

pub fn encode_flags(flags: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; flags.len().div_ceil(8)];
    for (i, &f) in flags.iter().enumerate() {
        if f != 0 {
            out[i / 8] |= 1 << (i % 8);
        }
    }
    out
}

pub fn decode_flags(bytes: &[u8], n: usize) -> Option<Vec<u8>> {
    if bytes.len() != n.div_ceil(8) {
        return None;
    }
    Some((0..n).map(|i| (bytes[i / 8] >> (i % 8)) & 1).collect())
}

/// `None` when the ids are 0..n (nothing to store).
pub fn encode_row_ids(row_ids: &[u64]) -> Option<Vec<u8>> {
    if row_ids.iter().enumerate().all(|(i, &r)| r == i as u64) {
        return None;
    }
    let mut out = Vec::with_capacity(row_ids.len() * 8);
    for r in row_ids {
        out.extend_from_slice(&r.to_le_bytes());
    }
    Some(out)
}

pub fn decode_row_ids(bytes: Option<&[u8]>, n: usize) -> Option<Vec<u64>> {
    match bytes {
        None => Some((0..n as u64).collect()),
        Some(b) if b.len() == n * 8 => Some(
            b.chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect(),
        ),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_are_exact() {
        let scores = vec![0.1, -0.0, f64::MAX, 1e-300, 3.0];
        assert_eq!(decode_scores(&encode_scores(&scores), 5).unwrap(), scores);
        let flags = vec![1, 0, 0, 1, 1, 0, 0, 0, 1];
        let enc = encode_flags(&flags);
        assert_eq!(enc.len(), 2);
        assert_eq!(decode_flags(&enc, 9).unwrap(), flags);
        assert!(encode_row_ids(&[0, 1, 2]).is_none());
        let ids = vec![0, 2, 5];
        let enc = encode_row_ids(&ids);
        assert_eq!(decode_row_ids(enc.as_deref(), 3).unwrap(), ids);
        assert_eq!(decode_row_ids(None, 3).unwrap(), vec![0, 1, 2]);
    }

    #[test]
    fn wrong_lengths_are_refused() {
        assert!(decode_scores(&[0; 15], 2).is_none());
        assert!(decode_flags(&[0; 3], 9).is_none());
        assert!(decode_row_ids(Some(&[0; 8]), 2).is_none());
    }
}
