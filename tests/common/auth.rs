//! Tokens for the tests: every test replica verifies HS256 tokens signed with one test secret
//! (a file the config points at, so no test changes the process environment), and these
//! helpers mint them the way an identity provider would, with jsonwebtoken directly.

use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::OnceLock;

/// The secret every test replica trusts.
pub const SECRET: &str = "overseer-test-secret-0123456789abcdef-0123456789abcdef";

/// The file holding [`SECRET`] (written once per test process).
pub fn secret_file() -> PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("overseer-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("jwt-secret");
        std::fs::write(&path, SECRET).expect("secret file");
        path
    })
    .clone()
}

pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs()
}

/// A token signed with the test secret carrying exactly `claims`.
pub fn signed(claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign")
}

/// A valid token for `sub` with `role` (an hour).
pub fn token(sub: &str, role: &str) -> String {
    signed(&json!({"sub": sub, "role": role, "exp": now() + 3600, "iat": now()}))
}

/// A client that sends `sub`'s token with `role` on every request.
pub fn client_as(sub: &str, role: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let value =
        reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token(sub, role))).expect("header");
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder().default_headers(headers).build().expect("client")
}

/// A client acting as the admin `ada`.
pub fn admin() -> reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| client_as("ada", "admin")).clone()
}

/// `GET url` as the admin `ada`.
pub async fn get(url: impl reqwest::IntoUrl) -> reqwest::Result<reqwest::Response> {
    admin().get(url).send().await
}
