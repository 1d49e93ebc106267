//! Roles and approver rules, with verified subjects only: a viewer cannot decide or configure,
//! an approver cannot configure, an approver off a workflow's list (or with a token limited to
//! other workflows) is refused, one subject approving twice counts once toward M-of-N, a
//! decision of an unknown workflow cannot be decided, the rules snapshotted at park time hold
//! after the configuration loosens, and system subjects cannot be claimed.

mod common;

use common::auth::{client_as, now, signed, token};
use common::runtime::TestEnv;
use serde_json::{json, Value};

async fn send(client: &reqwest::Client, method: &str, url: String, body: Option<Value>) -> (u16, Value) {
    let mut r = client.request(method.parse().expect("method"), url);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let response = r.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_and_approver_rules_hold_for_verified_subjects_only() {
    let env = TestEnv::new().await;
    // payment_processing: two of carol, dave or the finance group.
    let strict = [
        ("OVERSEER__WORKFLOWS__PAYMENT_PROCESSING__APPROVERS", "[\"carol\", \"dave\", \"group:finance\"]"),
        ("OVERSEER__WORKFLOWS__PAYMENT_PROCESSING__REQUIRED_APPROVALS", "2"),
    ];
    let config = env.config(&strict);
    let running = env.start(&config, &["auto_orders"]).await;
    let api = format!("http://{}/api/brain/hitl", running.http_addr);
    let decision = env.park_direct(&config, "payment_processing").await;
    let approve = |id: &str| format!("{api}/decisions/{id}/approve");

    // Viewer: reads, never decides or configures.
    let viewer = client_as("vic", "viewer");
    assert_eq!(send(&viewer, "GET", format!("{api}/decisions/{decision}"), None).await.0, 200);
    let (code, body) = send(&viewer, "POST", approve(&decision), Some(json!({}))).await;
    assert_eq!((code, body["error"].clone()), (403, json!("forbidden")), "{body}");
    assert_eq!(
        send(&viewer, "POST", format!("{api}/workflows/payment_processing/toggle?enabled=false"), None)
            .await
            .0,
        403
    );

    // Approver: decides, never configures or reads the audit log.
    let carol = client_as("carol", "approver");
    assert_eq!(
        send(&carol, "PUT", format!("{api}/workflows/payment_processing/confidence?threshold=0.1"), None)
            .await
            .0,
        403
    );
    assert_eq!(
        send(&carol, "PUT", format!("{api}/workflows/payment_processing/autonomy?level=autonomous"), None)
            .await
            .0,
        403
    );
    assert_eq!(send(&carol, "GET", format!("http://{}/api/audit", running.http_addr), None).await.0, 403);

    // Off the list: refused, whatever the role.
    let (code, body) =
        send(&client_as("mallory", "admin"), "POST", approve(&decision), Some(json!({}))).await;
    assert_eq!(code, 403, "{body}");
    // On the list, but the token is limited to another workflow.
    let limited = signed(
        &json!({"sub": "dave", "role": "approver", "workflows": ["analytics_reporting"], "exp": now() + 600}),
    );
    let r = reqwest::Client::new()
        .post(approve(&decision))
        .bearer_auth(limited)
        .json(&json!({}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 403);

    // M-of-N by distinct verified subjects: carol twice counts once.
    let (code, body) = send(&carol, "POST", approve(&decision), Some(json!({}))).await;
    assert_eq!((code, body["status"].clone()), (200, json!("pending_approval")), "{body}");
    let (code, body) = send(&carol, "POST", approve(&decision), Some(json!({}))).await;
    assert_eq!(code, 409, "a second approval by the same subject: {body}");
    let (_, still) = send(&carol, "GET", format!("{api}/decisions/{decision}"), None).await;
    assert_eq!(still["status"], "pending_approval", "{still}");
    // A member of the finance group is the second distinct approver.
    let erin = signed(&json!({"sub": "erin", "role": "approver", "groups": ["finance"], "exp": now() + 600}));
    let r = reqwest::Client::new()
        .post(approve(&decision))
        .bearer_auth(erin)
        .json(&json!({}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 200);
    let done: Value = r.json().await.expect("JSON");
    assert_eq!(done["status"], "approved", "{done}");
    assert_eq!(done["approvals"], json!(["carol", "erin"]));

    // A decision whose workflow is not configured: nobody may decide it (fail closed).
    let ghost = env.park_direct(&config, "ghost_workflow").await;
    let (code, body) =
        send(&client_as("root-admin", "admin"), "POST", approve(&ghost), Some(json!({}))).await;
    assert_eq!(code, 403, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("not configured")), "{body}");

    // The rules were snapshotted when parked: a replica whose config has no approver list
    // (and one approval) still refuses mallory and still needs two.
    let snapshotted = env.park_direct(&config, "payment_processing").await;
    let loose = env.config(&[]);
    let other = env.start(&loose, &[]).await;
    let other_api = format!("http://{}/api/brain/hitl/decisions/{snapshotted}/approve", other.http_addr);
    assert_eq!(
        send(&client_as("mallory", "approver"), "POST", other_api.clone(), Some(json!({}))).await.0,
        403
    );
    let (code, body) = send(&client_as("dave", "approver"), "POST", other_api, Some(json!({}))).await;
    assert_eq!((code, body["status"].clone()), (200, json!("pending_approval")), "still two needed: {body}");

    // Names overseer writes as itself cannot be claimed, and a name header means nothing.
    for sub in ["overseer", "overseer-adaptive", "system"] {
        let r = reqwest::Client::new()
            .get(format!("{api}/decisions/pending"))
            .bearer_auth(token(sub, "admin"))
            .send()
            .await
            .expect("get");
        assert_eq!(r.status().as_u16(), 401, "{sub}");
    }
    let r = reqwest::Client::new()
        .post(approve(&snapshotted))
        .header("x-overseer-user", "carol")
        .json(&json!({}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 401);
    other.shutdown().await;
    running.shutdown().await;
}
