use super::context::QueueContext;
use super::effects::{self, Effect, Effects};
use super::meters::Meters;
use super::outcome::Outcome;
use crate::events::EventSink;
use crate::faults::Faults;
use crate::hitl::Parking;
use crate::ledger::{Claim, Ledger};
use crate::workflows::WorkflowRegistry;
use overseer_agents::agent::runner;
use overseer_agents::agent::Agent;
use overseer_agents::llm::LlmClient;
use overseer_agents::policy::PolicyConfig;
use overseer_agents::routing::{self, Route};
use overseer_agents::task::{Task, TaskLimits};
use overseer_agents::workflow::WorkflowConfig;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// What tasks are computed with: agents, model, workflows, policy, limits.
pub struct PipelineParts {
    pub agents: HashMap<String, Arc<dyn Agent>>,
    pub llm: Arc<dyn LlmClient>,
    /// The workflows as they are now (runtime changes included).
    pub workflows: Arc<WorkflowRegistry>,
    pub policy: PolicyConfig,
    pub limits: TaskLimits,
    /// How long decided history is kept after a decision's TTL.
    pub history: Duration,
    /// The LLM's overall deadline per call: a task's claim outlives two of them.
    pub llm_deadline: Duration,
    /// Where a test makes processing fail (none in a replica).
    pub faults: Faults,
}

/// Everything a task needs, shared by all consumers of a replica.
pub struct Pipeline {
    pub parts: PipelineParts,
    /// Events go to the EventPublisher's sink (its handle).
    pub sink: Arc<dyn EventSink>,
    /// Decisions for a person go through the HITL service (store + hitl.requests).
    pub hitl: Arc<dyn Parking>,
    /// Outcomes by task_id: the idempotency key.
    pub ledger: Arc<dyn Ledger>,
    /// Metric handles (`Meters::default()`: registered as tasks first need them).
    pub meters: Meters,
}

/// A delivery of a task that another delivery holds comes back after this.
const BUSY_DEFER: Duration = Duration::from_secs(30);
/// How long a commit (effects being made durable) may take before another delivery may retry.
const COMMIT_LEASE: Duration = Duration::from_secs(120);

/// The task a delivery holds: its id and, once claimed, the claim's token.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskClaim {
    pub task_id: String,
    pub token: Option<String>,
}

/// A task's routed result, before anything of it is durable (see [`Pipeline::apply`]).
pub struct Decided(Result<Effect, Outcome>);

/// What admitting a delivery found.
pub enum Admitted {
    /// Process this task under this claim.
    Task(Box<Task>, TaskClaim),
    /// Settle this outcome without processing (bad body, duplicate, busy, ledger down).
    Settled(Outcome, Option<TaskClaim>),
}

impl Pipeline {
    /// Decodes the body and claims the task. `redelivered` is the broker's flag: such a
    /// delivery may take over its task's claim.
    pub async fn admit(&self, body: &[u8], redelivered: bool) -> Admitted {
        let task = match Task::decode(body, self.parts.limits) {
            Ok(task) => task,
            Err(e) => {
                return Admitted::Settled(Outcome::DeadLetter { code: e.code(), reason: e.to_string() }, None)
            }
        };
        let lease = 2 * self.parts.llm_deadline + Duration::from_secs(60);
        let unclaimed = TaskClaim { task_id: task.task_id.clone(), token: None };
        match self.ledger.claim(&task.task_id, lease, redelivered).await {
            Ok(Claim::Claimed(token)) => {
                let claim = TaskClaim { token: Some(token), ..unclaimed };
                Admitted::Task(Box::new(task), claim)
            }
            Ok(Claim::Done(outcome)) => Admitted::Settled(Outcome::Duplicate { outcome }, Some(unclaimed)),
            Ok(Claim::Busy) => Admitted::Settled(Outcome::Defer { after: BUSY_DEFER }, Some(unclaimed)),
            Err(e) => Admitted::Settled(Outcome::Requeue { reason: e.to_string() }, Some(unclaimed)),
        }
    }

    /// Admits and runs one delivery (what a consumer does, without its panic guard).
    pub async fn process(
        &self,
        ctx: &QueueContext,
        body: &[u8],
        redelivered: bool,
    ) -> (Outcome, Option<TaskClaim>) {
        match self.admit(body, redelivered).await {
            Admitted::Settled(outcome, claim) => (outcome, claim),
            Admitted::Task(task, claim) => {
                let outcome = self.run(ctx, &task, &claim).await;
                (outcome, Some(claim))
            }
        }
    }

    /// Runs a claimed task: [`decide`](Self::decide), then [`apply`](Self::apply).
    pub async fn run(&self, ctx: &QueueContext, task: &Task, claim: &TaskClaim) -> Outcome {
        let decided = self.decide(ctx, task).await;
        self.apply(task, claim, decided).await
    }

    /// The agent's result (the model call), routed; nothing is durable yet.
    pub async fn decide(&self, ctx: &QueueContext, task: &Task) -> Decided {
        Decided(self.route(ctx, task).await)
    }

    /// Commits the claim and makes the decided effect durable (or answers the outcome decided
    /// without one).
    pub async fn apply(&self, task: &Task, claim: &TaskClaim, decided: Decided) -> Outcome {
        let effect = match decided.0 {
            Ok(effect) => effect,
            Err(outcome) => return outcome,
        };
        let effects =
            Effects { sink: self.sink.clone(), hitl: self.hitl.clone(), ledger: self.ledger.clone() };
        let token = claim.token.clone().unwrap_or_default();
        effects.commit_and_apply(&task.task_id, token, COMMIT_LEASE, effect).await
    }

    /// A task runs under its queue's workflow or a stricter one (or one its queue allows),
    /// never a looser one: naming `analytics_reporting` on auto_orders does not turn HITL off.
    fn bound(&self, ctx: &QueueContext, named: &str, workflow: &WorkflowConfig) -> Result<(), Outcome> {
        // The intake has no workflow of its own: every approval request waits for a person.
        if ctx.workflow.is_empty()
            || named == ctx.workflow
            || ctx.allowed_workflows.iter().any(|w| w == named)
        {
            return Ok(());
        }
        let own = self.parts.workflows.get(&ctx.workflow).ok_or_else(|| Outcome::DeadLetter {
            code: "unknown_workflow",
            reason: format!("the queue's workflow `{}` is not configured", ctx.workflow),
        })?;
        if workflow.at_least_as_strict_as(&own.config) {
            return Ok(());
        }
        Err(Outcome::DeadLetter {
            code: "workflow_not_allowed",
            reason: format!(
                "workflow `{named}` is looser than `{}`, the workflow of queue {}; a task may name only one at least as strict",
                ctx.workflow, ctx.queue
            ),
        })
    }

    /// The agent's result, routed: the effect to apply, or the outcome when there is none.
    async fn route(&self, ctx: &QueueContext, task: &Task) -> Result<Effect, Outcome> {
        if ctx.agent == super::intake::INTAKE_AGENT && task.workflow.is_none() {
            return Err(Outcome::DeadLetter {
                code: "workflow_required",
                reason: "an approval request must name its workflow".into(),
            });
        }
        let workflow_id = task.workflow.as_deref().unwrap_or(&ctx.workflow);
        let Some(current) = self.parts.workflows.get(workflow_id) else {
            return Err(Outcome::DeadLetter {
                code: "unknown_workflow",
                reason: format!("no workflow `{workflow_id}`"),
            });
        };
        let workflow = &current.config;
        self.bound(ctx, workflow_id, workflow)?;
        if ctx.agent == super::intake::INTAKE_AGENT {
            return super::intake::approval_request(ctx, task, workflow_id, workflow, self.parts.history);
        }
        let Some(agent) = self.parts.agents.get(&ctx.agent) else {
            return Err(Outcome::DeadLetter {
                code: "unknown_agent",
                reason: format!("no agent `{}`", ctx.agent),
            });
        };
        if let Some(faults) = &self.parts.faults {
            faults.task(task);
        }
        let ran = runner::run(agent.as_ref(), self.parts.llm.as_ref(), &self.parts.policy, task).await;
        // A payload refused before the model is asked is no call.
        let called = match &ran {
            Ok(_) => Some("ok"),
            Err(runner::AgentFailure::Input(_)) => None,
            Err(failure) => Some(failure.code()),
        };
        let meters = self.meters.agent(&ctx.agent);
        if let Some(outcome) = called {
            meters.calls(outcome).increment(1);
        }
        let result = match ran {
            Ok(result) => result,
            Err(failure) if failure.is_transient() => {
                let after = match &failure {
                    runner::AgentFailure::Llm(e) => e.retry_after(),
                    _ => None,
                };
                return Err(Outcome::Retry { after, code: failure.code(), reason: failure.to_string() });
            }
            Err(failure) => {
                return Err(Outcome::DeadLetter { code: failure.code(), reason: failure.to_string() })
            }
        };
        meters.seconds.record(result.usage.latency.as_secs_f64());
        meters.prompt_tokens.increment(result.usage.prompt_tokens);
        meters.completion_tokens.increment(result.usage.completion_tokens);
        self.meters.confidence(workflow_id).record(result.confidence.combined);

        let route =
            routing::route(workflow, result.confidence.combined, result.review_reasons.clone(), |rate| {
                rand::random::<f64>() < rate
            });
        Ok(match route {
            Route::Execute { mode, review } => {
                let topic = &agent.spec().domain_topic;
                effects::execute(ctx, task, workflow_id, topic, &result, mode, review)
            }
            Route::Hitl { reasons } => {
                effects::park(ctx, task, workflow_id, workflow, &result, reasons, self.parts.history)
            }
        })
    }
}
