//! Netlink attribute helpers for the tests that check requests byte by byte.

/// (type, payload) of each netlink attribute in `buf`.
pub fn attrs(mut buf: &[u8]) -> Vec<(u16, Vec<u8>)> {
    let mut out = Vec::new();
    while buf.len() >= 4 {
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        let ty = u16::from_ne_bytes([buf[2], buf[3]]) & 0x3fff; // without NLA_F_NESTED / BYTEORDER
        assert!(len >= 4 && len <= buf.len(), "bad attribute length {len}");
        out.push((ty, buf[4..len].to_vec()));
        let aligned = (len + 3) & !3;
        buf = &buf[aligned.min(buf.len())..];
    }
    out
}

/// The payload of attribute `ty`.
pub fn get(attrs: &[(u16, Vec<u8>)], ty: u16) -> Vec<u8> {
    attrs.iter().find(|(t, _)| *t == ty).unwrap_or_else(|| panic!("attribute {ty} missing in {attrs:?}")).1.clone()
}

pub fn u32_of(b: &[u8]) -> u32 {
    u32::from_ne_bytes(b[..4].try_into().unwrap())
}

pub fn u16_of(b: &[u8]) -> u16 {
    u16::from_ne_bytes(b[..2].try_into().unwrap())
}

/// Split a request into (type, flags, family, index, ifi_flags, ifi_change, attributes).
pub type LinkRequest = (u16, u16, u8, u32, u32, u32, Vec<(u16, Vec<u8>)>);

pub fn link_request(bytes: &[u8]) -> LinkRequest {
    assert_eq!(u32_of(&bytes[0..4]) as usize, bytes.len(), "nlmsg_len");
    let ty = u16_of(&bytes[4..6]);
    let flags = u16_of(&bytes[6..8]);
    let ifi = &bytes[16..32];
    (ty, flags, ifi[0], u32_of(&ifi[4..8]), u32_of(&ifi[8..12]), u32_of(&ifi[12..16]), attrs(&bytes[32..]))
}
