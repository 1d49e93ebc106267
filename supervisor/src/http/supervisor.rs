//! The supervisor control API of this replica (admin), under `/api/supervisor/`: the tree
//! (each consumed queue's consumer: desired and live state, restarts, in flight, rate),
//! pause and resume a queue, change its concurrency and prefetch live, clear what operators
//! changed (back to the configuration, autoscaling again), drain a queue (stop
//! taking work, wait for what is in flight) or the whole replica (as SIGTERM: drain, flush,
//! exit 0). And `GET /ready`: whether this replica can do its work now (RabbitMQ, Redis and
//! Kafka answer, no queue in meltdown), 503 with the failing part when not.
//!
//! A change applies to this replica until it stops, or with `scope=cluster` to every replica:
//! remembered in Redis (who, when), followed by each replica within `runtime.control_poll`,
//! and applied by replicas that start later before they consume.

use super::caller::Caller;
use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::control::remembered::{Change, Override};
use crate::control::QueueControl;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// How long a dependency may take to answer a readiness probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest a queue drain may wait for in-flight tasks.
const MAX_DRAIN_WAIT: u64 = 600;

fn control<'a>(state: &'a AppState, queue: &str) -> Result<&'a Arc<QueueControl>, ApiError> {
    state
        .controls
        .queue(queue)
        .ok_or_else(|| ApiError::not_found(format!("this replica does not consume `{queue}`")))
}

/// One queue as the tree shows it.
fn queue_view(state: &AppState, name: &str, control: &QueueControl, cluster: Option<&Override>) -> Value {
    let health = state.health.queues().remove(name).unwrap_or_default();
    let status = control.status();
    let phase = if health.failed {
        "failed"
    } else if health.consumers == 0 {
        "stopped"
    } else if status.desired.paused {
        if status.in_flight > 0 {
            "pausing"
        } else {
            "paused"
        }
    } else {
        "consuming"
    };
    json!({
        "queue": name,
        "state": phase,
        "paused": status.desired.paused,
        "concurrency": status.desired.concurrency,
        "prefetch": status.desired.prefetch,
        "consuming": status.consuming,
        "pinned": status.desired.pinned,
        "in_flight": status.in_flight,
        "busy": status.busy,
        "utilization": status.utilization,
        "done": status.done,
        "per_second_1m": status.per_second_1m,
        "backlog": status.backlog,
        "autoscale": status.autoscale,
        "restarts": health.restarts,
        "last_error": health.last_error,
        "cluster": cluster,
        "activity": control.activity().view(),
    })
}

#[utoipa::path(get, path = "/api/supervisor/tree", tag = "supervisor", operation_id = "supervisor_tree",
    responses((status = 200, description = "replica {id, host, pid}; root: the live actor tree {actor, id, state, restarts, children}; queues: [{queue, state (consuming, pausing, paused, stopped, failed), paused, concurrency, prefetch, pinned (an operator's concurrency: autoscaling waits until cleared), consuming, in_flight (not yet settled), busy (of them, holding a slot: not yet routed), utilization (busy over concurrency), done, per_second_1m, backlog {ready, unacked?, consumers} as last sampled, autoscale {min, max, active, last_move {from, to, why, at}} where configured, restarts, last_error, cluster: what the cluster asks of it {paused?, concurrency?, prefetch?, by, at}, activity: what became of its tasks on this replica since it started {counts by outcome (executed, hitl, dead_lettered, retried, requeued, duplicate, deferred), recent: the latest 10 executed, hitl and dead_lettered tasks, newest first, each {task_id, detail (execution mode, decision id, dead-letter reason code), at}}}]")))]
pub(super) async fn tree(State(state): State<AppState>) -> Json<Value> {
    let names: Vec<String> = state.controls.queues().map(|(q, _)| q.clone()).collect();
    // What the cluster asks of each queue (who, when); a store that does not answer leaves it out.
    let cluster = match state.controls.remembered() {
        Some(store) => store.load(&names).await.unwrap_or_default(),
        None => Default::default(),
    };
    let queues: Vec<Value> =
        state.controls.queues().map(|(name, c)| queue_view(&state, name, c, cluster.get(name))).collect();
    Json(json!({
        "replica": state.controls.replica(),
        "root": state.controls.tree().view(),
        "llm": state.health.llm(),
        "queues": queues,
    }))
}

/// Where a change applies: this replica (default) or every replica, remembered.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScopeQuery {
    scope: Option<String>,
}

/// `changes` to `queue`, here or (remembered, followed by every replica) in the cluster.
async fn apply(
    state: &AppState,
    queue: &str,
    caller: &Caller,
    scope: Option<&str>,
    changes: &[Change],
) -> Result<Json<Value>, ApiError> {
    let c = control(state, queue)?;
    if for_cluster(scope)? {
        state
            .controls
            .change_cluster(queue, changes, &caller.principal.subject)
            .await
            .map_err(|e| ApiError::unavailable("the cluster's control store", e))?;
    } else {
        c.change(|d| changes.iter().for_each(|change| change.apply(d)));
    }
    Ok(Json(queue_view(state, queue, c, None)))
}

/// Whether `scope` names the cluster (else this replica).
fn for_cluster(scope: Option<&str>) -> Result<bool, ApiError> {
    match scope {
        None | Some("replica") => Ok(false),
        Some("cluster") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!("scope must be replica or cluster, not `{other}`"))),
    }
}

#[utoipa::path(post, path = "/api/supervisor/queues/{queue}/pause", tag = "supervisor", operation_id = "pause_queue",
    params(("queue" = String, Path), ("scope" = Option<String>, Query, pattern = "^(replica|cluster)$", description = "replica (default) or cluster: every replica, remembered for replicas started later")),
    responses((status = 200, description = "The queue as the tree shows it: in-flight tasks finish and are acked, nothing new is taken"), (status = 400, description = "Bad input", body = ErrorBody), (status = 404, description = "Not consumed here", body = ErrorBody), (status = 503, description = "The cluster's control store is down", body = ErrorBody)))]
pub(super) async fn pause(
    State(state): State<AppState>,
    Path(queue): Path<String>,
    caller: Caller,
    q: Result<Query<ScopeQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    apply(&state, &queue, &caller, q?.0.scope.as_deref(), &[Change::Paused(true)]).await
}

#[utoipa::path(post, path = "/api/supervisor/queues/{queue}/resume", tag = "supervisor", operation_id = "resume_queue",
    params(("queue" = String, Path), ("scope" = Option<String>, Query, pattern = "^(replica|cluster)$", description = "replica (default) or cluster")),
    responses((status = 200, description = "The queue as the tree shows it"), (status = 400, description = "Bad input", body = ErrorBody), (status = 404, description = "Not consumed here", body = ErrorBody), (status = 503, description = "The cluster's control store is down", body = ErrorBody)))]
pub(super) async fn resume(
    State(state): State<AppState>,
    Path(queue): Path<String>,
    caller: Caller,
    q: Result<Query<ScopeQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    apply(&state, &queue, &caller, q?.0.scope.as_deref(), &[Change::Paused(false)]).await
}

#[utoipa::path(post, path = "/api/supervisor/queues/{queue}/clear", tag = "supervisor", operation_id = "clear_queue",
    params(("queue" = String, Path), ("scope" = Option<String>, Query, pattern = "^(replica|cluster)$", description = "replica (default): this replica back to its configuration; cluster: the remembered state cleared (who and when kept) and every replica back to its configuration")),
    responses((status = 200, description = "The queue as the tree shows it: consuming, configured concurrency and prefetch, autoscaling again where configured"), (status = 400, description = "Bad input", body = ErrorBody), (status = 404, description = "Not consumed here", body = ErrorBody), (status = 503, description = "The cluster's control store is down", body = ErrorBody)))]
pub(super) async fn clear(
    State(state): State<AppState>,
    Path(queue): Path<String>,
    caller: Caller,
    q: Result<Query<ScopeQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let c = control(&state, &queue)?;
    if for_cluster(q?.0.scope.as_deref())? {
        state
            .controls
            .clear_cluster(&queue, &caller.principal.subject)
            .await
            .map_err(|e| ApiError::unavailable("the cluster's control store", e))?;
    } else {
        c.reset();
    }
    Ok(Json(queue_view(&state, &queue, c, None)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Amount {
    value: u64,
    scope: Option<String>,
}

#[utoipa::path(put, path = "/api/supervisor/queues/{queue}/concurrency", tag = "supervisor", operation_id = "scale_queue",
    params(("queue" = String, Path), ("value" = u64, Query, minimum = 1, maximum = 1024, description = "Tasks at once; the prefetch is raised to it when lower"), ("scope" = Option<String>, Query, pattern = "^(replica|cluster)$", description = "replica (default) or cluster")),
    responses((status = 200, description = "The queue as the tree shows it"), (status = 400, description = "Bad input", body = ErrorBody), (status = 404, description = "Not consumed here", body = ErrorBody), (status = 503, description = "The cluster's control store is down", body = ErrorBody)))]
pub(super) async fn concurrency(
    State(state): State<AppState>,
    Path(queue): Path<String>,
    caller: Caller,
    q: Result<Query<Amount>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = q?.0;
    let change = Change::concurrency(q.value).map_err(ApiError::bad_request)?;
    apply(&state, &queue, &caller, q.scope.as_deref(), &[change]).await
}

#[utoipa::path(put, path = "/api/supervisor/queues/{queue}/prefetch", tag = "supervisor", operation_id = "prefetch_queue",
    params(("queue" = String, Path), ("value" = u64, Query, minimum = 1, maximum = 65535, description = "Unacked deliveries handed over ahead (basic_qos)"), ("scope" = Option<String>, Query, pattern = "^(replica|cluster)$", description = "replica (default) or cluster")),
    responses((status = 200, description = "The queue as the tree shows it"), (status = 400, description = "Bad input", body = ErrorBody), (status = 404, description = "Not consumed here", body = ErrorBody), (status = 503, description = "The cluster's control store is down", body = ErrorBody)))]
pub(super) async fn prefetch(
    State(state): State<AppState>,
    Path(queue): Path<String>,
    caller: Caller,
    q: Result<Query<Amount>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = q?.0;
    let change = Change::prefetch(q.value).map_err(ApiError::bad_request)?;
    apply(&state, &queue, &caller, q.scope.as_deref(), &[change]).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DrainQuery {
    /// Seconds to wait for in-flight tasks (default 30).
    wait: Option<u64>,
}

#[utoipa::path(post, path = "/api/supervisor/queues/{queue}/drain", tag = "supervisor", operation_id = "drain_queue",
    params(("queue" = String, Path), ("wait" = Option<u64>, Query, minimum = 0, maximum = 600, description = "Seconds to wait for in-flight tasks, default 30")),
    responses((status = 200, description = "The queue paused, drained true once nothing is in flight (false: still finishing after wait)"), (status = 400, description = "Bad input", body = ErrorBody), (status = 404, description = "Not consumed here", body = ErrorBody)))]
pub(super) async fn drain_queue(
    State(state): State<AppState>,
    Path(queue): Path<String>,
    q: Result<Query<DrainQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let wait = q?.0.wait.unwrap_or(30);
    if wait > MAX_DRAIN_WAIT {
        return Err(ApiError::bad_request(format!("wait must be 0..{MAX_DRAIN_WAIT} seconds")));
    }
    let c = control(&state, &queue)?;
    c.change(|d| d.paused = true);
    let drained = c.settled(Duration::from_secs(wait)).await;
    let mut view = queue_view(&state, &queue, c, None);
    view["drained"] = drained.into();
    Ok(Json(view))
}

#[utoipa::path(post, path = "/api/supervisor/drain", tag = "supervisor", operation_id = "drain_replica",
    responses((status = 202, description = "draining: the replica stops consuming, finishes in-flight tasks within its grace period, flushes its events and exits 0")))]
pub(super) async fn drain_replica(State(state): State<AppState>) -> Response {
    state.controls.request_drain();
    (StatusCode::ACCEPTED, Json(json!({"draining": true, "replica": state.controls.replica()})))
        .into_response()
}

/// 200 `ready` when this replica can do its work: RabbitMQ, Redis and Kafka answer and no
/// queue is in meltdown; else 503 `not_ready` with each part's state (no error text: public).
#[utoipa::path(get, path = "/ready", tag = "runtime", operation_id = "ready",
    responses((status = 200, description = "status ready; checks: rabbitmq, redis, kafka, tree (ok or the failing state)"), (status = 503, description = "status not_ready, with the failing checks")))]
pub(super) async fn ready(State(state): State<AppState>) -> Response {
    let state_of = |ok: bool| if ok { "ok" } else { "unavailable" };
    let redis = tokio::time::timeout(PROBE_TIMEOUT, state.hitl.store().ping()).await;
    let redis = state_of(matches!(redis, Ok(Ok(()))));
    let rabbitmq = match &state.amqp {
        Some(link) => state_of(link.is_up().await),
        None => "not used",
    };
    let kafka = match &state.sink {
        Some(sink) => state_of(sink.reachable(PROBE_TIMEOUT).await.is_ok()),
        None => "not used",
    };
    let failed: Vec<String> =
        state.health.queues().into_iter().filter(|(_, q)| q.failed).map(|(name, _)| name).collect();
    let tree = if failed.is_empty() { "ok".to_string() } else { format!("meltdown: {}", failed.join(", ")) };
    let ready = [redis, rabbitmq, kafka].iter().all(|s| *s != "unavailable") && failed.is_empty();
    let code = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": {"rabbitmq": rabbitmq, "redis": redis, "kafka": kafka, "tree": tree},
    });
    (code, Json(body)).into_response()
}
