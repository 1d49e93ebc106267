//! Agents: each checks its task payload against its input schema, scores the input's
//! completeness, and asks its model for a [`Proposal`](crate::proposal::Proposal) with its own
//! details. The four domain agents and the generic agent differ only in their [`Domain`]
//! (input type, details type, rules); [`Typed`] turns a domain into an [`Agent`].

pub mod generic;
pub mod inventory;
pub mod marketing;
pub mod order;
pub mod runner;
pub mod support;

use crate::llm::SharedPrompt;
use crate::policy::PolicyContext;
use crate::proposal::{Proposal, ProposedAction};
use crate::spec::{AgentKind, AgentSpec};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::marker::PhantomData;
use std::sync::Arc;

/// A payload as a JSON object (the generic agent's input and details).
pub type Payload = Map<String, Value>;

/// Why an agent cannot take a task. Permanent: the same task will fail the same way.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AgentError {
    #[error("unknown kind `{kind}` for the {agent} agent; it accepts {accepted}")]
    UnknownKind { agent: String, kind: String, accepted: String },
    #[error("payload does not match the {agent} agent's input schema: {detail}")]
    InvalidPayload { agent: String, detail: String },
}

/// What the agent learned from the input before any model call.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// The task's kind (the agent's default when the task names none).
    pub kind: String,
    /// Rule-based completeness, 0..1.
    pub completeness: f64,
    /// Which completeness rules were not met, for the approver.
    pub missing: Vec<String>,
    pub policy: PolicyContext,
}

/// A proposal with its details as JSON, after validation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckedProposal {
    pub summary: String,
    pub model_confidence: f64,
    pub actions: Vec<ProposedAction>,
    pub details: Value,
}

/// An agent, as the runtime drives it.
pub trait Agent: Send + Sync {
    fn name(&self) -> &str;
    fn spec(&self) -> &AgentSpec;
    /// Checks the payload (the task's JSON text) and kind; scores completeness.
    fn assess(&self, kind: Option<&str>, payload: &RawValue) -> Result<Assessment, AgentError>;
    /// The system message (the spec's prompt, the injection guard and the output schema) and
    /// the schema of the proposal the model must return; built once, the same for every task.
    fn prompt(&self) -> &Arc<SharedPrompt>;
    /// Parses and checks a model answer.
    fn check_output(&self, content: &str) -> Result<CheckedProposal, String>;
    /// The deterministic answer of the offline stand-in for this task.
    fn offline_answer(&self, payload: &RawValue, assessment: &Assessment) -> String;
}

/// One agent's domain rules.
pub trait Domain: Send + Sync + 'static {
    type Input: DeserializeOwned;
    type Details: DeserializeOwned + Serialize + JsonSchema;
    /// Kinds this agent accepts; the first is the default.
    const KINDS: &'static [&'static str];
    /// Problems the input's types cannot express (empty lists, negative quantities).
    fn problems(input: &Self::Input) -> Vec<String>;
    /// Completeness 0..1 and the unmet rules (documented in docs/agents.md).
    fn completeness(input: &Self::Input) -> (f64, Vec<String>);
    fn policy_context(_input: &Self::Input) -> PolicyContext {
        PolicyContext::default()
    }
    /// The offline stand-in's proposal: derived from the input only, deterministic.
    fn offline(kind: &str, input: &Self::Input, completeness: f64) -> Proposal<Self::Details>;
}

/// Completeness from weighted rules: `base` plus the weight of each rule met, capped at 1.
pub fn score(base: f64, rules: &[(&str, f64, bool)]) -> (f64, Vec<String>) {
    let mut total = base;
    let mut missing = Vec::new();
    for (name, weight, met) in rules {
        if *met {
            total += weight;
        } else {
            missing.push((*name).to_string());
        }
    }
    (total.min(1.0), missing)
}

/// A [`Domain`] made into an [`Agent`].
pub struct Typed<D: Domain> {
    name: String,
    spec: AgentSpec,
    prompt: Arc<SharedPrompt>,
    _domain: PhantomData<D>,
}

impl<D: Domain> Typed<D> {
    pub fn new(name: &str, spec: AgentSpec) -> Self {
        let schema = schemars::schema_for!(Proposal<D::Details>).to_value();
        let system_message = format!(
            "{}\n\n{}\n\nAnswer with a single JSON object that follows this JSON schema:\n{}",
            spec.system_prompt.trim(),
            crate::injection::SYSTEM_GUARD,
            schema
        );
        let prompt = SharedPrompt::new(system_message, format!("{name}_proposal"), &schema);
        Self { name: name.to_string(), spec, prompt: Arc::new(prompt), _domain: PhantomData }
    }

    fn input(&self, payload: &RawValue) -> Result<D::Input, AgentError> {
        let invalid = |detail: String| AgentError::InvalidPayload { agent: self.name.clone(), detail };
        let input: D::Input = from_payload(payload).map_err(invalid)?;
        let problems = D::problems(&input);
        if problems.is_empty() {
            Ok(input)
        } else {
            Err(invalid(problems.join("; ")))
        }
    }
}

/// Parses a payload's text straight into the agent's input type (no JSON tree in between).
fn from_payload<T: DeserializeOwned>(payload: &RawValue) -> Result<T, String> {
    serde_json::from_str(payload.get()).map_err(|e| e.to_string())
}

impl<D: Domain> Agent for Typed<D> {
    fn name(&self) -> &str {
        &self.name
    }

    fn spec(&self) -> &AgentSpec {
        &self.spec
    }

    fn assess(&self, kind: Option<&str>, payload: &RawValue) -> Result<Assessment, AgentError> {
        let kind = kind.unwrap_or(D::KINDS[0]);
        if !D::KINDS.contains(&kind) {
            return Err(AgentError::UnknownKind {
                agent: self.name.clone(),
                kind: kind.to_string(),
                accepted: D::KINDS.join(", "),
            });
        }
        let input = self.input(payload)?;
        let (completeness, missing) = D::completeness(&input);
        Ok(Assessment { kind: kind.to_string(), completeness, missing, policy: D::policy_context(&input) })
    }

    fn prompt(&self) -> &Arc<SharedPrompt> {
        &self.prompt
    }

    fn check_output(&self, content: &str) -> Result<CheckedProposal, String> {
        let proposal: Proposal<D::Details> =
            serde_json::from_str(strip_fences(content)).map_err(|e| format!("not a valid proposal: {e}"))?;
        let problems = proposal.problems();
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        Ok(CheckedProposal {
            details: serde_json::to_value(&proposal.details).map_err(|e| e.to_string())?,
            summary: proposal.summary,
            model_confidence: proposal.confidence,
            actions: proposal.actions,
        })
    }

    fn offline_answer(&self, payload: &RawValue, assessment: &Assessment) -> String {
        let proposal = match self.input(payload) {
            Ok(input) => D::offline(&assessment.kind, &input, assessment.completeness),
            // assess() succeeded before this is called; an empty proposal is still well-formed.
            Err(e) => {
                return format!(r#"{{"summary":"[offline] {e}","confidence":0,"actions":[],"details":{{}}}}"#)
            }
        };
        serde_json::to_string(&proposal).unwrap_or_default()
    }
}

/// Models sometimes wrap JSON in Markdown fences even when asked not to.
fn strip_fences(content: &str) -> &str {
    let t = content.trim();
    let t = t.strip_prefix("```json").or_else(|| t.strip_prefix("```")).unwrap_or(t);
    t.strip_suffix("```").unwrap_or(t).trim()
}

/// Builds the agent a spec names.
pub fn build(name: &str, spec: AgentSpec) -> Box<dyn Agent> {
    match spec.kind {
        AgentKind::Order => Box::new(Typed::<order::OrderDomain>::new(name, spec)),
        AgentKind::Support => Box::new(Typed::<support::SupportDomain>::new(name, spec)),
        AgentKind::Marketing => Box::new(Typed::<marketing::MarketingDomain>::new(name, spec)),
        AgentKind::Inventory => Box::new(Typed::<inventory::InventoryDomain>::new(name, spec)),
        AgentKind::Generic => Box::new(Typed::<generic::GenericDomain>::new(name, spec)),
    }
}

/// Every agent `specs` names, by name: what a pipeline runs its tasks with.
pub fn build_all(specs: &BTreeMap<String, AgentSpec>) -> HashMap<String, Arc<dyn Agent>> {
    specs.iter().map(|(name, spec)| (name.clone(), Arc::from(build(name, spec.clone())))).collect()
}

/// `[offline]`-labelled summary text.
pub(crate) fn offline_summary(text: String) -> String {
    format!("[offline] {text}")
}
