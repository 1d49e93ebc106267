//! The seed's lead intake (`POST /onboarding/start`, `GET /onboarding/status/{session_id}`):
//! a lead is scored by the old rule set (agents/src/onboarding.rs), routed by the
//! `lead_processing` workflow as it is now, and either completes at once (an `ai.completions`
//! event with execution_mode autonomous or monitored, and `lead.qualified` on domain.leads) or
//! is parked as a pending decision for a person (`pending_approval`). Approving that decision
//! completes the session (`hitl_approved`, through the decision outbox like any approval);
//! rejecting it rejects the session with the feedback.

pub mod sessions;

use crate::events::contract::{Completion, Envelope, Event, LeadQualified, Origin};
use crate::events::event::{self, topic};
use crate::events::EventSink;
use crate::hitl::service::{DecideError, Decided, Decider, HitlService, Request, Verdict};
use crate::hitl::{PendingDecision, StoreError, TransitionError};
use crate::workflows::WorkflowRegistry;
use overseer_agents::confidence::Confidence;
use overseer_agents::onboarding::{self, OnboardingRequest};
use overseer_agents::routing::{self, Route};
use serde_json::{json, Value};
use sessions::{Session, SessionStats, SessionStore, Started};
use std::sync::Arc;
use std::time::Duration;

/// The workflow leads are routed by.
pub const WORKFLOW: &str = "lead_processing";
/// The queue and agent names onboarding decisions and events carry.
pub const SOURCE: &str = "onboarding";
/// Where qualified leads are announced.
pub const LEADS_TOPIC: &str = "domain.leads";

#[derive(Debug, thiserror::Error)]
pub enum OnboardingError {
    #[error("the workflow `{WORKFLOW}` is not configured")]
    NoWorkflow,
    #[error("{0}")]
    Unavailable(String),
}

impl From<StoreError> for OnboardingError {
    fn from(e: StoreError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// What `/agents/health` and `/agents/confidence-stats` report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    pub sessions: SessionStats,
    /// Lead decisions waiting for a person now.
    pub pending_approval: u64,
    /// Lead decisions a person approved.
    pub approved: u64,
}

pub struct Onboarding {
    pub sessions: Arc<dyn SessionStore>,
    /// Parks leads for a person; its store answers how their decisions went.
    pub hitl: Arc<HitlService>,
    pub sink: Arc<dyn EventSink>,
    pub workflows: Arc<WorkflowRegistry>,
    /// How long decided history is kept (sessions live as long as their decisions).
    pub history: Duration,
}

impl Onboarding {
    /// Scores, routes and records a lead; returns the session as the API shows it.
    pub async fn start(&self, request: OnboardingRequest) -> Result<Value, OnboardingError> {
        let workflow = self.workflows.get(WORKFLOW).ok_or(OnboardingError::NoWorkflow)?;
        let confidence = onboarding::score(&request);
        let plan = onboarding::plan(&request);
        let session_id = crate::hitl::decision::stamped_id("session", std::time::SystemTime::now(), 8);
        let high = confidence >= workflow.config.confidence_threshold;
        let route =
            routing::route(&workflow.config, confidence, Vec::new(), |rate| rand::random::<f64>() < rate);
        let proposal = json!({
            "summary": format!("Onboard the lead ({} recommendations, {})", plan.recommendations.len(), plan.estimated_timeline),
            "model_confidence": confidence,
            "actions": [{"action": "onboard_lead", "amount": null, "quantity": null, "note": plan.estimated_timeline}],
            "details": plan,
        });
        let mut session = Session {
            session_id: session_id.clone(),
            status: String::new(),
            confidence,
            recommendations: plan.recommendations.clone(),
            next_steps: plan.next_steps.clone(),
            estimated_timeline: plan.estimated_timeline.clone(),
            execution_mode: None,
            hitl_decision_id: None,
            created_at: event::now(),
            request: request.clone(),
        };
        let keep = workflow.config.pending_ttl + self.history;
        // The rules' score is the whole confidence: there is no model to weigh it against.
        let parts =
            Confidence { completeness: confidence, model: confidence, logprob: None, combined: confidence };
        match route {
            Route::Execute { mode, review } => {
                let origin = Origin { queue: SOURCE.into(), agent: SOURCE.into(), workflow: WORKFLOW.into() };
                let completion = Completion::new(&session_id, origin, parts, mode, "rules".into(), proposal)
                    .sampled(review);
                let lead = LeadQualified {
                    envelope: Envelope::new("lead.qualified", &session_id),
                    confidence,
                    company_name: request.business_data.company_name.clone(),
                    plan: &plan,
                };
                self.publish(topic::COMPLETIONS, &session_id, &completion).await?;
                self.publish(LEADS_TOPIC, &session_id, &lead).await?;
                session.status = "completed".into();
                session.execution_mode = Some(mode.as_str().into());
            }
            Route::Hitl { reasons } => {
                let data = json!({
                    "task": {"task_id": session_id, "kind": "lead.onboard", "workflow": WORKFLOW, "payload": request},
                    "kind": "lead.onboard",
                    "proposal": proposal,
                    "llm_provider": "rules",
                });
                let decision = PendingDecision::new(
                    &session_id,
                    WORKFLOW,
                    SOURCE,
                    SOURCE,
                    parts,
                    reasons,
                    data,
                    workflow.config.pending_ttl,
                )
                .with_rules(&workflow.config);
                let parked = self
                    .hitl
                    .park(&decision, keep)
                    .await
                    .map_err(|e| OnboardingError::Unavailable(e.to_string()))?;
                session.status = "pending_approval".into();
                session.hitl_decision_id = Some(parked.decision_id().to_string());
            }
        }
        self.sessions.put(&session, keep).await?;
        let parked = session.hitl_decision_id.is_some();
        if let Err(e) = self.sessions.count(Started { confidence, high, parked }).await {
            tracing::warn!(session_id = %session_id, error = %e, "onboarding figures not updated");
        }
        // The earlier system answered while it was still working; its clients read this shape
        // and then poll the status (which here is final at once).
        Ok(json!({
            "session_id": session_id,
            "status": "processing",
            "recommendations": [],
            "next_steps": [
                "Initial analysis in progress",
                format!("AI confidence: {:.2}%", confidence * 100.0),
                "You will receive detailed recommendations shortly",
            ],
            "estimated_timeline": "5-10 minutes",
            "confidence": confidence,
            "hitl_decision_id": session.hitl_decision_id,
            "created_at": session.created_at,
        }))
    }

    /// Approves (or rejects) the session's decision for `by`, through the HITL service like
    /// any decision; returns the session as it is then. `None` when the session is unknown.
    pub async fn decide(
        &self,
        session_id: &str,
        verdict: Verdict,
        request: Request,
        by: Decider<'_>,
    ) -> Result<Option<Value>, DecideError> {
        let Some(session) = self.sessions.get(session_id).await.map_err(DecideError::Unavailable)? else {
            return Ok(None);
        };
        let Some(decision_id) = session.hitl_decision_id.as_deref() else {
            return Err(DecideError::Refused(TransitionError::AlreadyDecided(
                "completed without a person".into(),
            )));
        };
        let decided = match self.hitl.decide(decision_id, verdict, request, by).await? {
            Decided::Counted { decision, .. } | Decided::Final(decision) => decision,
        };
        Ok(Some(view(&session, Some(&decided))))
    }

    /// The figures of every session started (across replicas), and how many wait for a person
    /// now and how many a person approved (from the decision store).
    pub async fn figures(&self) -> Result<Figures, OnboardingError> {
        let sessions = self.sessions.stats().await?;
        let decided = self.hitl.store().stats(&[WORKFLOW.to_string()], false).await?;
        let lead = decided.get(WORKFLOW).cloned().unwrap_or_default();
        Ok(Figures {
            pending_approval: lead.pending,
            approved: lead.decided.get("approved").copied().unwrap_or(0),
            sessions,
        })
    }

    /// The session as it is now (a pending one follows its decision); `None` when unknown.
    pub async fn status(&self, session_id: &str) -> Result<Option<Value>, OnboardingError> {
        let Some(session) = self.sessions.get(session_id).await? else { return Ok(None) };
        let decision = match &session.hitl_decision_id {
            Some(id) => self.hitl.store().get(id).await?,
            None => None,
        };
        Ok(Some(view(&session, decision.as_ref())))
    }

    async fn publish(
        &self,
        topic: &str,
        key: &str,
        event: &(impl Event + Sync),
    ) -> Result<(), OnboardingError> {
        crate::events::publish(self.sink.as_ref(), topic, key, event)
            .await
            .map_err(|e| OnboardingError::Unavailable(e.to_string()))
    }
}

/// The seed's response: session_id, status, recommendations, next_steps, estimated_timeline,
/// confidence, and hitl_decision_id when a person decides; a decided session adds
/// execution_mode (approved) or feedback.
fn view(session: &Session, decision: Option<&PendingDecision>) -> Value {
    let (status, mode, feedback, decided_at) = match decision {
        Some(d) => match d.status.as_str() {
            "approved" => {
                ("completed", Some("hitl_approved".to_string()), d.feedback.clone(), d.decided_at.clone())
            }
            "pending" => ("pending_approval", None, None, None),
            other => (other, None, d.feedback.clone(), d.decided_at.clone()),
        },
        None => (session.status.as_str(), session.execution_mode.clone(), None, None),
    };
    let waiting = status == "pending_approval";
    let mut next_steps = session.next_steps.clone();
    if waiting {
        next_steps.push("Awaiting human approval for final recommendations".into());
    }
    let timeline = if waiting { "Awaiting human approval" } else { session.estimated_timeline.as_str() };
    json!({
        "session_id": session.session_id,
        "status": status,
        "confidence": session.confidence,
        "recommendations": session.recommendations,
        "next_steps": next_steps,
        "estimated_timeline": timeline,
        "execution_mode": mode,
        "hitl_decision_id": session.hitl_decision_id,
        "feedback": feedback,
        "decided_at": decided_at,
        "created_at": session.created_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::memory::MemorySink;
    use crate::hitl::memory::MemoryStore;
    use crate::hitl::outbox::DecisionEffects;

    async fn service() -> (Onboarding, Arc<MemorySink>) {
        let config = crate::config::Config::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../config"
        )))
        .expect("config");
        let sink = Arc::new(MemorySink::default());
        let workflows = Arc::new(WorkflowRegistry::in_memory(config.workflows).await);
        let effects =
            DecisionEffects::in_memory(Arc::new(MemoryStore::default()), sink.clone(), workflows.clone());
        let service = Onboarding {
            sessions: Arc::new(sessions::MemorySessions::default()),
            hitl: Arc::new(HitlService::new(Arc::new(effects), Default::default())),
            sink: sink.clone(),
            workflows,
            history: Duration::from_secs(60),
        };
        (service, sink)
    }

    #[tokio::test]
    async fn a_complete_lead_completes_and_an_empty_one_waits_for_a_person() {
        let (service, sink) = service().await;
        let complete: OnboardingRequest = serde_json::from_value(json!({
            "business_data": {"company_name": "Acme", "industry": "retail", "business_goals": ["a", "b"],
                "current_challenges": ["churn"], "budget_range": "$50k+", "contact_info": {"email": "x@acme.test"}},
            "requested_services": ["seo"], "priority_level": "high"
        }))
        .expect("request");
        let started = service.start(complete).await.expect("started");
        assert_eq!(started["status"], "processing", "the earlier system's first answer");
        assert_eq!(started["next_steps"][1], "AI confidence: 100.00%");
        let id = started["session_id"].as_str().expect("session");
        assert!(id.starts_with("session_") && id.len() == "session_20251014_061400_a1b2c3d4".len(), "{id}");
        let done = service.status(id).await.expect("status").expect("known");
        assert_eq!(
            (done["status"].as_str(), done["execution_mode"].as_str()),
            (Some("completed"), Some("autonomous"))
        );
        assert_eq!(done["confidence"], 1.0);
        assert_eq!(done["recommendations"][0]["type"], "Business Analysis");
        assert!(done["hitl_decision_id"].is_null());
        let events = sink.events();
        assert_eq!(events.iter().filter(|(t, _, _)| t == topic::COMPLETIONS).count(), 1);

        let empty: OnboardingRequest = serde_json::from_value(json!({})).expect("request");
        let waiting = service.start(empty).await.expect("started");
        assert_eq!(waiting["confidence"], 0.5, "no data, standard priority: the base");
        let id = waiting["hitl_decision_id"].as_str().expect("decision id");
        assert_eq!(service.hitl.store().get(id).await.expect("get").expect("parked").workflow_id, WORKFLOW);
        let session = waiting["session_id"].as_str().expect("session");
        let status = service.status(session).await.expect("status").expect("known");
        assert_eq!(status["status"], "pending_approval");
        assert_eq!(status["estimated_timeline"], "Awaiting human approval");
        assert!(service.status("session_nope").await.expect("status").is_none());
        assert_eq!(sink.events().iter().filter(|(t, _, _)| t == topic::COMPLETIONS).count(), 1, "none yet");

        let figures = service.figures().await.expect("figures");
        assert_eq!(figures.sessions.total, 2);
        assert_eq!(
            (figures.sessions.min_confidence, figures.sessions.max_confidence),
            (Some(0.5), Some(1.0))
        );
        assert_eq!((figures.sessions.high_confidence, figures.sessions.requiring_hitl), (1, 1));
        assert_eq!(figures.pending_approval, 1);
    }
}
