//! Keys derived from the server's secret, one for each purpose (CSRF tokens, search refs and
//! aliases, unsubscribe links), so that nothing made for one purpose passes for another and
//! none of them is the JWT key itself.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The key for `purpose`: SHA-256 of the purpose, a zero byte and the secret.
pub(crate) fn derive(secret: &[u8], purpose: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(purpose);
    hasher.update([0]);
    hasher.update(secret);
    hasher.finalize().into()
}

/// An HMAC-SHA-256 under `key`, ready for its input.
pub(crate) fn hmac(key: &[u8; 32]) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_purpose_has_its_own_key_and_the_derivation_stays_put() {
        // Tokens already sent (unsubscribe links in mailboxes) depend on this exact derivation.
        let expected: [u8; 32] = Sha256::digest(b"matchwell unsubscribe links\0a secret").into();
        assert_eq!(derive(b"a secret", b"matchwell unsubscribe links"), expected);
        assert_ne!(derive(b"a secret", b"matchwell csrf tokens"), expected);
        assert_ne!(derive(b"another secret", b"matchwell unsubscribe links"), expected);
    }
}
