//! What a decided decision does, run from the outbox. The state change put the decision in the
//! outbox in the same atomic step, so "approved" can never mean "approved and lost": whoever
//! decided (the API, the sweeper) runs its effects at once, and every replica's sweeper runs
//! those left over (a publish failed, the replica died) after a short settle time. A lease lets
//! one runner at a time work on a decision (a failed run gives it back), and each effect is marked once durable, so a later
//! run only does what is missing.
//!
//! Effects by outcome:
//! - approved and rejected also count toward the adaptive level's rolling approval rate;
//! - approved: `ai.completions` (execution_mode `hitl_approved`, the edited proposal when there
//!   is one), the agent's domain event, `hitl.decisions`, `hitl.feedback`, and a training
//!   record on the `hitl_training` queue;
//! - rejected: `hitl.decisions`, `hitl.feedback`, the training record;
//! - escalated: the decision on the `hitl_exceptions` queue, `hitl.decisions`;
//! - expired (auto-reject): `hitl.decisions`.
//!
//! Every outcome also writes `audit.decision` (who, from where, what) to `audit.trail`.
//!
//! Then the task's outcome is recorded in the ledger (`hitl_<status>`). The window left: a
//! runner dying after an effect became durable and before it was marked repeats that one effect.

use super::notify::{Notification, Notifier};
use super::outbox_events::{
    audit_entry, completion, decision_event, domain_event, feedback_event, training_record,
};
use super::queues::QueueOut;
use super::{DecisionStore, PendingDecision, StoreError};
use crate::config::hitl::NotifyEvent;
use crate::events::contract::Event;
use crate::events::event::topic;
use crate::events::EventSink;
use crate::ledger::Ledger;
use crate::ledger::OUTCOME_RETENTION;
use crate::workflows::{audit_event, WorkflowRegistry};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The queue escalated decisions go to (CONTRACT.md).
pub const EXCEPTIONS_QUEUE: &str = "hitl_exceptions";
/// The queue training records go to (CONTRACT.md).
pub const TRAINING_QUEUE: &str = "hitl_training";

/// What running a decision's effects needs.
pub struct DecisionEffects {
    pub store: Arc<dyn DecisionStore>,
    pub sink: Arc<dyn EventSink>,
    pub queues: Arc<dyn QueueOut>,
    pub ledger: Arc<dyn Ledger>,
    /// Each agent's domain topic (where its executed actions are announced).
    pub domain_topics: HashMap<String, String>,
    /// For the adaptive level: every human decision counts toward its workflow's threshold.
    pub workflows: Arc<WorkflowRegistry>,
    /// Tells people about escalations.
    pub notifier: Notifier,
    /// How long a run holds a decision without renewing (`hitl.outbox_lease`); a live run
    /// renews it every third of this, so a slow Kafka never lets a second runner in while the
    /// first still works.
    pub lease: Duration,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ran {
    /// Every effect is durable; the decision left the outbox.
    Done,
    /// Another runner holds the decision now.
    Held,
    /// The decision is gone (its history expired); it left the outbox.
    Gone,
}

/// The effects of an outcome, in the order they run.
fn effects_of(status: &str) -> &'static [&'static str] {
    match status {
        "approved" => &["completion", "domain", "decision", "feedback", "training", "adaptive", "audit"],
        "rejected" => &["decision", "feedback", "training", "adaptive", "audit"],
        "escalated" => &["exception", "decision", "audit"],
        "expired" => &["decision", "audit"],
        _ => &[],
    }
}

impl DecisionEffects {
    /// Effects on in-memory queues and ledger, with no notifications (unit tests, the demo).
    pub fn in_memory(
        store: Arc<dyn DecisionStore>,
        sink: Arc<dyn EventSink>,
        workflows: Arc<WorkflowRegistry>,
    ) -> Self {
        Self {
            store,
            sink,
            queues: Arc::new(super::queues::MemoryQueues::default()),
            ledger: Arc::new(crate::ledger::memory::MemoryLedger::default()),
            domain_topics: HashMap::new(),
            workflows,
            notifier: Notifier::disabled(),
            lease: Duration::from_secs(60),
        }
    }

    /// Runs whatever of the decision's effects is not durable yet.
    pub async fn run(&self, decision_id: &str) -> Result<Ran, String> {
        self.run_on(decision_id, None).await
    }

    /// Runs the effects of a decision its caller has just changed (`decided`, as the state
    /// change returned it: no effect of it is done yet, so it need not be read again).
    pub async fn run_decided(&self, decided: PendingDecision) -> Result<Ran, String> {
        let id = decided.decision_id.clone();
        self.run_on(&id, Some(decided)).await
    }

    async fn run_on(&self, decision_id: &str, fresh: Option<PendingDecision>) -> Result<Ran, String> {
        self.run_leased(decision_id, fresh, self.lease).await
    }

    /// One run under a lease of `lease` that only this run owns, renewed while it works; a
    /// run that loses it (its process stalled past the lease) stops before the next effect
    /// and cannot mark anything done.
    async fn run_leased(
        &self,
        decision_id: &str,
        fresh: Option<PendingDecision>,
        lease: Duration,
    ) -> Result<Ran, String> {
        let Some(token) = self.store.outbox_lease(decision_id, lease).await.map_err(|e| e.to_string())?
        else {
            return Ok(Ran::Held);
        };
        let lost = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let renewing = {
            let (store, id, token, lost) =
                (self.store.clone(), decision_id.to_string(), token.clone(), lost.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(lease / 3);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    if !store.outbox_renew(&id, &token, lease).await.unwrap_or(false) {
                        lost.store(true, std::sync::atomic::Ordering::Release);
                        break;
                    }
                }
            })
        };
        let result = self.run_owned(decision_id, fresh, &token, &lost).await;
        renewing.abort();
        if result.is_err() {
            // Let the next sweep try again without waiting out the lease.
            let _ = self.store.outbox_release(decision_id, &token).await;
        }
        result
    }

    async fn run_owned(
        &self,
        decision_id: &str,
        fresh: Option<PendingDecision>,
        token: &str,
        lost: &std::sync::atomic::AtomicBool,
    ) -> Result<Ran, String> {
        let d = match fresh {
            Some(d) => Some(d),
            None => self.store.get(decision_id).await.map_err(|e| e.to_string())?,
        };
        let Some(d) = d else {
            self.store.outbox_done(decision_id, token).await.map_err(|e| e.to_string())?;
            return Ok(Ran::Gone);
        };
        self.apply_missing(&d, token, lost).await?;
        let outcome = format!("hitl_{}", d.status);
        if let Err(e) = self.ledger.record(&d.task_id, &outcome, OUTCOME_RETENTION).await {
            tracing::warn!(task_id = %d.task_id, error = %e, "decision outcome not recorded in the ledger");
        }
        self.store.outbox_done(decision_id, token).await.map_err(|e| e.to_string())?;
        Ok(Ran::Done)
    }

    /// Applies, in order, each effect not marked done, marking each once durable, as long as
    /// this run still owns the lease.
    async fn apply_missing(
        &self,
        d: &PendingDecision,
        token: &str,
        lost: &std::sync::atomic::AtomicBool,
    ) -> Result<(), String> {
        for effect in effects_of(&d.status) {
            if d.effects_done.iter().any(|e| e == effect) {
                continue;
            }
            if lost.load(std::sync::atomic::Ordering::Acquire) {
                return Err("the outbox lease was lost; another runner goes on".into());
            }
            self.apply(effect, d).await.map_err(|e| format!("{effect}: {e}"))?;
            if !self.store.effect_done(&d.decision_id, effect, token).await.map_err(|e| e.to_string())? {
                return Err(format!("{effect} ran but the lease was lost before it was marked"));
            }
        }
        Ok(())
    }

    /// Runs the effects of decisions decided at least `settle` ago and still in the outbox
    /// (those whose first run failed or whose runner died). Returns how many completed.
    pub async fn drain(&self, settle: Duration, limit: usize) -> Result<usize, StoreError> {
        let before = super::decision::unix_ms(SystemTime::now()).saturating_sub(settle.as_millis() as u64);
        let mut done = 0;
        for id in self.store.outbox_due(before, limit).await? {
            match self.run(&id).await {
                Ok(Ran::Done | Ran::Gone) => done += 1,
                Ok(Ran::Held) => {}
                Err(e) => {
                    tracing::warn!(decision_id = %id, error = %e, "decision effects failed; retried later")
                }
            }
        }
        Ok(done)
    }

    async fn apply(&self, effect: &str, d: &PendingDecision) -> Result<(), String> {
        let publish = |topic: &'static str, event: Vec<u8>| async move {
            self.sink.publish(topic, &d.task_id, &event).await.map_err(|e| e.to_string())
        };
        match effect {
            "completion" => publish(topic::COMPLETIONS, completion(d).to_bytes()).await,
            "domain" => match self.domain_topics.get(&d.agent) {
                Some(domain_topic) => self
                    .sink
                    .publish(domain_topic, &d.task_id, &domain_event(d).to_bytes())
                    .await
                    .map_err(|e| e.to_string()),
                None => Ok(()),
            },
            "decision" => publish(topic::HITL_DECISIONS, decision_event(d).to_bytes()).await,
            "audit" => publish(topic::AUDIT, audit_entry(d).to_bytes()).await,
            "feedback" => publish(topic::HITL_FEEDBACK, feedback_event(d).to_bytes()).await,
            "training" => {
                let body = serde_json::to_vec(&training_record(d)).map_err(|e| e.to_string())?;
                self.queues.send(TRAINING_QUEUE, &body, &d.decision_id).await
            }
            "exception" => {
                let body = serde_json::to_vec(d).map_err(|e| e.to_string())?;
                self.queues.send(EXCEPTIONS_QUEUE, &body, &d.decision_id).await?;
                self.notifier.notify(Notification::about(NotifyEvent::Escalated, d));
                Ok(())
            }
            "adaptive" => {
                let approved = d.status == "approved";
                match self.workflows.record_human_decision(&d.workflow_id, approved).await {
                    Ok(Some(entry)) => {
                        tracing::info!(workflow = %d.workflow_id, before = %entry.before, after = %entry.after, "adaptive threshold moved");
                        if let Err(e) = self
                            .sink
                            .publish(topic::AUDIT, &entry.workflow_id, &audit_event(&entry).to_bytes())
                            .await
                        {
                            tracing::warn!(error = %e, "audit event not delivered; the entry is in the Redis audit log");
                        }
                        Ok(())
                    }
                    Ok(None) => Ok(()),
                    Err(e) => Err(e.to_string()),
                }
            }
            other => Err(format!("unknown effect `{other}`")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::event;
    use crate::events::memory::MemorySink;
    use crate::events::SinkError;
    use crate::hitl::memory::MemoryStore;
    use crate::hitl::queues::MemoryQueues;
    use crate::hitl::{Decisions, Outbox, Status, Transition};
    use crate::ledger::memory::MemoryLedger;
    use overseer_agents::confidence::Confidence;
    use serde_json::{json, Value};
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A sink that refuses `hitl.feedback` while `down` is set.
    #[derive(Default)]
    struct FlakySink {
        inner: MemorySink,
        down: AtomicBool,
    }

    #[async_trait::async_trait]
    impl EventSink for FlakySink {
        async fn publish(&self, topic: &str, key: &str, payload: &[u8]) -> Result<(), SinkError> {
            if topic == topic::HITL_FEEDBACK && self.down.load(Ordering::SeqCst) {
                return Err(SinkError::Unavailable("down".into()));
            }
            self.inner.publish(topic, key, payload).await
        }
        async fn flush(&self, _t: Duration) -> Result<(), SinkError> {
            Ok(())
        }
    }

    /// A sink whose completions take `delay` to become durable (a slow or stalling Kafka).
    struct SlowSink {
        inner: MemorySink,
        delay: Duration,
    }

    #[async_trait::async_trait]
    impl EventSink for SlowSink {
        async fn publish(&self, topic: &str, key: &str, payload: &[u8]) -> Result<(), SinkError> {
            if topic == topic::COMPLETIONS {
                tokio::time::sleep(self.delay).await;
            }
            self.inner.publish(topic, key, payload).await
        }
        async fn flush(&self, _t: Duration) -> Result<(), SinkError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_slow_kafka_never_lets_a_second_runner_repeat_the_completion() {
        let store = Arc::new(MemoryStore::default());
        let sink = Arc::new(SlowSink { inner: MemorySink::default(), delay: Duration::from_millis(900) });
        let d = approved(&store, None).await;
        let workflows = Arc::new(WorkflowRegistry::in_memory(Default::default()).await);
        let effects = || DecisionEffects::in_memory(store.clone(), sink.clone(), workflows.clone());
        let (a, b) = (Arc::new(effects()), Arc::new(effects()));
        // The lease (300 ms) is far shorter than one completion (900 ms): only renewal keeps
        // the second runner out.
        let lease = Duration::from_millis(300);
        let id = d.decision_id.clone();
        let first = tokio::spawn({
            let (a, id) = (a.clone(), id.clone());
            async move { a.run_leased(&id, None, lease).await }
        });
        let mut held = 0;
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(120)).await;
            if b.run_leased(&id, None, lease).await == Ok(Ran::Held) {
                held += 1;
            }
        }
        assert_eq!(first.await.expect("join"), Ok(Ran::Done));
        assert!(held >= 7, "the second runner was held off {held} times");
        let completions = sink.inner.events().into_iter().filter(|(t, _, _)| t == topic::COMPLETIONS).count();
        assert_eq!(completions, 1, "one completion, however slow Kafka is");
    }

    async fn approved(store: &MemoryStore, edited: Option<Value>) -> PendingDecision {
        let data = json!({"task": {"task_id": "t1"}, "proposal": {"summary": "s", "actions": [{"action": "refund", "amount": 10}]}});
        let c = Confidence::combine(0.5, 0.5, None);
        let d = PendingDecision::new("t1", "w", "q", "order", c, vec![], data, Duration::from_secs(60));
        store.park(&d, Duration::from_secs(120)).await.expect("parked");
        let t = Transition {
            to: Status::Approved,
            by: "ada".into(),
            from: None,
            feedback: Some("fine".into()),
            seen_hash: None,
            edited,
            at: event::now(),
            now_ms: super::super::decision::unix_ms(SystemTime::now()),
            required_approvals: 1,
            workflow: None,
        };
        store.transition(&d.decision_id, &t).await.expect("approved")
    }

    #[tokio::test]
    async fn a_failed_effect_is_retried_without_repeating_the_completion() {
        let store = Arc::new(MemoryStore::default());
        let sink = Arc::new(FlakySink::default());
        let queues = Arc::new(MemoryQueues::default());
        let ledger = Arc::new(MemoryLedger::default());
        let edit = json!({"summary": "s", "actions": [{"action": "refund", "amount": 5}]});
        let d = approved(&store, Some(edit)).await;
        let workflows = Arc::new(WorkflowRegistry::in_memory(Default::default()).await);
        let fx = DecisionEffects {
            queues: queues.clone(),
            ledger: ledger.clone(),
            domain_topics: [("order".to_string(), "domain.orders".to_string())].into(),
            ..DecisionEffects::in_memory(store.clone(), sink.clone(), workflows)
        };
        sink.down.store(true, Ordering::SeqCst);
        assert!(fx.run(&d.decision_id).await.is_err());
        assert_eq!(store.outbox_due(u64::MAX, 10).await.expect("outbox"), vec![d.decision_id.clone()]);
        let again = store.get(&d.decision_id).await.expect("get").expect("there");
        assert_eq!(again.effects_done, vec!["completion", "domain", "decision"]);
        // The failed run gave its lease back; while another runner holds it, a run waits.
        let token =
            store.outbox_lease(&d.decision_id, Duration::from_secs(60)).await.expect("lease").expect("free");
        assert_eq!(fx.run(&d.decision_id).await, Ok(Ran::Held));
        store.outbox_release(&d.decision_id, &token).await.expect("release");
        sink.down.store(false, Ordering::SeqCst);
        assert_eq!(fx.run(&d.decision_id).await, Ok(Ran::Done));

        let events = sink.inner.events();
        let count = |t: &str| events.iter().filter(|(topic, _, _)| topic == t).count();
        assert_eq!(count(topic::COMPLETIONS), 1, "one completion across both runs");
        assert_eq!(count(topic::HITL_DECISIONS), 1);
        assert_eq!(count(topic::HITL_FEEDBACK), 1);
        let completion = &events.iter().find(|(t, _, _)| t == topic::COMPLETIONS).expect("completion").2;
        assert_eq!(completion["execution_mode"], "hitl_approved");
        assert_eq!(completion["result"]["actions"][0]["amount"], 5, "the edit executes");
        let sent = queues.sent.lock().expect("queues").clone();
        assert_eq!(sent.len(), 1);
        let record: Value = serde_json::from_slice(&sent[0].1).expect("JSON");
        assert_eq!(sent[0].0, TRAINING_QUEUE);
        assert_eq!(record["human_decision"], "approved");
        assert_eq!(record["edit_diff"][0]["path"], "/actions/0/amount", "{record}");
        assert!(
            ledger.claim("t1", Duration::from_secs(1), false).await.expect("ledger")
                == crate::ledger::Claim::Done("hitl_approved".into())
        );
        assert!(store.outbox_due(u64::MAX, 10).await.expect("outbox").is_empty());
    }
}
