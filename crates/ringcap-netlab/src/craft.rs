//! Capture files written byte by byte, for tests that need what no tool writes: timestamps at
//! the ends of their range, going backwards, fractions past a second.

/// A little-endian pcap file (micro- or nanosecond magic) of Ethernet frames, each stamped
/// (seconds, fraction) exactly as given.
pub fn pcap(nano: bool, records: &[(u32, u32, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&(if nano { 0xa1b2_3c4du32 } else { 0xa1b2_c3d4 }).to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&262_144u32.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes());
    for &(secs, frac, frame) in records {
        b.extend_from_slice(&secs.to_le_bytes());
        b.extend_from_slice(&frac.to_le_bytes());
        b.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        b.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        b.extend_from_slice(frame);
    }
    b
}

/// A little-endian pcapng file: one Ethernet interface whose `if_tsresol` byte is `tsresol`
/// (6 = microseconds, 9 = nanoseconds, 0x80 | n = 2^-n), one enhanced packet block per frame
/// with its 64-bit timestamp in those units.
pub fn pcapng(tsresol: u8, records: &[(u64, &[u8])]) -> Vec<u8> {
    fn block(b: &mut Vec<u8>, kind: u32, body: &[u8]) {
        let len = 12 + body.len() as u32;
        b.extend_from_slice(&kind.to_le_bytes());
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(body);
        b.extend_from_slice(&len.to_le_bytes());
    }
    let mut b = Vec::new();
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    block(&mut b, 0x0a0d_0d0a, &shb);
    let mut idb = Vec::new();
    idb.extend_from_slice(&1u16.to_le_bytes());
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&262_144u32.to_le_bytes());
    // if_tsresol: option 9, one byte padded to four; then the end of options.
    idb.extend_from_slice(&9u16.to_le_bytes());
    idb.extend_from_slice(&1u16.to_le_bytes());
    idb.extend_from_slice(&[tsresol, 0, 0, 0]);
    idb.extend_from_slice(&[0; 4]);
    block(&mut b, 1, &idb);
    for &(units, frame) in records {
        let mut epb = Vec::new();
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&((units >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(units as u32).to_le_bytes());
        epb.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        epb.extend_from_slice(frame);
        epb.resize(epb.len().next_multiple_of(4), 0);
        block(&mut b, 6, &epb);
    }
    b
}
