//! Verifying bearer tokens. The accepted algorithms are pinned by configuration (RFC 8725
//! §3.1), and each verifies only with its own kind of key: an HS256 token is checked against
//! the shared secret and nothing else, an RS256/ES256/EdDSA token against the public keys of
//! its family (by `kid` from a JWKS file, or each configured PEM key). `alg: none` cannot be
//! expressed at all. `exp` is required, `nbf` honoured, `iss`/`aud` checked when configured.

use super::{reserved_subject, valid_subject, AuthError, Principal, Role};
use crate::config::AuthConfig;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashMap;

/// Shortest HS256 secret accepted (RFC 7518 §3.2: at least the hash's size).
pub const MIN_SECRET_BYTES: usize = 32;

/// Why the verifier could not be built (a startup error).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub String);

/// The claims overseer reads; others are ignored.
#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    role: String,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    workflows: Option<Vec<String>>,
    exp: u64,
}

pub struct Verifier {
    algorithms: Vec<Algorithm>,
    secret: Option<DecodingKey>,
    public: Vec<DecodingKey>,
    by_kid: HashMap<String, DecodingKey>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: u64,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("algorithms", &self.algorithms)
            .field("public_keys", &self.public.len())
            .field("jwks_keys", &self.by_kid.len())
            .finish_non_exhaustive()
    }
}

/// The HS256 secret the configuration names (file first, then the variable), checked.
pub fn shared_secret(config: &AuthConfig) -> Result<Vec<u8>, KeyError> {
    let secret = if let Some(path) = &config.hs256_secret_file {
        std::fs::read_to_string(path)
            .map_err(|e| KeyError(format!("http.auth.hs256_secret_file {}: {e}", path.display())))?
            .trim()
            .as_bytes()
            .to_vec()
    } else {
        let var = config.hs256_secret_env.as_deref().unwrap_or_default();
        std::env::var(var)
            .map_err(|_| {
                KeyError(format!(
                    "HS256 tokens need a secret: set {var} (at least {MIN_SECRET_BYTES} bytes, e.g. `openssl rand -hex 32`) \
                     or http.auth.hs256_secret_file"
                ))
            })?
            .into_bytes()
    };
    if secret.len() < MIN_SECRET_BYTES {
        return Err(KeyError(format!("the HS256 secret is shorter than {MIN_SECRET_BYTES} bytes")));
    }
    Ok(secret)
}

fn algorithm(name: &str) -> Result<Algorithm, KeyError> {
    match name {
        "HS256" => Ok(Algorithm::HS256),
        "RS256" => Ok(Algorithm::RS256),
        "ES256" => Ok(Algorithm::ES256),
        "EdDSA" => Ok(Algorithm::EdDSA),
        other => Err(KeyError(format!("http.auth.algorithms: `{other}` is not supported"))),
    }
}

fn pem_key(pem: &[u8]) -> Option<DecodingKey> {
    DecodingKey::from_rsa_pem(pem)
        .or_else(|_| DecodingKey::from_ec_pem(pem))
        .or_else(|_| DecodingKey::from_ed_pem(pem))
        .ok()
}

impl Verifier {
    /// The verifier the configuration describes; reads the secret and key files.
    pub fn from_config(config: &AuthConfig) -> Result<Self, KeyError> {
        let algorithms = config.algorithms.iter().map(|a| algorithm(a)).collect::<Result<Vec<_>, _>>()?;
        let secret = if algorithms.contains(&Algorithm::HS256) {
            Some(DecodingKey::from_secret(&shared_secret(config)?))
        } else {
            None
        };
        let mut public = Vec::new();
        for path in &config.public_keys {
            let pem = std::fs::read(path)
                .map_err(|e| KeyError(format!("http.auth.public_keys {}: {e}", path.display())))?;
            public.push(pem_key(&pem).ok_or_else(|| {
                KeyError(format!(
                    "http.auth.public_keys {}: not an RSA, EC or Ed25519 public key",
                    path.display()
                ))
            })?);
        }
        let mut by_kid = HashMap::new();
        if let Some(path) = &config.jwks_file {
            let read = std::fs::read(path)
                .map_err(|e| KeyError(format!("http.auth.jwks_file {}: {e}", path.display())))?;
            let set: JwkSet = serde_json::from_slice(&read)
                .map_err(|e| KeyError(format!("http.auth.jwks_file {}: {e}", path.display())))?;
            for jwk in &set.keys {
                let kid = jwk.common.key_id.clone().ok_or_else(|| {
                    KeyError(format!("http.auth.jwks_file {}: every key needs a `kid`", path.display()))
                })?;
                let key = DecodingKey::from_jwk(jwk).map_err(|e| {
                    KeyError(format!("http.auth.jwks_file {} key {kid}: {e}", path.display()))
                })?;
                by_kid.insert(kid, key);
            }
        }
        Ok(Self {
            algorithms,
            secret,
            public,
            by_kid,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            leeway: config.leeway.as_secs(),
        })
    }

    /// The caller a token proves, or why it proves nothing.
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        if !self.algorithms.contains(&header.alg) {
            return Err(AuthError::Algorithm);
        }
        let candidates: Vec<&DecodingKey> = if header.alg == Algorithm::HS256 {
            self.secret.iter().collect()
        } else {
            let family = header.alg.family();
            match header.kid.as_deref().and_then(|kid| self.by_kid.get(kid)) {
                Some(key) => vec![key],
                None => self.public.iter().chain(self.by_kid.values()).collect(),
            }
            .into_iter()
            .filter(|k| k.family() == family)
            .collect()
        };
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        validation.validate_aud = self.audience.is_some();
        if let Some(aud) = &self.audience {
            validation.set_audience(&[aud]);
            required.push("aud");
        }
        if let Some(iss) = &self.issuer {
            validation.set_issuer(&[iss]);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        let mut last = AuthError::Signature;
        for key in candidates {
            match jsonwebtoken::decode::<Claims>(token, key, &validation) {
                Ok(data) => return principal(data.claims),
                Err(e) => {
                    last = classify(e.kind());
                    if last != AuthError::Signature {
                        return Err(last);
                    }
                }
            }
        }
        Err(last)
    }
}

fn classify(kind: &ErrorKind) -> AuthError {
    match kind {
        ErrorKind::InvalidSignature => AuthError::Signature,
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidAudience => AuthError::Audience,
        ErrorKind::InvalidIssuer => AuthError::Issuer,
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm | ErrorKind::InvalidAlgorithmName => {
            AuthError::Algorithm
        }
        ErrorKind::MissingRequiredClaim(c) => AuthError::Claims(format!("`{c}` is required")),
        ErrorKind::InvalidClaimFormat(c) => AuthError::Claims(format!("`{c}` is malformed")),
        ErrorKind::Json(_) => AuthError::Claims("`sub` and `role` are required".into()),
        _ => AuthError::Malformed,
    }
}

fn principal(c: Claims) -> Result<Principal, AuthError> {
    if !valid_subject(&c.sub) {
        return Err(AuthError::Claims("`sub` must be 1..128 printable characters".into()));
    }
    if reserved_subject(&c.sub) {
        return Err(AuthError::Reserved(c.sub));
    }
    let role = Role::parse(&c.role)
        .ok_or_else(|| AuthError::Claims("`role` must be viewer, approver or admin".into()))?;
    Ok(Principal { subject: c.sub, role, groups: c.groups, workflows: c.workflows, expires_at: c.exp })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::issue::{issue, Grant};
    use std::time::Duration;

    fn config(secret: &str) -> (tempfile::TempDir, AuthConfig) {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("secret");
        std::fs::write(&path, format!("{secret}\n")).expect("write");
        (dir, AuthConfig { hs256_secret_file: Some(path), ..AuthConfig::default() })
    }

    fn grant(subject: &str) -> Grant {
        Grant {
            subject: subject.into(),
            role: Role::Approver,
            workflows: Some(vec!["payment_processing".into()]),
            groups: vec!["finance".into()],
            ttl: Duration::from_secs(60),
        }
    }

    #[test]
    fn issued_tokens_verify_with_their_claims_and_only_with_their_secret() {
        let (_dir, c) = config("a-secret-of-at-least-thirty-two-bytes!");
        let token = issue(&c, &grant("ada")).expect("issued");
        let p = Verifier::from_config(&c).expect("verifier").verify(&token).expect("verifies");
        assert_eq!((p.subject.as_str(), p.role), ("ada", Role::Approver));
        assert_eq!(p.workflows, Some(vec!["payment_processing".to_string()]));
        assert_eq!(p.groups, vec!["finance".to_string()]);
        let (_other, c2) = config("another-secret-of-at-least-thirty-two-bytes");
        assert_eq!(Verifier::from_config(&c2).expect("verifier").verify(&token), Err(AuthError::Signature));
        assert_eq!(
            Verifier::from_config(&c).expect("verifier").verify("not.a.jwt"),
            Err(AuthError::Malformed)
        );
    }

    #[test]
    fn short_secrets_reserved_subjects_and_long_lives_are_refused() {
        let (_dir, short) = config("too-short");
        assert!(Verifier::from_config(&short).is_err());
        let (_dir, c) = config("a-secret-of-at-least-thirty-two-bytes!");
        assert!(issue(&c, &grant("overseer-adaptive")).is_err());
        assert!(issue(&c, &Grant { ttl: Duration::from_secs(365 * 24 * 3600), ..grant("ada") }).is_err());
        let rs_only = AuthConfig { algorithms: vec!["RS256".into()], ..c.clone() };
        assert!(issue(&rs_only, &grant("ada")).is_err(), "no HS256 tokens where HS256 is not accepted");
    }
}
