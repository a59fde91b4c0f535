//! [`Keyring`]: AES-256-GCM encryption of credentials at rest, with key rotation.
//!
//! Every ciphertext starts with a format tag and the id of the key that sealed it, so a
//! deployment can rotate keys: the first key of the ring encrypts, every key decrypts, and
//! old rows stay readable until they are rewritten. The id is derived from the key itself
//! (a truncated SHA-256), which means operators never have to name keys and a wrong key is
//! reported as "unknown key id" instead of a confusing authentication failure.
//!
//! Callers pass an `aad` (additional authenticated data) naming the row a ciphertext belongs
//! to, e.g. `connection:acme:hubspot`. A ciphertext copied into another row then fails to
//! decrypt instead of silently handing one tenant's tokens to another.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

const MAGIC: &[u8; 3] = b"rk1";
const KEY_ID_LEN: usize = 8;
const NONCE_LEN: usize = 12;
const HEADER_LEN: usize = MAGIC.len() + KEY_ID_LEN + NONCE_LEN;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    #[error(
        "no secret key given; expected one or more base64-encoded 32-byte keys separated by commas"
    )]
    Empty,
    #[error("secret key #{index} is not valid base64: {reason}")]
    BadBase64 { index: usize, reason: String },
    #[error(
        "secret key #{index} is {len} bytes long after base64 decoding; AES-256 needs exactly 32"
    )]
    WrongLength { index: usize, len: usize },
    #[error(
        "ciphertext was sealed with key id {key_id}, which is not in the keyring (was a key removed from RENKEI_SECRET_KEY?)"
    )]
    UnknownKey { key_id: String },
    #[error("ciphertext is truncated or not in renkei's format")]
    Malformed,
    #[error("ciphertext failed authentication: it was altered, or it belongs to another record")]
    Tampered,
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
}

struct Key {
    id: [u8; KEY_ID_LEN],
    cipher: Aes256Gcm,
    /// A separate key for MACs, derived so that the encryption key is never used for two
    /// purposes.
    mac_key: [u8; 32],
}

/// An ordered set of AES-256 keys. The first one encrypts; all of them decrypt.
pub struct Keyring {
    keys: Vec<Key>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<String> = self.keys.iter().map(|k| hex(&k.id)).collect();
        f.debug_struct("Keyring").field("key_ids", &ids).finish()
    }
}

impl Keyring {
    /// Parses a comma-separated list of base64 keys, as in `RENKEI_SECRET_KEY`.
    pub fn parse(list: &str) -> Result<Self, KeyringError> {
        let mut keys = Vec::new();
        for (i, part) in list
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .enumerate()
        {
            let index = i + 1;
            let bytes = STANDARD.decode(part).map_err(|e| KeyringError::BadBase64 {
                index,
                reason: e.to_string(),
            })?;
            if bytes.len() != 32 {
                return Err(KeyringError::WrongLength {
                    index,
                    len: bytes.len(),
                });
            }
            keys.push(Key::new(&bytes));
        }
        if keys.is_empty() {
            return Err(KeyringError::Empty);
        }
        Ok(Self { keys })
    }

    /// A fresh random key, base64-encoded, suitable for `RENKEI_SECRET_KEY` or a key file.
    pub fn generate_key() -> Result<String, KeyringError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| KeyringError::Random(e.to_string()))?;
        Ok(STANDARD.encode(key))
    }

    /// An HMAC-SHA256 tag (base64url) over `purpose` and `data` with the primary key's MAC
    /// key. Used for values that leave renkei and come back, like an OAuth `state`.
    pub fn sign(&self, purpose: &str, data: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac(&self.keys[0], purpose, data))
    }

    /// Whether `tag` is [`Keyring::sign`]'s tag for `purpose` and `data` under any key of the
    /// ring (so values signed before a rotation stay valid). Compared in constant time.
    pub fn verify(&self, purpose: &str, data: &[u8], tag: &str) -> bool {
        let Ok(raw) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(tag) else {
            return false;
        };
        self.keys.iter().any(|k| {
            let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&k.mac_key).expect("any key length");
            m.update(purpose.as_bytes());
            m.update(b"\0");
            m.update(data);
            m.verify_slice(&raw).is_ok()
        })
    }

    /// The id (16 hex digits) of the key that encrypts.
    pub fn primary_key_id(&self) -> String {
        hex(&self.keys[0].id)
    }

    pub fn encrypt(&self, plaintext: &[u8], aad: &str) -> Result<Vec<u8>, KeyringError> {
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| KeyringError::Random(e.to_string()))?;
        let sealed = key
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            // Encryption only fails for plaintexts beyond AES-GCM's 64 GiB limit.
            .map_err(|_| KeyringError::Malformed)?;
        let mut out = Vec::with_capacity(HEADER_LEN + sealed.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&key.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub fn decrypt(&self, ciphertext: &[u8], aad: &str) -> Result<Vec<u8>, KeyringError> {
        if ciphertext.len() < HEADER_LEN + 16 || &ciphertext[..MAGIC.len()] != MAGIC {
            return Err(KeyringError::Malformed);
        }
        let id = &ciphertext[MAGIC.len()..MAGIC.len() + KEY_ID_LEN];
        let nonce = &ciphertext[MAGIC.len() + KEY_ID_LEN..HEADER_LEN];
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| KeyringError::UnknownKey { key_id: hex(id) })?;
        key.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: &ciphertext[HEADER_LEN..],
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| KeyringError::Tampered)
    }

    /// The id of the key that sealed `ciphertext`, if it is in renkei's format.
    pub fn key_id_of(ciphertext: &[u8]) -> Option<String> {
        (ciphertext.len() >= HEADER_LEN && &ciphertext[..MAGIC.len()] == MAGIC)
            .then(|| hex(&ciphertext[MAGIC.len()..MAGIC.len() + KEY_ID_LEN]))
    }
}

impl Key {
    fn new(bytes: &[u8]) -> Self {
        let digest = Sha256::new()
            .chain_update(b"renkei key id v1\0")
            .chain_update(bytes)
            .finalize();
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        // `new_from_slice` only fails on a wrong length, which `parse` has ruled out.
        let cipher = Aes256Gcm::new(aes_gcm::Key::<Aes256Gcm>::from_slice(bytes));
        let mac_key: [u8; 32] = Sha256::new()
            .chain_update(b"renkei mac key v1\0")
            .chain_update(bytes)
            .finalize()
            .into();
        Self {
            id,
            cipher,
            mac_key,
        }
    }
}

fn mac(key: &Key, purpose: &str, data: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&key.mac_key).expect("any key length");
    m.update(purpose.as_bytes());
    m.update(b"\0");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        STANDARD.encode([byte; 32])
    }

    #[test]
    fn round_trip_and_aad_binding() {
        let ring = Keyring::parse(&key(1)).unwrap();
        let ct = ring
            .encrypt(b"refresh-token-123", "connection:acme:hubspot")
            .unwrap();
        assert!(!ct.windows(17).any(|w| w == b"refresh-token-123"));
        assert_eq!(
            ring.decrypt(&ct, "connection:acme:hubspot").unwrap(),
            b"refresh-token-123"
        );
        assert_eq!(
            ring.decrypt(&ct, "connection:other:hubspot"),
            Err(KeyringError::Tampered)
        );
    }

    #[test]
    fn nonces_differ() {
        let ring = Keyring::parse(&key(1)).unwrap();
        assert_ne!(
            ring.encrypt(b"x", "a").unwrap(),
            ring.encrypt(b"x", "a").unwrap()
        );
    }

    #[test]
    fn rotation_first_encrypts_all_decrypt() {
        let old = Keyring::parse(&key(1)).unwrap();
        let old_ct = old.encrypt(b"old", "a").unwrap();
        let rotated = Keyring::parse(&format!("{}, {}", key(2), key(1))).unwrap();
        assert_eq!(rotated.decrypt(&old_ct, "a").unwrap(), b"old");
        let new_ct = rotated.encrypt(b"new", "a").unwrap();
        assert_eq!(
            Keyring::key_id_of(&new_ct).unwrap(),
            rotated.primary_key_id()
        );
        assert_ne!(rotated.primary_key_id(), old.primary_key_id());
        match old.decrypt(&new_ct, "a") {
            Err(KeyringError::UnknownKey { key_id }) => {
                assert_eq!(key_id, rotated.primary_key_id())
            }
            other => panic!("expected UnknownKey, got {other:?}"),
        }
    }

    #[test]
    fn tampering_and_garbage_are_errors() {
        let ring = Keyring::parse(&key(1)).unwrap();
        let mut ct = ring.encrypt(b"secret", "a").unwrap();
        let last = ct.len() - 1;
        ct[last] ^= 1;
        assert_eq!(ring.decrypt(&ct, "a"), Err(KeyringError::Tampered));
        assert_eq!(ring.decrypt(b"short", "a"), Err(KeyringError::Malformed));
    }

    #[test]
    fn signatures_verify_across_rotation_and_bind_their_purpose() {
        let old = Keyring::generate_key().unwrap();
        let new = Keyring::generate_key().unwrap();
        let before = Keyring::parse(&old).unwrap();
        let tag = before.sign("state", b"abc");
        assert!(before.verify("state", b"abc", &tag));
        assert!(!before.verify("state", b"abd", &tag));
        assert!(!before.verify("other", b"abc", &tag));
        assert!(!before.verify("state", b"abc", "not base64!"));
        let rotated = Keyring::parse(&format!("{new},{old}")).unwrap();
        assert!(rotated.verify("state", b"abc", &tag));
        let foreign = Keyring::parse(&new).unwrap();
        assert!(!foreign.verify("state", b"abc", &tag));
    }

    #[test]
    fn parse_errors_are_specific() {
        assert_eq!(Keyring::parse(" , ").unwrap_err(), KeyringError::Empty);
        assert!(matches!(
            Keyring::parse("!!!"),
            Err(KeyringError::BadBase64 { index: 1, .. })
        ));
        let short = STANDARD.encode([0u8; 16]);
        assert_eq!(
            Keyring::parse(&format!("{},{short}", key(1))).unwrap_err(),
            KeyringError::WrongLength { index: 2, len: 16 }
        );
        assert!(Keyring::parse(&Keyring::generate_key().unwrap()).is_ok());
    }
}
