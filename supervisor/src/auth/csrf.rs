//! The dashboard's CSRF defence beside SameSite=Strict and the Origin / Sec-Fetch-Site checks:
//! a signed double-submit token. At login the browser gets `nonce.mac` in a cookie it can read
//! and must echo in `X-CSRF-Token` on every state-changing request. The MAC is keyed by the
//! session token itself (HttpOnly, never readable by a page), so a token planted by another
//! site or subdomain does not verify, and every replica checks it without shared state.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn mac(session: &str) -> HmacSha256 {
    // HMAC takes keys of any length.
    HmacSha256::new_from_slice(session.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
}

/// A fresh token bound to `session`.
pub fn token_for(session: &str) -> String {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let mut m = mac(session);
    m.update(nonce.as_bytes());
    format!("{nonce}.{}", hex::encode(m.finalize().into_bytes()))
}

/// Whether `presented` was made for `session` (constant-time comparison).
pub fn verify(session: &str, presented: &str) -> bool {
    let Some((nonce, sig)) = presented.split_once('.') else { return false };
    let Ok(sig) = hex::decode(sig) else { return false };
    let mut m = mac(session);
    m.update(nonce.as_bytes());
    m.verify_slice(&sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_only_for_its_session() {
        let t = token_for("session-a");
        assert!(verify("session-a", &t));
        assert!(!verify("session-b", &t));
        assert!(!verify("session-a", "forged.00"));
        assert!(!verify("session-a", "no-dot"));
        let (nonce, _) = t.split_once('.').expect("dot");
        assert!(!verify("session-a", &format!("{nonce}.zz")));
    }
}
