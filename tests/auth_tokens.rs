//! Every route the router serves (taken from the OpenAPI document, so a new route cannot be
//! forgotten) refuses every kind of bad token with 401, changes nothing, and leaves each
//! failure in the audit log. The replica verifies RS256 tokens only, with an issuer and an
//! audience, like one behind a real identity provider.

mod common;

use common::auth::now;
use common::runtime::TestEnv;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

/// An RSA key pair made with openssl: (private PEM, public PEM path).
fn rsa_pair(dir: &Path) -> (Vec<u8>, String) {
    let private = dir.join("private.pem");
    let public = dir.join("public.pem");
    let ok = Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"])
        .arg(&private)
        .status()
        .expect("openssl")
        .success()
        && Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&private)
            .arg("-out")
            .arg(&public)
            .status()
            .expect("openssl")
            .success();
    assert!(ok, "openssl made the key pair");
    (std::fs::read(&private).expect("private key"), public.display().to_string())
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_every_bad_token_and_audits_it() {
    let dir = tempfile::tempdir().expect("dir");
    let (private, public) = rsa_pair(dir.path());
    let env = TestEnv::new().await;
    let config = env.config(&[
        ("OVERSEER__HTTP__AUTH__ALGORITHMS", "[\"RS256\"]"),
        ("OVERSEER__HTTP__AUTH__PUBLIC_KEYS", &format!("[\"{public}\"]")),
        ("OVERSEER__HTTP__AUTH__ISSUER", "https://id.example"),
        ("OVERSEER__HTTP__AUTH__AUDIENCE", "overseer"),
        ("OVERSEER__HTTP__RATE_LIMIT__AUTH_FAILURES", "100000"),
        ("OVERSEER__HTTP__RATE_LIMIT__BURST", "100000"),
    ]);
    let running = env.start(&config, &["auto_orders"]).await;
    let base = format!("http://{}", running.http_addr);
    let decision = env.park_direct(&config, "payment_processing").await;

    let rs = |claims: Value| {
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(&private).expect("private key");
        jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256), &claims, &key)
            .expect("sign")
    };
    let good = |extra: Value| {
        let mut c = json!({"sub": "ada", "role": "admin", "iss": "https://id.example", "aud": "overseer", "exp": now() + 600});
        for (k, v) in extra.as_object().expect("object") {
            c[k] = v.clone();
        }
        c
    };
    let admin = rs(good(json!({})));
    let valid = reqwest::Client::new();
    let read = |path: String| {
        let request = valid.get(format!("{base}{path}")).bearer_auth(&admin);
        async move { request.send().await.expect("GET").json::<Value>().await.expect("JSON") }
    };
    let doc = read("/api/openapi.json".into()).await;
    // A character inside the signature, not its last one: the last base64url character of an
    // RSA signature carries only two bits, so changing it can make the text undecodable (a
    // `malformed` refusal, one run in four) instead of a wrong signature.
    let mut tampered = rs(good(json!({}))).into_bytes();
    let at = tampered.len() - 10;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ASCII");
    let header_none = b64(br#"{"alg":"none","typ":"JWT"}"#);
    let body = b64(good(json!({})).to_string().as_bytes());
    // The public key as an HMAC secret: the algorithm-confusion attack.
    let confused = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &good(json!({})),
        &jsonwebtoken::EncodingKey::from_secret(&std::fs::read(&public).expect("public key")),
    )
    .expect("sign");
    let bad: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("expired", Some(rs(good(json!({"exp": now() - 3600}))))),
        ("not yet valid", Some(rs(good(json!({"nbf": now() + 3600, "exp": now() + 7200}))))),
        ("tampered signature", Some(tampered)),
        ("alg none", Some(format!("{header_none}.{body}."))),
        ("HS256 against the RS256 key", Some(confused)),
        ("wrong aud", Some(rs(good(json!({"aud": "someone-else"}))))),
        ("wrong iss", Some(rs(good(json!({"iss": "https://evil.example"}))))),
        (
            "no exp",
            Some(rs(json!({"sub": "ada", "role": "admin", "iss": "https://id.example", "aud": "overseer"}))),
        ),
    ];

    let public_routes = [
        ("get", "/health"),
        ("get", "/ready"),
        ("get", "/api/hitl/dashboard"),
        // The page's own files (tests/hitl_api.rs reads them).
        ("get", "/api/hitl/dashboard/{asset}"),
        ("post", "/api/auth/login"),
        ("post", "/api/auth/logout"),
        // Telegram holds no token: its webhook proves itself with the webhook secret
        // (tests/telegram.rs refuses it without one).
        ("post", "/telegram/webhook"),
    ];
    let mut routes = vec![("get".to_string(), "/api/openapi.json".to_string())];
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("methods").keys() {
            if !public_routes.contains(&(method.as_str(), path.as_str())) {
                routes.push((method.clone(), path.clone()));
            }
        }
    }
    assert!(routes.len() >= 20, "{routes:?}");
    let client = reqwest::Client::new();
    let mut sent = 0;
    for (method, path) in &routes {
        let mut url = path
            .replace("{id}", &decision)
            .replace("{request_id}", &decision)
            .replace("{session_id}", "session_1");
        if path.ends_with("/{id}") && path.contains("/workflows/") {
            url = path.replace("{id}", "payment_processing");
        }
        match path.rsplit('/').next() {
            Some("toggle") => url = format!("{}?enabled=false", path.replace("{id}", "payment_processing")),
            Some("confidence") => {
                url = format!("{}?threshold=0.01", path.replace("{id}", "payment_processing"))
            }
            Some("autonomy") => {
                url = format!("{}?level=autonomous", path.replace("{id}", "payment_processing"))
            }
            _ => {}
        }
        let body =
            json!({"feedback": "x", "decision_id": decision, "action": "approve", "company_name": "Acme"});
        for (what, token) in &bad {
            let mut request =
                client.request(method.to_uppercase().parse().expect("method"), format!("{base}{url}"));
            if method != "get" {
                request = request.json(&body);
            }
            if let Some(t) = token {
                request = request.bearer_auth(t);
            }
            let response = request.send().await.expect("request");
            assert_eq!(response.status().as_u16(), 401, "{} {url} with {what}", method.to_uppercase());
            assert_eq!(response.headers()["www-authenticate"], "Bearer");
            let answer: Value = response.json().await.expect("a JSON error");
            assert_eq!(answer["error"], "unauthorized", "{answer}");
            assert!(!answer.to_string().contains("eyJ"), "no token in the answer: {answer}");
            sent += 1;
        }
    }

    // Nothing changed.
    let d = read(format!("/api/brain/hitl/decisions/{decision}")).await;
    assert_eq!(d["status"], "pending_approval", "{d}");
    let w = read("/api/brain/hitl/workflows/payment_processing".into()).await;
    assert_eq!(
        (w["hitl_enabled"].clone(), w["confidence_threshold"].clone(), w["autonomy_level"].clone()),
        (json!(true), json!(0.95), json!("supervised")),
        "{w}"
    );

    // Every failure is in the audit log, with what was tried and from where; none holds a token.
    let mut records = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/api/audit?stream=denied&limit=500");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value =
            valid.get(url).bearer_auth(&admin).send().await.expect("audit").json().await.expect("JSON");
        records.extend(page["records"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let unauthenticated: Vec<&Value> = records.iter().filter(|r| r["outcome"] == "unauthenticated").collect();
    assert_eq!(unauthenticated.len(), sent, "one record per refused request");
    for (method, path) in &routes {
        let action = format!("{} {path}", method.to_uppercase());
        let n = unauthenticated.iter().filter(|r| r["action"] == action.as_str()).count();
        assert_eq!(n, bad.len(), "{action}");
    }
    for reason in ["missing", "expired", "not_yet_valid", "signature", "audience", "issuer"] {
        assert!(unauthenticated.iter().any(|r| r["reason"] == reason), "a `{reason}` failure is recorded");
    }
    assert!(unauthenticated.iter().all(|r| r["client"] == "127.0.0.1" && r["status"] == 401));
    let text = serde_json::to_string(&records).expect("JSON");
    assert!(!text.contains("eyJ"), "no token in the audit log");
    running.shutdown().await;
}
