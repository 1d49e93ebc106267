//! The HITL service: parking a decision for a person, deciding it, and expiring it, in one
//! place. Every entry point goes through it: the pipeline (through the HitlActor) and
//! onboarding park, the HTTP API decides, the ExpirySweeper expires and drains the outbox.
//! The rules live here, not in the handlers: who may decide (the verified caller on the
//! approver list snapshotted at park time, a token limited to other workflows refused, an
//! unknown workflow refused for everyone), what an edit may be (the agent's schema and the
//! same action policy as a model's proposal), M-of-N approvals, and what a decision does
//! once decided (its effects run from the outbox).

use super::notify::Notification;
use super::outbox::DecisionEffects;
use super::{ApproverRules, Parked, PendingDecision, Status, StoreError, Transition, TransitionError};
use crate::auth::Principal;
use crate::config::hitl::NotifyEvent;
use crate::events::contract::{Envelope, HitlRequest, Origin};
use crate::events::event::topic;
use overseer_agents::agent::Agent;
use overseer_agents::policy::PolicyConfig;
use overseer_agents::workflow::ExpiryPolicy;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Longest feedback accepted.
pub const MAX_FEEDBACK: usize = 4000;

/// What an edit is checked against: the agents' output schemas and the action policy.
#[derive(Clone, Default)]
pub struct EditRules {
    pub agents: HashMap<String, Arc<dyn Agent>>,
    pub policy: PolicyConfig,
}

/// A person's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approve,
    Reject,
}

/// What a person asks for.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub feedback: Option<String>,
    /// A changed proposal (approvals only): what executes instead of the model's.
    pub edited: Option<Value>,
    /// The hash of the proposal the person saw; a decision whose payload changed is refused.
    pub payload_hash: Option<String>,
}

/// Who decides: the verified caller and where they called from.
pub struct Decider<'a> {
    pub principal: &'a Principal,
    pub from: Option<String>,
}

/// What deciding did.
#[derive(Debug, Clone)]
pub enum Decided {
    /// An approval was counted; the workflow needs `required` distinct approvers.
    Counted { decision: PendingDecision, required: u32 },
    /// The decision reached its outcome; its effects run.
    Final(PendingDecision),
}

/// Why a decision was refused, by kind (the HTTP API maps each to its status).
#[derive(Debug, Clone, thiserror::Error)]
pub enum DecideError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Refused(TransitionError),
    #[error(transparent)]
    Unavailable(StoreError),
}

/// Why a decision could not be parked; the task is requeued.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ParkError(pub String);

pub struct HitlService {
    /// The store, sink, workflows and notifier, shared with the outbox that runs effects.
    pub effects: Arc<DecisionEffects>,
    pub edits: EditRules,
    /// How long a decided decision stays readable after its pending TTL (`hitl.history`).
    pub history: Duration,
}

impl HitlService {
    pub fn new(effects: Arc<DecisionEffects>, edits: EditRules) -> Self {
        Self { effects, edits, history: Duration::from_secs(24 * 3600) }
    }

    /// The same, keeping decided decisions `history` after their TTL.
    pub fn keeping(self, history: Duration) -> Self {
        Self { history, ..self }
    }

    /// Parks an approval request another system sent through the API (the gateway's
    /// `POST /telegram/approval-request`): a decision of `workflow_id` on queue `api`, its task
    /// `task_id` (a fresh one when none is given), announced and notified like any other.
    pub async fn request_approval(
        &self,
        workflow_id: &str,
        request: super::request::ApprovalRequest,
        task_id: Option<String>,
    ) -> Result<PendingDecision, DecideError> {
        let workflow = self
            .effects
            .workflows
            .get(workflow_id)
            .ok_or_else(|| DecideError::NotFound(format!("no workflow `{workflow_id}`")))?;
        let task_id = task_id.unwrap_or_else(|| format!("req-{}", uuid::Uuid::new_v4().simple()));
        let task =
            serde_json::json!({"task_id": task_id, "kind": "approval.request", "workflow": workflow_id});
        let data = request.data(task, "approval.request");
        let decision = PendingDecision::new(
            &task_id,
            workflow_id,
            "api",
            &request.source,
            request.confidence,
            request.reasons.clone(),
            data,
            workflow.config.pending_ttl,
        )
        .with_rules(&workflow.config);
        let parked = self
            .park(&decision, workflow.config.pending_ttl + self.history)
            .await
            .map_err(|e| DecideError::Unavailable(StoreError::Unavailable(e.0)))?;
        match parked {
            // Stored as built, perhaps under a fresh id (the first was taken).
            Parked::New(id) => Ok(PendingDecision { decision_id: id, ..decision }),
            // The caller's request_id was asked for before: the decision already stored.
            Parked::Existing(id) => self
                .store()
                .get(&id)
                .await
                .map_err(DecideError::Unavailable)?
                .ok_or_else(|| DecideError::NotFound(format!("no decision `{id}`"))),
        }
    }

    /// The decision store (for the read-only views).
    pub fn store(&self) -> &Arc<dyn super::DecisionStore> {
        &self.effects.store
    }

    /// Parks `decision` (kept `retention`), announces it on `hitl.requests`, and tells the
    /// notification targets about a new one. A redelivered task's decision is not parked
    /// twice (`Parked::Existing`) and not notified again.
    pub async fn park(&self, decision: &PendingDecision, retention: Duration) -> Result<Parked, ParkError> {
        let parked = self.store().park(decision, retention).await.map_err(|e| ParkError(e.to_string()))?;
        let request = HitlRequest {
            envelope: Envelope::new("hitl.request", &decision.task_id),
            decision_id: parked.decision_id().to_string(),
            origin: Origin {
                queue: decision.queue.clone(),
                agent: decision.agent.clone(),
                workflow: decision.workflow_id.clone(),
            },
            confidence: decision.confidence,
            reasons: decision.reasons.clone(),
            expires_at: decision.expires_at.clone(),
        };
        crate::events::publish(self.effects.sink.as_ref(), topic::HITL_REQUESTS, &decision.task_id, &request)
            .await
            .map_err(|e| ParkError(e.to_string()))?;
        let notifier = &self.effects.notifier;
        if let (Parked::New(id), true) = (&parked, notifier.enabled()) {
            // The store may have given it a fresh id (the first was taken).
            let stored = PendingDecision { decision_id: id.clone(), ..decision.clone() };
            notifier.notify(Notification::about(NotifyEvent::Pending, &stored));
        }
        Ok(parked)
    }

    /// Approves or rejects decision `id` for `by`. The state change is durable before this
    /// returns; the effects of a final outcome then run at once on a task of their own (the
    /// outbox retries them if that run fails).
    pub async fn decide(
        &self,
        id: &str,
        verdict: Verdict,
        request: Request,
        by: Decider<'_>,
    ) -> Result<Decided, DecideError> {
        let who = by.principal;
        if request.feedback.as_ref().is_some_and(|f| f.len() > MAX_FEEDBACK) {
            return Err(DecideError::Invalid(format!("feedback is longer than {MAX_FEEDBACK} bytes")));
        }
        let d = self.stored(id).await?;
        let required = self.approvals_required(&d, who)?;
        let edited = match (verdict, request.edited) {
            (_, None) => None,
            (Verdict::Reject, Some(_)) => {
                return Err(DecideError::Invalid("only an approval can carry an edit".into()))
            }
            (Verdict::Approve, Some(_)) if required > 1 => {
                return Err(DecideError::Invalid(
                    "this workflow needs several approvers; edits need a single-approver workflow".into(),
                ))
            }
            (Verdict::Approve, Some(e)) => Some(self.checked_edit(&d, e)?),
        };
        let now = SystemTime::now();
        let t = Transition {
            to: if verdict == Verdict::Approve { Status::Approved } else { Status::Rejected },
            by: who.subject.clone(),
            from: by.from.clone(),
            feedback: request.feedback,
            seen_hash: request.payload_hash,
            edited,
            at: humantime::format_rfc3339_millis(now).to_string(),
            now_ms: super::decision::unix_ms(now),
            required_approvals: required,
            workflow: Some(d.workflow_id.clone()),
        };
        let changed = self.store().transition(id, &t).await.map_err(|e| match e {
            TransitionError::Store(inner) => DecideError::Unavailable(inner),
            other => DecideError::Refused(other),
        })?;
        tracing::info!(decision_id = %id, user = %who.subject, from = ?by.from, status = %changed.status, "decision");
        if changed.status == Status::Pending.as_str() {
            return Ok(Decided::Counted { decision: changed, required });
        }
        record_metrics(&changed, now);
        self.run_effects(changed.clone());
        Ok(Decided::Final(changed))
    }

    /// Decision `id` as stored, or why not.
    async fn stored(&self, id: &str) -> Result<PendingDecision, DecideError> {
        self.store()
            .get(id)
            .await
            .map_err(DecideError::Unavailable)?
            .ok_or_else(|| DecideError::NotFound(format!("no decision `{id}`")))
    }

    /// How many distinct approvers `d` needs, once `who` is known to be allowed to decide it.
    fn approvals_required(&self, d: &PendingDecision, who: &Principal) -> Result<u32, DecideError> {
        // Fail closed: a workflow this replica does not know has no rules anyone could meet.
        let workflow = self.effects.workflows.get(&d.workflow_id).ok_or_else(|| {
            DecideError::Forbidden(format!(
                "the decision's workflow `{}` is not configured; nobody may decide it",
                d.workflow_id
            ))
        })?;
        // The rules as they were when the decision was parked (older decisions: the workflow's).
        let rules = d.approver_rules.clone().unwrap_or_else(|| ApproverRules::of(&workflow.config));
        if !who.may_decide_in(&d.workflow_id) {
            return Err(DecideError::Forbidden(format!(
                "this token may not decide `{}` decisions",
                d.workflow_id
            )));
        }
        if !who.on_list(&rules.approvers) {
            return Err(DecideError::Forbidden(format!(
                "`{}` may not decide `{}` decisions",
                who.subject, d.workflow_id
            )));
        }
        Ok(rules.required_approvals.max(1))
    }

    /// Checks an edit of decision `id` by `who` without deciding anything: the same checks an
    /// approval carrying it would pass (who may decide, single-approver workflow, the agent's
    /// output schema, the action policy). Answers the proposal as it would execute.
    pub async fn check_edit(&self, id: &str, edited: Value, who: &Principal) -> Result<Value, DecideError> {
        let d = self.stored(id).await?;
        if !matches!(d.status.as_str(), "pending" | "escalated") {
            return Err(DecideError::Invalid(format!("decision `{id}` is {}: nothing to edit", d.status)));
        }
        if self.approvals_required(&d, who)? > 1 {
            return Err(DecideError::Invalid(
                "this workflow needs several approvers; edits need a single-approver workflow".into(),
            ));
        }
        self.checked_edit(&d, edited)
    }

    /// The edited proposal, checked against the agent's output schema and the action policy's
    /// limits (allow-list, amounts, quantities, totals, number of actions), normalised to the
    /// stored shape (summary, model_confidence, actions, details).
    fn checked_edit(&self, d: &PendingDecision, edited: Value) -> Result<Value, DecideError> {
        let agent = self
            .edits
            .agents
            .get(&d.agent)
            .ok_or_else(|| DecideError::Invalid(format!("agent `{}` is not loaded here", d.agent)))?;
        let Value::Object(mut fields) = edited else {
            return Err(DecideError::Invalid("edited must be a proposal object".into()));
        };
        let confidence = fields
            .remove("model_confidence")
            .or_else(|| fields.remove("confidence"))
            .unwrap_or_else(|| d.decision_data["proposal"]["model_confidence"].clone());
        fields.insert("confidence".into(), confidence);
        let checked = agent.check_output(&Value::Object(fields).to_string()).map_err(|problem| {
            DecideError::Invalid(format!("edited proposal does not fit the agent's schema: {problem}"))
        })?;
        // The same limits as a model's proposal: an edit cannot add what the policy forbids.
        let task = &d.decision_data["task"];
        let payload =
            serde_json::value::to_raw_value(task["payload"].as_object().unwrap_or(&Default::default()))
                .map_err(|e| DecideError::Invalid(format!("the decision's task payload: {e}")))?;
        let ctx = agent.assess(task["kind"].as_str(), &payload).map(|a| a.policy).unwrap_or_default();
        let broken = self.edits.policy.edit_problems(&agent.spec().allowed_actions, &checked.actions, ctx);
        if !broken.is_empty() {
            return Err(DecideError::Invalid(format!(
                "edited proposal breaks the action policy: {}",
                broken.join("; ")
            )));
        }
        serde_json::to_value(checked).map_err(|e| DecideError::Invalid(e.to_string()))
    }

    /// Runs a decided decision's effects on a task of its own: durable in the outbox already,
    /// so if this run fails, the sweepers retry it.
    fn run_effects(&self, decided: PendingDecision) {
        let effects = self.effects.clone();
        tokio::spawn(async move {
            let id = decided.decision_id.clone();
            if let Err(e) = effects.run_decided(decided).await {
                tracing::warn!(decision_id = %id, error = %e, "decision effects incomplete; the outbox retries them");
            }
        });
    }

    /// Applies the expiry policy of each pending decision past its deadline (up to `limit`):
    /// escalate (to `hitl_exceptions`, still decidable) or auto-reject (`expired`). Redis'
    /// clock judges the deadline, so replicas whose clocks disagree expire nothing early;
    /// racing replicas expire each decision once. Returns how many expired.
    pub async fn expire_due(&self, limit: usize) -> Result<usize, StoreError> {
        let now = SystemTime::now();
        let now_ms = super::decision::unix_ms(now);
        let mut expired = 0;
        for id in self.store().due_ids(now_ms, limit).await? {
            let decision = self.store().get(&id).await?;
            let policy = decision
                .as_ref()
                .and_then(|d| self.effects.workflows.get(&d.workflow_id))
                .map(|w| w.config.expiry_policy)
                .unwrap_or_default();
            let t = Transition {
                to: match policy {
                    ExpiryPolicy::Escalate => Status::Escalated,
                    ExpiryPolicy::AutoReject => Status::Expired,
                },
                by: "overseer".into(),
                from: None,
                feedback: Some("expired: nobody decided before the deadline".into()),
                seen_hash: None,
                edited: None,
                at: humantime::format_rfc3339_millis(now).to_string(),
                now_ms,
                required_approvals: 1,
                workflow: decision.as_ref().map(|d| d.workflow_id.clone()),
            };
            match self.store().transition(&id, &t).await {
                Ok(changed) => {
                    expired += 1;
                    metrics::counter!(crate::metrics::HITL_EXPIRIES, "workflow" => changed.workflow_id.clone(), "outcome" => changed.status.clone())
                        .increment(1);
                    if let Err(e) = self.effects.run_decided(changed).await {
                        tracing::warn!(decision_id = %id, error = %e, "expiry effects incomplete; the outbox retries them");
                    }
                }
                // Another replica acted first, or a person decided meanwhile.
                // NotDue: this replica's clock runs ahead of Redis'; a later sweep expires it.
                Err(
                    TransitionError::AlreadyDecided(_)
                    | TransitionError::NotFound(_)
                    | TransitionError::NotDue(_),
                ) => {}
                Err(e) => tracing::warn!(decision_id = %id, error = %e, "could not expire a decision"),
            }
        }
        Ok(expired)
    }

    /// Runs what is missing of the effects of decisions decided at least `settle` ago (their
    /// first run failed, or its replica died). Returns how many completed.
    pub async fn run_outbox(&self, settle: Duration, limit: usize) -> Result<usize, StoreError> {
        self.effects.drain(settle, limit).await
    }

    /// Drops history entries older than `keep`.
    pub async fn trim_history(&self, keep: Duration) -> Result<(), StoreError> {
        let start = super::decision::unix_ms(SystemTime::now()).saturating_sub(keep.as_millis() as u64);
        self.store().trim_history(start).await
    }
}

fn record_metrics(d: &PendingDecision, now: SystemTime) {
    let labels = [("workflow", d.workflow_id.clone()), ("outcome", d.status.clone())];
    metrics::counter!(crate::metrics::HITL_DECISIONS, &labels).increment(1);
    if let Some(waited) =
        humantime::parse_rfc3339(&d.created_at).ok().and_then(|c| now.duration_since(c).ok())
    {
        metrics::histogram!(crate::metrics::HITL_TIME_TO_DECISION, &labels).record(waited.as_secs_f64());
    }
}
