//! Deciding: the seed's `POST /api/brain/hitl/decisions/{id}/approve` and `…/reject` (body
//! `{"feedback": "..."}`, answering decision_id, status, feedback, approved_at/rejected_at,
//! message) and `POST /api/hitl/decision` (one decision, or `{"decisions": [...]}` for a batch
//! with a result per item).
//!
//! Beyond the seed's body, an approval may carry `edited` (a changed proposal: checked against
//! the agent's output schema, then it is what executes) and `payload_hash` (the hash of the
//! proposal the approver saw: a decision whose payload changed since answers 409). Racing
//! approvers get one success and 409s; a decision past its deadline answers 410. Who may
//! decide is the verified caller's business alone (the rules are the HITL service's,
//! [`crate::hitl::service`]): someone not on the approver list answers 403, so does a token
//! limited to other workflows and a decision whose workflow is not configured here; M-of-N
//! workflows stay pending until the M-th distinct verified subject. These handlers only map
//! HTTP to the service and its answers back.

use super::caller::Caller;
use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::audit::AuditDetail;
use crate::hitl::service::{DecideError, Decided, Decider, Request, Verdict};
use crate::hitl::TransitionError;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

/// Most decisions in one batch.
const MAX_BATCH: usize = 200;

/// What a person asks for, with the optional extras.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DecisionBody {
    #[serde(default)]
    feedback: Option<String>,
    #[serde(default)]
    edited: Option<Value>,
    #[serde(default)]
    payload_hash: Option<String>,
}

/// One item of `POST /api/hitl/decision`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DecisionItem {
    decision_id: String,
    /// `approve` or `reject`.
    #[schema(pattern = "^(approve|approved|reject|rejected)$")]
    action: String,
    #[serde(default)]
    feedback: Option<String>,
    #[serde(default)]
    edited: Option<Value>,
    #[serde(default)]
    payload_hash: Option<String>,
}

impl DecisionBody {
    pub(super) fn into_request(self) -> Request {
        Request { feedback: self.feedback, edited: self.edited, payload_hash: self.payload_hash }
    }
}

impl DecisionItem {
    fn body(self) -> (String, String, DecisionBody) {
        let body =
            DecisionBody { feedback: self.feedback, edited: self.edited, payload_hash: self.payload_hash };
        (self.decision_id, self.action, body)
    }
}

pub(super) fn parse_body<T: serde::de::DeserializeOwned + Default>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("body is not valid: {e}")))
}

#[utoipa::path(post, path = "/api/brain/hitl/decisions/{id}/approve", tag = "decisions", operation_id = "approve_decision",
    params(("id" = String, Path)), request_body(content = DecisionBody, description = "Optional; an empty body approves as shown"),
    responses((status = 200, description = "decision_id, status, feedback, approved_at, message"), (status = 403, description = "Not on the workflow's approver list", body = ErrorBody), (status = 404, description = "Unknown id", body = ErrorBody), (status = 409, description = "Already decided, payload changed, or this approver already approved", body = ErrorBody), (status = 410, description = "Expired", body = ErrorBody), (status = 400, description = "Bad input", body = ErrorBody), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn approve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: DecisionBody = parse_body(&body)?;
    decide(&state, &id, Verdict::Approve, body, &caller).await.map(audited)
}

/// The answer, with the state change for the audit record.
pub(super) fn audited(answer: Value) -> Response {
    let detail = AuditDetail {
        before: Some(json!({"status": "pending"})),
        after: Some(json!({"status": answer["status"], "edited": answer["edited"]})),
    };
    let mut response = Json(answer).into_response();
    response.extensions_mut().insert(detail);
    response
}

#[utoipa::path(post, path = "/api/brain/hitl/decisions/{id}/reject", tag = "decisions", operation_id = "reject_decision",
    params(("id" = String, Path)), request_body(content = DecisionBody, description = "{\"feedback\": \"...\"}"),
    responses((status = 200, description = "decision_id, status, feedback, rejected_at, message"), (status = 403, description = "Not on the workflow's approver list", body = ErrorBody), (status = 404, description = "Unknown id", body = ErrorBody), (status = 409, description = "Already decided, payload changed, or this approver already approved", body = ErrorBody), (status = 410, description = "Expired", body = ErrorBody), (status = 400, description = "Bad input", body = ErrorBody), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn reject(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: DecisionBody = parse_body(&body)?;
    decide(&state, &id, Verdict::Reject, body, &caller).await.map(audited)
}

/// `POST /api/hitl/decision`: one item, or `{"decisions": [items]}`.
#[utoipa::path(post, path = "/api/hitl/decision", tag = "decisions", operation_id = "decide",
    request_body(content = DecisionItem, description = "One item, or {\"decisions\": [items]} (1..200) for a batch"),
    responses((status = 200, description = "One answer, or per-item results with their status codes"), (status = 403, description = "Not on the workflow's approver list", body = ErrorBody), (status = 404, description = "Unknown id", body = ErrorBody), (status = 409, description = "Already decided, payload changed, or this approver already approved", body = ErrorBody), (status = 410, description = "Expired", body = ErrorBody), (status = 400, description = "Bad input", body = ErrorBody), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn general(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let raw: Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("body is not JSON: {e}")))?;
    let Some(items) = raw.get("decisions") else {
        return Ok(audited(decide_item(&state, raw, &caller).await?));
    };
    let items = items.as_array().ok_or_else(|| ApiError::bad_request("decisions must be an array"))?;
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(ApiError::bad_request(format!("a batch holds 1..{MAX_BATCH} decisions")));
    }
    let mut results = Vec::with_capacity(items.len());
    for raw in items {
        let id = raw.get("decision_id").and_then(Value::as_str).map(str::to_string);
        let outcome = match item(raw.clone()).map(DecisionItem::body) {
            Ok((id, action, body)) => match verdict(&action) {
                Ok(v) => decide(&state, &id, v, body, &caller).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        results.push(match outcome {
            Ok(answer) => json!({"decision_id": id, "ok": true, "status_code": 200, "result": answer}),
            Err(e) => {
                json!({"decision_id": id, "ok": false, "status_code": e.status().as_u16(), "error": e.body()})
            }
        });
    }
    let succeeded = results.iter().filter(|r| r["ok"] == true).count();
    // 207-like semantics in a plain 200: each item carries its own status.
    let outcomes: Vec<Value> = results
        .iter()
        .map(|r| json!({"decision_id": r["decision_id"], "status_code": r["status_code"]}))
        .collect();
    let mut response =
        Json(json!({"count": results.len(), "succeeded": succeeded, "results": results})).into_response();
    response.extensions_mut().insert(AuditDetail { before: None, after: Some(json!({"batch": outcomes})) });
    Ok(response)
}

/// The agents whose decisions the gateway's SEO approve endpoint decides.
const SEO_AGENTS: &[&str] = &["seo"];
/// The agents whose decisions the content-marketing approve endpoint decides.
const CONTENT_AGENTS: &[&str] = &["social_media", "email_campaign", "marketing"];

/// One decision of the endpoint's agents: `{"decision_id", "action"?: approve (default) |
/// reject, "feedback"?, "edited"?, "payload_hash"?}`, decided as the general API does.
async fn family(
    state: &AppState,
    agents: &[&str],
    caller: &Caller,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let mut raw: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("body is not JSON: {e}")))?;
    if let Some(fields) = raw.as_object_mut() {
        fields.entry("action").or_insert_with(|| "approve".into());
    }
    let (id, action, body) = item(raw)?.body();
    let verdict = verdict(&action)?;
    let decision = state
        .hitl
        .store()
        .get(&id)
        .await
        .map_err(|e| ApiError::unavailable("the decision store", e))?
        .ok_or_else(|| ApiError::not_found(format!("no decision `{id}`")))?;
    if !agents.contains(&decision.agent.as_str()) {
        return Err(ApiError::bad_request(format!(
            "decision `{id}` is the {} agent's; this endpoint decides those of {}",
            decision.agent,
            agents.join(", ")
        )));
    }
    decide(state, &id, verdict, body, caller).await.map(audited)
}

#[utoipa::path(post, path = "/api/brain/seo/workflows/hitl/approve", tag = "decisions", operation_id = "approve_seo",
    request_body(content = DecisionItem, description = "decision_id; action approve (default) or reject; feedback, edited, payload_hash"),
    responses((status = 200, description = "As POST /api/brain/hitl/decisions/{id}/approve"), (status = 400, description = "Bad input, or not an SEO decision", body = ErrorBody), (status = 403, description = "Not on the workflow's approver list", body = ErrorBody), (status = 404, description = "Unknown id", body = ErrorBody), (status = 409, description = "Already decided or payload changed", body = ErrorBody), (status = 410, description = "Expired", body = ErrorBody), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn seo(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    family(&state, SEO_AGENTS, &caller, &body).await
}

#[utoipa::path(post, path = "/api/brain/content-marketing/workflows/hitl/approve", tag = "decisions", operation_id = "approve_content_marketing",
    request_body(content = DecisionItem, description = "decision_id; action approve (default) or reject; feedback, edited, payload_hash"),
    responses((status = 200, description = "As POST /api/brain/hitl/decisions/{id}/approve"), (status = 400, description = "Bad input, or not a content-marketing decision", body = ErrorBody), (status = 403, description = "Not on the workflow's approver list", body = ErrorBody), (status = 404, description = "Unknown id", body = ErrorBody), (status = 409, description = "Already decided or payload changed", body = ErrorBody), (status = 410, description = "Expired", body = ErrorBody), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn content_marketing(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    family(&state, CONTENT_AGENTS, &caller, &body).await
}

/// One item (`{"decision_id", "action", ...}`) decided; the answer as approve/reject give it.
pub(super) async fn decide_item(state: &AppState, raw: Value, caller: &Caller) -> Result<Value, ApiError> {
    let (id, action, body) = item(raw)?.body();
    decide(state, &id, verdict(&action)?, body, caller).await
}

fn item(raw: Value) -> Result<DecisionItem, ApiError> {
    serde_json::from_value(raw).map_err(|e| ApiError::bad_request(format!("decision item is not valid: {e}")))
}

fn verdict(action: &str) -> Result<Verdict, ApiError> {
    match action {
        "approve" | "approved" => Ok(Verdict::Approve),
        "reject" | "rejected" => Ok(Verdict::Reject),
        other => Err(ApiError::bad_request(format!("action must be approve or reject, not `{other}`"))),
    }
}

pub(super) fn refused(e: DecideError) -> ApiError {
    match e {
        DecideError::Invalid(detail) => ApiError::bad_request(detail),
        DecideError::Forbidden(detail) => ApiError::forbidden(detail),
        DecideError::NotFound(detail) => ApiError::not_found(detail),
        DecideError::Unavailable(inner) => ApiError::unavailable("the decision store", inner),
        DecideError::Refused(e) => {
            let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::CONFLICT);
            match e {
                TransitionError::NotFound(_) => ApiError::not_found(e.to_string()),
                TransitionError::Expired(_) => ApiError::new(status, "expired", e.to_string()),
                _ => ApiError::new(status, "conflict", e.to_string()),
            }
        }
    }
}

/// Decides through the HITL service and answers as the seed did (decision_id, status,
/// feedback, approved_at or rejected_at, message), plus who decided and the approvals.
async fn decide(
    state: &AppState,
    id: &str,
    verdict: Verdict,
    body: DecisionBody,
    caller: &Caller,
) -> Result<Value, ApiError> {
    let feedback = body.feedback.clone();
    let request = body.into_request();
    let by = Decider { principal: &caller.principal, from: caller.from.clone() };
    let changed = match state.hitl.decide(id, verdict, request, by).await.map_err(refused)? {
        Decided::Counted { decision, required } => {
            return Ok(json!({
                "decision_id": id,
                "status": "pending_approval",
                "approvals": decision.approvals,
                "required_approvals": required,
                "feedback": feedback,
                "message": format!("approval {} of {required} recorded", decision.approvals.len()),
            }))
        }
        Decided::Final(decision) => decision,
    };
    let at_field = if verdict == Verdict::Approve { "approved_at" } else { "rejected_at" };
    // The seed's messages, word for word (an edit shows in `edited`).
    let message = match verdict {
        Verdict::Approve => "Decision approved and executed",
        Verdict::Reject => "Decision rejected with feedback",
    };
    Ok(json!({
        "decision_id": id,
        "status": changed.status,
        "feedback": changed.feedback,
        at_field: changed.decided_at,
        "decided_by": changed.decided_by,
        "approvals": changed.approvals,
        "edited": changed.edited.is_some(),
        "message": message,
    }))
}
