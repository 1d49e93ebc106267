//! `POST /telegram/webhook`: Telegram's updates for the Approve and Reject buttons of pending
//! decisions (the logic is [`crate::hitl::telegram`]). Public to the guard, as Telegram holds
//! no token: the update must carry the webhook secret in `X-Telegram-Bot-Api-Secret-Token`
//! (else 401). Once the secret is verified the answer is 200 whatever the press came to, so
//! Telegram does not resend it; the audit record says what it came to (a press from an
//! unmapped user or one the approver rules refuse is a `forbidden` record, under the mapped
//! subject when there is one). Where `hitl.telegram` is not configured the route answers 404.

use super::error::{ApiError, ErrorBody, ErrorNote};
use super::guard::AuditStatus;
use super::AppState;
use crate::auth::{Principal, Role};
use crate::hitl::telegram::{Pressed, Update};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// The header Telegram puts the webhook secret in.
const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

#[utoipa::path(post, path = "/telegram/webhook", tag = "decisions", operation_id = "telegram_webhook", security(()),
    request_body(content_type = "application/json", description = "A Telegram Update (callback_query of an Approve or Reject button)"),
    responses((status = 200, description = "ok, and what the press came to"), (status = 401, description = "Without the webhook secret", body = ErrorBody), (status = 400, description = "Not a Telegram update", body = ErrorBody), (status = 404, description = "Telegram approvals are not configured here", body = ErrorBody)))]
pub(super) async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let telegram = state
        .telegram
        .as_ref()
        .ok_or_else(|| ApiError::not_found("Telegram approvals are not configured here (hitl.telegram)"))?;
    let presented = headers.get(SECRET_HEADER).and_then(|v| v.to_str().ok());
    if !telegram.verify(presented) {
        return Err(ApiError::unauthorized("the webhook secret is missing or wrong"));
    }
    let update: Update = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("not a Telegram update: {e}")))?;
    let pressed = telegram.handle(&state.hitl, update).await;
    let as_subject = |subject: &str| Principal {
        subject: subject.to_string(),
        role: Role::Approver,
        groups: Vec::new(),
        workflows: None,
        expires_at: 0,
    };
    let (answer, audit, who, note) = match &pressed {
        Pressed::Ignored => (json!({"ok": true, "outcome": "ignored"}), StatusCode::OK, None, None),
        Pressed::Decided { subject, decision_id, status } => (
            json!({"ok": true, "outcome": "decided", "decision_id": decision_id, "status": status, "decided_by": subject}),
            StatusCode::OK,
            Some(as_subject(subject)),
            None,
        ),
        Pressed::Unknown { user } => (
            json!({"ok": true, "outcome": "refused", "reason": "not an approver"}),
            StatusCode::FORBIDDEN,
            None,
            Some(format!("Telegram user {user} is not mapped to an approver")),
        ),
        Pressed::Refused { subject, reason, forbidden } => (
            json!({"ok": true, "outcome": "refused", "reason": reason}),
            if *forbidden { StatusCode::FORBIDDEN } else { StatusCode::CONFLICT },
            Some(as_subject(subject)),
            Some(reason.clone()),
        ),
    };
    let mut response = Json(answer).into_response();
    response.extensions_mut().insert(AuditStatus(audit));
    if let Some(who) = who {
        response.extensions_mut().insert(who);
    }
    if let Some(note) = note {
        response.extensions_mut().insert(ErrorNote(note));
    }
    Ok(response)
}

/// `POST /telegram/approval-request`'s body: the workflow, an optional id of the caller's, and
/// the approval request ([`crate::hitl::request`]). Its fields are read as a map and checked
/// by [`crate::hitl::request::ApprovalRequest::parse`] (serde ignores `deny_unknown_fields`
/// under `flatten`), so the document is described by [`RequestBodySchema`].
#[derive(Debug, serde::Deserialize)]
pub(super) struct RequestBody {
    workflow: String,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(flatten)]
    request: serde_json::Map<String, serde_json::Value>,
}

/// What [`RequestBody`] accepts, for the OpenAPI document.
#[derive(schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(super) struct RequestBodySchema {
    workflow: String,
    request_id: Option<String>,
    #[serde(flatten)]
    request: crate::hitl::request::Body,
}

super::schemas::body_schema!(
    /// `POST /telegram/approval-request`'s body.
    ApprovalRequestBody = RequestBodySchema, read_as RequestBody
);

super::schemas::body_schema!(
    /// `POST /telegram/approval-response`'s body.
    ApprovalResponseBody = ResponseBody
);

/// The gateway's request: a proposal from another system, parked for a person (and so sent to
/// the Telegram chats with its buttons). `request_id` in the answer is the decision id.
#[utoipa::path(post, path = "/telegram/approval-request", tag = "decisions", operation_id = "telegram_approval_request",
    request_body(content = ApprovalRequestBody, description = "workflow, request_id?, summary, actions?, details?, confidence?, reasons?, source?"),
    responses((status = 200, description = "request_id (the decision id), decision_id, status pending_approval, workflow, expires_at, message"), (status = 400, description = "Bad input", body = ErrorBody), (status = 404, description = "No such workflow", body = ErrorBody), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn approval_request(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let body = ApprovalRequestBody::parse(&body)?;
    let request = crate::hitl::request::ApprovalRequest::parse(serde_json::Value::Object(body.request))
        .map_err(ApiError::bad_request)?;
    let d = state
        .hitl
        .request_approval(&body.workflow, request, body.request_id)
        .await
        .map_err(super::decide::refused)?;
    Ok(Json(json!({
        "request_id": d.decision_id,
        "decision_id": d.decision_id,
        "task_id": d.task_id,
        "status": "pending_approval",
        "workflow": d.workflow_id,
        "expires_at": d.expires_at,
        "message": "Approval request created",
    })))
}

#[utoipa::path(get, path = "/telegram/approval-status/{request_id}", tag = "decisions", operation_id = "telegram_approval_status",
    params(("request_id" = String, Path, description = "The decision id")),
    responses((status = 200, description = "The decision, with request_id"), (status = 404, description = "Unknown id", body = ErrorBody), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn approval_status(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let d = state
        .hitl
        .store()
        .get(&id)
        .await
        .map_err(|e| ApiError::unavailable("the decision store", e))?
        .ok_or_else(|| ApiError::not_found(format!("no approval request `{id}`")))?;
    let mut view = serde_json::to_value(super::decisions::View::of(&d))
        .map_err(|e| ApiError::unavailable("serialization", e))?;
    view["request_id"] = id.into();
    Ok(Json(view))
}

/// `POST /telegram/approval-response`'s body.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ResponseBody {
    request_id: String,
    approved: bool,
    #[serde(default)]
    feedback: Option<String>,
    #[serde(default)]
    payload_hash: Option<String>,
}

/// The gateway's answer to a request, as the calling approver (the same path as the API's
/// approve and reject).
#[utoipa::path(post, path = "/telegram/approval-response", tag = "decisions", operation_id = "telegram_approval_response",
    request_body(content = ApprovalResponseBody, description = "request_id, approved (bool), feedback?, payload_hash?"),
    responses((status = 200, description = "As approve or reject, with request_id"), (status = 403, description = "Not on the workflow's approver list", body = ErrorBody), (status = 404, description = "Unknown id", body = ErrorBody), (status = 409, description = "Already decided or payload changed", body = ErrorBody), (status = 410, description = "Expired", body = ErrorBody), (status = 400, description = "Bad input", body = ErrorBody), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn approval_response(
    State(state): State<AppState>,
    caller: super::caller::Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = ApprovalResponseBody::parse(&body)?;
    let request_id = body.request_id.clone();
    let item =
        super::decide::DecisionItem::answer(body.request_id, body.approved, body.feedback, body.payload_hash);
    let mut answer = super::decide::decide_item(&state, item, &caller).await?;
    answer["request_id"] = request_id.into();
    Ok(super::decide::audited(answer))
}

#[utoipa::path(get, path = "/telegram/pending-approvals", tag = "decisions", operation_id = "telegram_pending_approvals",
    responses((status = 200, description = "total, count, decisions (pending, soonest deadline first; at most 100)"), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn pending_approvals(State(state): State<AppState>) -> Result<Response, ApiError> {
    let down = |e| ApiError::unavailable("the decision store", e);
    let ids = state.hitl.store().pending_ids(100).await.map_err(down)?;
    let decisions = state.hitl.store().get_many(&ids).await.map_err(down)?;
    Ok(super::decisions::page(&decisions, None))
}
