//! Search refs and search aliases. A ref names a card's organisation for the one member who was
//! shown it: its public id encrypted with a server key (AES-256-GCM-SIV, deterministic, with the
//! searcher's public id as associated data), so another member who uses it gets nothing, and
//! nobody can read an id out of it. A card's alias comes from a keyed hash of the searcher and
//! the organisation: stable for that searcher, unrelated to any alias another member sees.

use aes_gcm_siv::aead::{Aead, KeyInit, Payload};
use aes_gcm_siv::{Aes256GcmSiv, Nonce};
use base64::Engine;
use hmac::Mac;
use sha2::{Digest, Sha256};

pub struct SearchRefs {
    cipher: Aes256GcmSiv,
    alias_key: [u8; 32],
}

impl std::fmt::Debug for SearchRefs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SearchRefs(<keys>)")
    }
}

impl SearchRefs {
    /// Keys derived from the server's secret (distinct from its JWT and CSRF keys).
    pub fn new(secret: &[u8]) -> SearchRefs {
        let key = crate::keys::derive(secret, b"matchwell search refs");
        SearchRefs {
            cipher: Aes256GcmSiv::new(&key.into()),
            alias_key: crate::keys::derive(secret, b"matchwell search aliases"),
        }
    }

    fn nonce(searcher: &str) -> [u8; 12] {
        let digest = Sha256::digest(searcher.as_bytes());
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&digest[..12]);
        nonce
    }

    /// The ref of `target` (a public id) for `searcher` (its organisation's public id).
    pub fn issue(&self, searcher: &str, target: &str) -> String {
        let nonce = Self::nonce(searcher);
        let sealed = self
            .cipher
            .encrypt(&Nonce::from(nonce), Payload { msg: target.as_bytes(), aad: searcher.as_bytes() })
            .unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed)
    }

    /// The public id a ref names, if it was issued to `searcher`.
    pub fn open(&self, searcher: &str, reference: &str) -> Option<String> {
        if reference.len() > 200 {
            return None;
        }
        let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(reference).ok()?;
        let nonce = Self::nonce(searcher);
        let plain =
            self.cipher.decrypt(&Nonce::from(nonce), Payload { msg: &sealed, aad: searcher.as_bytes() }).ok()?;
        String::from_utf8(plain).ok()
    }

    /// A seed of the searcher's own (for the order of ties in its results).
    pub fn seed(&self, searcher: &str) -> u64 {
        let mut mac = crate::keys::hmac(&self.alias_key);
        mac.update(b"ties\0");
        mac.update(searcher.as_bytes());
        let bytes = mac.finalize().into_bytes();
        let mut seed = [0u8; 8];
        seed.copy_from_slice(&bytes[..8]);
        u64::from_le_bytes(seed)
    }

    /// The alias under which `searcher` sees `target` in search.
    pub fn alias(&self, searcher: &str, target: &str) -> String {
        let mut mac = crate::keys::hmac(&self.alias_key);
        mac.update(searcher.as_bytes());
        mac.update(&[0]);
        mac.update(target.as_bytes());
        let bytes = mac.finalize().into_bytes();
        let mut seed = [0u8; 8];
        seed.copy_from_slice(&bytes[..8]);
        matching::alias_from(seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ref_opens_only_for_its_searcher_and_hides_what_it_names() {
        let refs = SearchRefs::new(b"a secret of the server");
        let target = "6f9619ff-8b86-4d01-b42d-00cf4fc964ff";
        let reference = refs.issue("searcher-a", target);
        assert_eq!(refs.open("searcher-a", &reference).as_deref(), Some(target));
        assert_eq!(refs.open("searcher-b", &reference), None, "another member");
        assert!(!reference.contains("6f9619ff"));
        assert_eq!(refs.issue("searcher-a", target), reference, "stable for one searcher");
        assert_ne!(refs.issue("searcher-b", target), reference);
        let mut tampered = reference.clone().into_bytes();
        tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
        assert_eq!(refs.open("searcher-a", &String::from_utf8(tampered).expect("ascii")), None);
        assert_eq!(refs.open("searcher-a", "not base64 at all!"), None);
        assert_eq!(SearchRefs::new(b"another secret").open("searcher-a", &reference), None);
    }

    #[test]
    fn aliases_are_stable_per_searcher_and_differ_between_searchers() {
        let refs = SearchRefs::new(b"a secret of the server");
        assert_eq!(refs.alias("a", "t"), refs.alias("a", "t"));
        let others: std::collections::HashSet<String> = (0..20).map(|i| refs.alias(&format!("s{i}"), "t")).collect();
        assert!(others.len() > 15, "{others:?}");
    }
}
