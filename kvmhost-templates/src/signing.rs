//! Ed25519 signatures over package manifests, in minisign's formats: keys made by
//! `minisign -G` (unencrypted with `-W`, or encrypted with a password) sign packages, and a
//! package's manifest signature verifies with `minisign -Vm manifest.json -p KEY.pub`.
//!
//! ```
//! use kvmhost_templates::signing::{generate_keypair, verify, sign};
//! let (secret, public) = generate_keypair().unwrap();
//! let sig = sign(&secret, b"manifest bytes").unwrap();
//! assert_eq!(verify(&[public.clone()], b"manifest bytes", &sig).unwrap(), public.key_id());
//! assert!(verify(&[public], b"tampered", &sig).is_err());
//! ```

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Errors of keys and signatures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SigningError {
    /// A key file that cannot be read.
    #[error("cannot read key file {path}")]
    ReadKey {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A key that is not a minisign key.
    #[error("{what} is not a minisign key: {reason}")]
    BadKey {
        /// Which key (a file name or "public key").
        what: String,
        /// minisign's reason.
        reason: String,
    },
    /// An encrypted secret key without (or with a wrong) password.
    #[error("secret key {what} is encrypted: give its password (KVMHOST_MINISIGN_PASSWORD)")]
    Encrypted {
        /// Which key.
        what: String,
    },
    /// A signature that is not a minisign signature.
    #[error("malformed signature: {0}")]
    BadSignature(String),
    /// The signature's key is none of the trusted keys.
    #[error("signed by key {0}, which is not trusted")]
    UntrustedKey(KeyId),
    /// The signature does not match the data.
    #[error("signature by key {0} does not verify")]
    Invalid(KeyId),
    /// Signing itself failed.
    #[error("cannot sign: {0}")]
    Sign(String),
}

/// A key's 8-byte id, shown as minisign shows it (16 upper-case hex digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; 8]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016X}", u64::from_le_bytes(self.0))
    }
}

impl FromStr for KeyId {
    type Err = SigningError;
    fn from_str(s: &str) -> Result<KeyId, SigningError> {
        let bad = || SigningError::BadKey { what: "key id".into(), reason: format!("{s:?} is not 16 hex digits") };
        if s.len() != 16 {
            return Err(bad());
        }
        let v = u64::from_str_radix(s, 16).map_err(|_| bad())?;
        Ok(KeyId(v.to_le_bytes()))
    }
}

impl Serialize for KeyId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

fn key_id(bytes: &[u8]) -> KeyId {
    let mut k = [0u8; 8];
    k.copy_from_slice(&bytes[..8]);
    KeyId(k)
}

/// A secret key that signs manifests.
pub struct SecretKey {
    sk: minisign::SecretKey,
    id: KeyId,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.id)
    }
}

impl SecretKey {
    /// Reads a minisign secret key file; `password` opens an encrypted one.
    pub fn from_file(path: &Path, password: Option<&str>) -> Result<SecretKey, SigningError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SigningError::ReadKey { path: path.display().to_string(), source: e })?;
        SecretKey::from_text(&text, password, &path.display().to_string())
    }

    /// Parses a secret key file's text (`untrusted comment:` line, then the key).
    pub fn from_text(text: &str, password: Option<&str>, what: &str) -> Result<SecretKey, SigningError> {
        let bad = |e: minisign::PError| SigningError::BadKey { what: what.to_string(), reason: e.to_string() };
        if let Some(sk) = unencrypted_without_checksum(text) {
            let id = key_id(sk.keynum());
            return Ok(SecretKey { sk, id });
        }
        let boxed = minisign::SecretKeyBox::from_string(text).map_err(bad)?;
        let encrypted = key_line_bytes(text).is_some_and(|b| b.len() >= 4 && b[2..4] != [0, 0]);
        let sk = if encrypted {
            let pw = password.ok_or_else(|| SigningError::Encrypted { what: what.to_string() })?;
            let sk = boxed
                .into_secret_key(Some(pw.to_string()))
                .map_err(|_| SigningError::Encrypted { what: what.to_string() })?;
            if sk.is_encrypted() {
                return Err(SigningError::Encrypted { what: what.to_string() });
            }
            sk
        } else {
            boxed.into_unencrypted_secret_key().map_err(bad)?
        };
        let id = key_id(sk.keynum());
        Ok(SecretKey { sk, id })
    }

    /// The key's id.
    pub fn key_id(&self) -> KeyId {
        self.id
    }
}

/// Raw bytes of a minisign secret key: algorithm, KDF algorithm, checksum algorithm, salt,
/// limits, key number, key, checksum.
const SECRET_KEY_BYTES: usize = 2 + 2 + 2 + 32 + 8 + 8 + 8 + 64 + 32;

/// An unencrypted key as the minisign tool writes it with `-W` (minisign 0.11): no KDF and an
/// all-zero checksum field, which the `minisign` crate reads as a corrupted key. Such a key is
/// taken as it is (there is no checksum to check); `None` for anything else.
fn unencrypted_without_checksum(text: &str) -> Option<minisign::SecretKey> {
    let bytes = key_line_bytes(text)?;
    if bytes.len() != SECRET_KEY_BYTES || &bytes[0..2] != b"Ed" || bytes[2..4] != [0, 0] {
        return None;
    }
    if bytes[SECRET_KEY_BYTES - 32..].iter().any(|&b| b != 0) {
        return None;
    }
    minisign::SecretKey::from_bytes(&bytes).ok()
}

/// The decoded key line of a key file (the first line that is not a comment).
fn key_line_bytes(text: &str) -> Option<Vec<u8>> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))?;
    base64_decode(line)
}

/// Standard base64 with padding (what minisign writes); `None` on anything else.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let b = s.as_bytes();
    if !b.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    for (i, q) in b.chunks(4).enumerate() {
        let last = i == b.len() / 4 - 1;
        let pad = q.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &q[..4 - pad] {
            n = (n << 6) | val(c)?;
        }
        n <<= 6 * pad as u32;
        out.extend_from_slice(&n.to_be_bytes()[1..4 - pad]);
    }
    Some(out)
}

/// A public key whose signatures are trusted.
#[derive(Clone)]
pub struct PublicKey {
    pk: minisign::PublicKey,
    id: KeyId,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.id)
    }
}

impl PublicKey {
    /// Reads a minisign public key file (or a file holding only the base64 line).
    pub fn from_file(path: &Path) -> Result<PublicKey, SigningError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SigningError::ReadKey { path: path.display().to_string(), source: e })?;
        PublicKey::from_text(&text, &path.display().to_string())
    }

    /// Parses a public key file's text, or the bare base64 key.
    pub fn from_text(text: &str, what: &str) -> Result<PublicKey, SigningError> {
        let bad = |e: minisign::PError| SigningError::BadKey { what: what.to_string(), reason: e.to_string() };
        let line = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"));
        let pk = minisign::PublicKey::from_base64(line.unwrap_or("")).map_err(bad)?;
        let id = key_id(pk.keynum());
        Ok(PublicKey { pk, id })
    }

    /// The key's id.
    pub fn key_id(&self) -> KeyId {
        self.id
    }

    /// The key file's text (minisign's format).
    pub fn to_text(&self) -> String {
        let b = self.pk.to_box().expect("a decoded key encodes");
        b.into_string()
    }
}

/// Makes a new unencrypted key pair.
pub fn generate_keypair() -> Result<(SecretKey, PublicKey), SigningError> {
    let kp = minisign::KeyPair::generate_unencrypted_keypair().map_err(|e| SigningError::Sign(e.to_string()))?;
    let id = key_id(kp.pk.keynum());
    Ok((SecretKey { sk: kp.sk, id }, PublicKey { pk: kp.pk, id }))
}

/// The secret key file's text of `key` (unencrypted, as `minisign -G -W` writes).
pub fn secret_key_text(key: &SecretKey) -> Result<String, SigningError> {
    let b = key.sk.to_box(None).map_err(|e| SigningError::Sign(e.to_string()))?;
    Ok(b.into_string())
}

/// Signs `data`; returns the signature file's text (minisign's `.minisig` format).
pub fn sign(key: &SecretKey, data: &[u8]) -> Result<String, SigningError> {
    let trusted = format!("kvmhost manifest, key {}", key.id);
    let sig =
        minisign::sign(None, &key.sk, data, Some(&trusted), None).map_err(|e| SigningError::Sign(e.to_string()))?;
    Ok(sig.into_string())
}

/// The key id a signature names, without verifying it.
pub fn signature_key_id(signature: &str) -> Result<KeyId, SigningError> {
    let sb = minisign::SignatureBox::from_string(signature).map_err(|e| SigningError::BadSignature(e.to_string()))?;
    Ok(key_id(sb.keynum()))
}

/// Verifies `signature` over `data` with whichever trusted key it names; returns that key's id.
pub fn verify(trusted: &[PublicKey], data: &[u8], signature: &str) -> Result<KeyId, SigningError> {
    let sb = minisign::SignatureBox::from_string(signature).map_err(|e| SigningError::BadSignature(e.to_string()))?;
    let id = key_id(sb.keynum());
    let key = trusted.iter().find(|k| k.id == id).ok_or(SigningError::UntrustedKey(id))?;
    minisign::verify(&key.pk, &sb, std::io::Cursor::new(data), true, false, false)
        .map_err(|_| SigningError::Invalid(id))?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_round_trip_and_other_keys_are_untrusted() {
        let (sk, pk) = generate_keypair().unwrap();
        let sk2 = SecretKey::from_text(&secret_key_text(&sk).unwrap(), None, "sk").unwrap();
        let pk2 = PublicKey::from_text(&pk.to_text(), "pk").unwrap();
        assert_eq!(sk2.key_id(), pk2.key_id());
        let sig = sign(&sk2, b"m").unwrap();
        assert_eq!(signature_key_id(&sig).unwrap(), pk.key_id());
        let (_, other) = generate_keypair().unwrap();
        assert!(matches!(verify(&[other], b"m", &sig), Err(SigningError::UntrustedKey(_))));
        assert!(matches!(verify(std::slice::from_ref(&pk2), b"n", &sig), Err(SigningError::Invalid(_))));
        assert!(matches!(verify(&[pk2], b"m", "garbage"), Err(SigningError::BadSignature(_))));
        assert_eq!(pk.key_id().to_string().parse::<KeyId>().unwrap(), pk.key_id());
        assert!(PublicKey::from_text("untrusted comment: x\nnot base64!", "k").is_err());
    }

    #[test]
    fn base64_round_trips() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVsbG8h").unwrap(), b"hello!");
        assert_eq!(base64_decode("aGk=").unwrap(), b"hi");
        assert_eq!(base64_decode("aA==").unwrap(), b"h");
        assert!(
            base64_decode("aGk").is_none() && base64_decode("a===").is_none() && base64_decode("aA==aA==").is_none()
        );
        assert!(base64_decode("aG!=").is_none());
    }

    /// The key `minisign -G -W` (0.11) wrote: no KDF, a zero checksum.
    #[test]
    fn keys_of_minisign_0_11_without_password_are_read() {
        let key = "untrusted comment: minisign secret key\n\
            RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA0NSkD7Jd8fR2/uHuNfTt8jWZtC85uDFzIi97v64m4Oy1WkhXek7pdot7oP1NVA0/rTsfPOiaxma5ME9yKUKTuo8kmo3eKwuaAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let pk = PublicKey::from_text("RWTQ1KQPsl3x9It7oP1NVA0/rTsfPOiaxma5ME9yKUKTuo8kmo3eKwua", "pk").unwrap();
        let sk = SecretKey::from_text(key, None, "sk").unwrap();
        assert_eq!(sk.key_id(), pk.key_id());
        let sig = sign(&sk, b"m").unwrap();
        assert_eq!(verify(&[pk], b"m", &sig).unwrap(), sk.key_id());
    }
}
