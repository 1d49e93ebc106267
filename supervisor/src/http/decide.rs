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
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

/// Most decisions in one batch.
const MAX_BATCH: usize = 200;

/// What a person may add to a verdict.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Extras {
    /// Shown to the agent's team and published on hitl.feedback.
    #[serde(default)]
    feedback: Option<String>,
    /// A changed proposal (approve only): checked against the agent's output schema and the
    /// action policy, then it is what executes.
    #[serde(default)]
    edited: Option<Value>,
    /// The hash of the proposal the approver saw; a decision whose payload changed answers 409.
    #[serde(default)]
    payload_hash: Option<String>,
}

/// One item of `POST /api/hitl/decision`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DecisionItem {
    decision_id: String,
    /// `approve` or `reject`.
    #[schemars(pattern("^(approve|approved|reject|rejected)$"))]
    action: String,
    #[serde(default)]
    feedback: Option<String>,
    #[serde(default)]
    edited: Option<Value>,
    #[serde(default)]
    payload_hash: Option<String>,
}

/// `{"decisions": [items]}`: each item is decided on its own and answers its own status.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DecisionBatch {
    #[schemars(length(min = 1, max = 200))]
    decisions: Vec<DecisionItem>,
}

/// `POST /api/hitl/decision`'s body: one item, or a batch (the handler tells them apart by
/// the `decisions` field, so that an error names what is wrong in the one that was meant).
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(super) enum DecisionRequest {
    Batch(DecisionBatch),
    One(DecisionItem),
}

/// One decision of the SEO or content-marketing approve endpoints: as [`DecisionItem`], with
/// `action` defaulting to approve.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct FamilyItem {
    decision_id: String,
    /// `approve` (default) or `reject`.
    #[serde(default = "approve_by_default")]
    #[schemars(pattern("^(approve|approved|reject|rejected)$"))]
    action: String,
    #[serde(default)]
    feedback: Option<String>,
    #[serde(default)]
    edited: Option<Value>,
    #[serde(default)]
    payload_hash: Option<String>,
}

super::schemas::body_schema!(
    /// An approval's or rejection's body (may be empty).
    DecisionBody = Extras, optional
);
super::schemas::body_schema!(DecisionItemBody = DecisionItem);
super::schemas::body_schema!(DecisionBatchBody = DecisionBatch);
super::schemas::body_schema!(
    /// One decision item, or `{"decisions": [items]}`.
    DecisionRequestBody = DecisionRequest, document_only
);
super::schemas::body_schema!(FamilyItemBody = FamilyItem);

fn approve_by_default() -> String {
    "approve".into()
}

impl From<FamilyItem> for DecisionItem {
    fn from(f: FamilyItem) -> Self {
        let FamilyItem { decision_id, action, feedback, edited, payload_hash } = f;
        Self { decision_id, action, feedback, edited, payload_hash }
    }
}

impl Extras {
    pub(super) fn into_request(self) -> Request {
        Request { feedback: self.feedback, edited: self.edited, payload_hash: self.payload_hash }
    }
}

impl DecisionItem {
    /// A yes or no to `decision_id`, without an edit.
    pub(super) fn answer(
        decision_id: String,
        approved: bool,
        feedback: Option<String>,
        payload_hash: Option<String>,
    ) -> Self {
        let action = if approved { "approve" } else { "reject" }.to_string();
        Self { decision_id, action, feedback, edited: None, payload_hash }
    }

    fn body(self) -> (String, String, Extras) {
        let body = Extras { feedback: self.feedback, edited: self.edited, payload_hash: self.payload_hash };
        (self.decision_id, self.action, body)
    }
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
    let body = DecisionBody::parse(&body)?;
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
    let body = DecisionBody::parse(&body)?;
    decide(&state, &id, Verdict::Reject, body, &caller).await.map(audited)
}

/// `POST /api/hitl/decision`: one item, or `{"decisions": [items]}`.
#[utoipa::path(post, path = "/api/hitl/decision", tag = "decisions", operation_id = "decide",
    request_body(content = DecisionRequestBody, description = "One item, or {\"decisions\": [items]} (1..200) for a batch"),
    responses((status = 200, description = "One answer, or per-item results with their status codes"), (status = 403, description = "Not on the workflow's approver list", body = ErrorBody), (status = 404, description = "Unknown id", body = ErrorBody), (status = 409, description = "Already decided, payload changed, or this approver already approved", body = ErrorBody), (status = 410, description = "Expired", body = ErrorBody), (status = 400, description = "Bad input", body = ErrorBody), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn general(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let is_batch = serde_json::from_slice::<Value>(&body).is_ok_and(|raw| raw.get("decisions").is_some());
    if !is_batch {
        let item = DecisionItemBody::parse(&body)?;
        return Ok(audited(decide_item(&state, item, &caller).await?));
    }
    // The whole batch is checked before anything is decided: a malformed one decides nothing.
    let items = DecisionBatchBody::parse(&body)?.decisions;
    debug_assert!((1..=MAX_BATCH).contains(&items.len()), "the schema bounds a batch");
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let (id, action, body) = item.body();
        let outcome = match verdict(&action) {
            Ok(v) => decide(&state, &id, v, body, &caller).await,
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
    let (id, action, body) = DecisionItem::from(FamilyItemBody::parse(body)?).body();
    let verdict = verdict(&action)?;
    let decision = state
        .hitl
        .store()
        .get(&id)
        .await
        .map_err(|e| ApiError::unavailable("the decision store", e))?
        .ok_or_else(|| ApiError::not_found(format!("no decision `{id}`")))?;
    // Another agent's decision is not one this endpoint has: 404, as for an unknown id.
    if !agents.contains(&decision.agent.as_str()) {
        return Err(ApiError::not_found(format!(
            "decision `{id}` is the {} agent's; this endpoint decides those of {}",
            decision.agent,
            agents.join(", ")
        )));
    }
    decide(state, &id, verdict, body, caller).await.map(audited)
}

#[utoipa::path(post, path = "/api/brain/seo/workflows/hitl/approve", tag = "decisions", operation_id = "approve_seo",
    request_body(content = FamilyItemBody, description = "decision_id; action approve (default) or reject; feedback, edited, payload_hash"),
    responses((status = 200, description = "As POST /api/brain/hitl/decisions/{id}/approve"), (status = 400, description = "Bad input", body = ErrorBody), (status = 403, description = "Not on the workflow's approver list", body = ErrorBody), (status = 404, description = "Unknown id, or not an SEO decision", body = ErrorBody), (status = 409, description = "Already decided or payload changed", body = ErrorBody), (status = 410, description = "Expired", body = ErrorBody), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn seo(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    family(&state, SEO_AGENTS, &caller, &body).await
}

#[utoipa::path(post, path = "/api/brain/content-marketing/workflows/hitl/approve", tag = "decisions", operation_id = "approve_content_marketing",
    request_body(content = FamilyItemBody, description = "decision_id; action approve (default) or reject; feedback, edited, payload_hash"),
    responses((status = 200, description = "As POST /api/brain/hitl/decisions/{id}/approve"), (status = 400, description = "Bad input", body = ErrorBody), (status = 403, description = "Not on the workflow's approver list", body = ErrorBody), (status = 404, description = "Unknown id, or not a content-marketing decision", body = ErrorBody), (status = 409, description = "Already decided or payload changed", body = ErrorBody), (status = 410, description = "Expired", body = ErrorBody), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn content_marketing(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    family(&state, CONTENT_AGENTS, &caller, &body).await
}

/// One item decided; the answer as approve/reject give it.
pub(super) async fn decide_item(
    state: &AppState,
    item: DecisionItem,
    caller: &Caller,
) -> Result<Value, ApiError> {
    let (id, action, body) = item.body();
    decide(state, &id, verdict(&action)?, body, caller).await
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
    body: Extras,
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
