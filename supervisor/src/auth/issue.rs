//! Minting HS256 tokens for people and services (`overseer token issue`): the claims overseer
//! reads (`sub`, `role`, optional `workflows`) with `iat`, `nbf` and `exp`, plus `iss`/`aud`
//! when the configuration checks them.

use super::keys::{shared_secret, KeyError};
use super::{reserved_subject, valid_subject, Role};
use crate::config::AuthConfig;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What a token grants.
#[derive(Debug, Clone)]
pub struct Grant {
    pub subject: String,
    pub role: Role,
    /// The only workflows the holder may decide (none: every workflow its role allows).
    pub workflows: Option<Vec<String>>,
    pub groups: Vec<String>,
    pub ttl: Duration,
}

/// A signed HS256 token for `grant`.
pub fn issue(config: &AuthConfig, grant: &Grant) -> Result<String, KeyError> {
    if !config.algorithms.iter().any(|a| a == "HS256") {
        return Err(KeyError(
            "tokens are issued only in HS256 mode (http.auth.algorithms lists HS256)".into(),
        ));
    }
    if !valid_subject(&grant.subject) || reserved_subject(&grant.subject) {
        return Err(KeyError(format!("`{}` cannot be a token's subject", grant.subject)));
    }
    if grant.ttl.is_zero() || grant.ttl > config.max_ttl {
        return Err(KeyError(format!(
            "the lifetime must be more than 0 and at most {} (http.auth.max_ttl)",
            humantime::format_duration(config.max_ttl)
        )));
    }
    let secret = shared_secret(config)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut claims = json!({
        "sub": grant.subject,
        "role": grant.role,
        "iat": now,
        "nbf": now,
        "exp": now + grant.ttl.as_secs(),
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    if let Some(w) = &grant.workflows {
        claims["workflows"] = json!(w);
    }
    if !grant.groups.is_empty() {
        claims["groups"] = json!(grant.groups);
    }
    if let Some(iss) = &config.issuer {
        claims["iss"] = json!(iss);
    }
    if let Some(aud) = &config.audience {
        claims["aud"] = json!(aud);
    }
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(&secret))
        .map_err(|e| KeyError(format!("the token could not be signed: {e}")))
}
