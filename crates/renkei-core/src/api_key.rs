//! The format of renkei's API keys.
//!
//! A key reads `rk_<id>_<secret>`: `id` is 8 hex digits, public, shown by `renkei keys list`
//! and usable to revoke; `secret` is 32 random bytes in unpadded base64url. The database keeps
//! only the SHA-256 of the whole key. A plain hash (not a slow password hash) is the right tool
//! here because the secret has 256 bits of entropy: there is no dictionary to attack, and a
//! fast hash lets every request be authenticated by one indexed lookup.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::{KeyringError, Secret};

/// A freshly created key. The token is shown once and never stored.
#[derive(Debug)]
pub struct NewApiKey {
    pub id: String,
    pub token: Secret<String>,
    pub hash: String,
}

impl NewApiKey {
    pub fn generate() -> Result<Self, KeyringError> {
        let mut bytes = [0u8; 36];
        getrandom::fill(&mut bytes).map_err(|e| KeyringError::Random(e.to_string()))?;
        let id: String = bytes[..4].iter().map(|b| format!("{b:02x}")).collect();
        let token = format!("rk_{id}_{}", URL_SAFE_NO_PAD.encode(&bytes[4..]));
        let hash = hash_token(&token);
        Ok(Self {
            id,
            token: Secret::new(token),
            hash,
        })
    }
}

/// The stored form of a presented token.
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `token` has the shape of a renkei key (a cheap check before touching the database).
pub fn looks_like_key(token: &str) -> bool {
    let Some(rest) = token.strip_prefix("rk_") else {
        return false;
    };
    let Some((id, secret)) = rest.split_once('_') else {
        return false;
    };
    id.len() == 8 && id.bytes().all(|b| b.is_ascii_hexdigit()) && secret.len() == 43
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_documented_shape() {
        let k = NewApiKey::generate().unwrap();
        assert!(looks_like_key(k.token.expose()), "{}", k.token.expose());
        assert!(k.token.expose().starts_with(&format!("rk_{}_", k.id)));
        assert_eq!(k.hash, hash_token(k.token.expose()));
        assert_eq!(k.hash.len(), 64);
        assert_ne!(NewApiKey::generate().unwrap().hash, k.hash);
        assert!(!looks_like_key("Bearer x"));
        assert!(!looks_like_key("rk_zzzzzzzz_"));
    }
}
