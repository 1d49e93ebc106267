//! The HTTP port's settings: where it listens, who may call it (tokens, roles), and the limits
//! every request meets (hosts, origins, body size, time, rate).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// The one HTTP port: health, metrics, HITL API, dashboard, control API.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address and port to listen on. Loopback by default; the container image sets
    /// `0.0.0.0:8001` explicitly.
    #[serde(default = "default_bind")]
    pub bind: String,
    /// Host names (the `Host` header without its port) the API answers to; anything else is
    /// refused, which defeats DNS rebinding. `"*"` allows any host (only behind a proxy that
    /// checks it).
    #[serde(default = "default_hosts")]
    pub allowed_hosts: Vec<String>,
    /// Browser origins allowed to call the API cross-origin (CORS), e.g.
    /// `https://admin.example.com`. None by default: no CORS headers at all.
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// Largest request body accepted, in bytes (413 past it).
    #[serde(default = "default_body_limit")]
    pub body_limit: usize,
    /// Longest a request may take before it is answered 503 (a stuck backing service never
    /// holds a connection open for long).
    #[serde(default = "default_request_timeout", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub request_timeout: Duration,
    /// Serve `/metrics` without a token (for a Prometheus inside a private network).
    #[serde(default)]
    pub metrics_public: bool,
    /// Mark the dashboard's session cookie `Secure`. Turn on whenever the API is reached over
    /// TLS (directly or through a TLS-terminating proxy).
    #[serde(default)]
    pub secure_cookies: bool,
    /// How callers prove who they are.
    #[serde(default)]
    pub auth: AuthConfig,
    /// Requests per minute on mutating routes, login and onboarding.
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            bind: default_bind(),
            allowed_hosts: default_hosts(),
            cors_origins: Vec::new(),
            body_limit: default_body_limit(),
            request_timeout: default_request_timeout(),
            metrics_public: false,
            secure_cookies: false,
            auth: AuthConfig::default(),
            rate_limit: RateLimitConfig::default(),
        }
    }
}

/// JWT bearer tokens (RFC 7519), verified as RFC 8725 asks: the algorithms are pinned here,
/// `exp` is required, `nbf` honoured, `iss` and `aud` checked when set.
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// The accepted signature algorithms: any of HS256, RS256, ES256, EdDSA. A token signed
    /// with another (or `none`) is refused, and each algorithm verifies only with its own kind
    /// of key (an HS256 token is never checked against a public key).
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
    /// HS256: the environment variable holding the shared secret (at least 32 bytes).
    #[serde(default = "default_secret_env")]
    pub hs256_secret_env: Option<String>,
    /// HS256: a file holding the shared secret (a Swarm or Kubernetes secret); read when set,
    /// in place of `hs256_secret_env`. Surrounding whitespace is ignored.
    #[serde(default)]
    pub hs256_secret_file: Option<PathBuf>,
    /// RS256/ES256/EdDSA: PEM files of the issuers' public keys.
    #[serde(default)]
    pub public_keys: Vec<PathBuf>,
    /// RS256/ES256/EdDSA: a JWKS file; the token's `kid` chooses the key.
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// The `iss` a token must carry (not checked when unset).
    #[serde(default)]
    pub issuer: Option<String>,
    /// The `aud` a token must carry (not checked when unset).
    #[serde(default)]
    pub audience: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`.
    #[serde(default = "default_leeway", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub leeway: Duration,
    /// Longest lifetime `overseer token issue` grants.
    #[serde(default = "default_max_ttl", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub max_ttl: Duration,
}

/// Secrets never reach a log through `{:?}`: only where they come from is shown.
impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("algorithms", &self.algorithms)
            .field("hs256_secret_env", &self.hs256_secret_env)
            .field("hs256_secret_file", &self.hs256_secret_file)
            .field("public_keys", &self.public_keys)
            .field("jwks_file", &self.jwks_file)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .finish_non_exhaustive()
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            algorithms: default_algorithms(),
            hs256_secret_env: default_secret_env(),
            hs256_secret_file: None,
            public_keys: Vec::new(),
            jwks_file: None,
            issuer: None,
            audience: None,
            leeway: default_leeway(),
            max_ttl: default_max_ttl(),
        }
    }
}

/// Token buckets (GCRA) per verified subject and per client address; a refused request gets
/// 429 with `Retry-After`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Mutating requests per minute per subject.
    #[serde(default = "default_per_subject")]
    pub per_subject: u32,
    /// Mutating, login and onboarding requests per minute per client address.
    #[serde(default = "default_per_address")]
    pub per_address: u32,
    /// Requests a subject or address may send at once before the per-minute pace applies.
    #[serde(default = "default_burst")]
    pub burst: u32,
    /// Failed authentications per minute per client address (this many at once, then this
    /// many a minute); past it the address gets 429 and its failures stop reaching the audit
    /// log, so a flood cannot flush it.
    #[serde(default = "default_auth_failures")]
    pub auth_failures: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            per_subject: default_per_subject(),
            per_address: default_per_address(),
            burst: default_burst(),
            auth_failures: default_auth_failures(),
        }
    }
}

impl HttpConfig {
    /// Problems with these settings, as (key, message) pairs.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for alg in &self.auth.algorithms {
            if !ALGORITHMS.contains(&alg.as_str()) {
                out.push((
                    "http.auth.algorithms".into(),
                    format!("`{alg}` is not one of {}", ALGORITHMS.join(", ")),
                ));
            }
        }
        if self.auth.algorithms.is_empty() {
            out.push(("http.auth.algorithms".into(), "name at least one algorithm".into()));
        }
        let public = self.auth.algorithms.iter().any(|a| a != "HS256");
        if public && self.auth.public_keys.is_empty() && self.auth.jwks_file.is_none() {
            out.push((
                "http.auth.public_keys".into(),
                "RS256/ES256/EdDSA need `public_keys` or `jwks_file`".into(),
            ));
        }
        let hs = self.auth.algorithms.iter().any(|a| a == "HS256");
        if hs && self.auth.hs256_secret_env.is_none() && self.auth.hs256_secret_file.is_none() {
            out.push((
                "http.auth.hs256_secret_env".into(),
                "HS256 needs `hs256_secret_env` or `hs256_secret_file`".into(),
            ));
        }
        if self.body_limit < 1024 {
            out.push(("http.body_limit".into(), "must be at least 1024 bytes".into()));
        }
        let r = &self.rate_limit;
        for (key, v) in [
            ("per_subject", r.per_subject),
            ("per_address", r.per_address),
            ("burst", r.burst),
            ("auth_failures", r.auth_failures),
        ] {
            if v == 0 {
                out.push((format!("http.rate_limit.{key}"), "must be at least 1".into()));
            }
        }
        out
    }
}

/// The algorithms overseer verifies.
pub const ALGORITHMS: &[&str] = &["HS256", "RS256", "ES256", "EdDSA"];

fn default_bind() -> String {
    "127.0.0.1:8001".to_string()
}
fn default_hosts() -> Vec<String> {
    ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec()
}
fn default_body_limit() -> usize {
    1024 * 1024
}
fn default_request_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_algorithms() -> Vec<String> {
    vec!["HS256".into()]
}
fn default_secret_env() -> Option<String> {
    Some("OVERSEER_JWT_SECRET".into())
}
fn default_leeway() -> Duration {
    Duration::from_secs(30)
}
fn default_max_ttl() -> Duration {
    Duration::from_secs(30 * 24 * 3600)
}
fn default_per_subject() -> u32 {
    600
}
fn default_per_address() -> u32 {
    1200
}
fn default_burst() -> u32 {
    60
}
fn default_auth_failures() -> u32 {
    60
}
