//! Incremental Internet checksum update (RFC 1624, equation 3): HC' = ~(~HC + ~m + m').

/// The checksum `sum` (as stored, network order) after the 4 bytes `old` became `new`.
#[inline(always)]
pub fn replace4(sum: [u8; 2], old: [u8; 4], new: [u8; 4]) -> [u8; 2] {
    let word = |bytes: [u8; 2]| u32::from(u16::from_be_bytes(bytes));
    let mut acc = word([!sum[0], !sum[1]]);
    acc += word([!old[0], !old[1]]) + word([!old[2], !old[3]]);
    acc += word([new[0], new[1]]) + word([new[2], new[3]]);
    // Five 16-bit words fit in 19 bits; two folds bring the carries back in.
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    (!(acc as u16)).to_be_bytes()
}
