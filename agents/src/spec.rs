//! Agent specifications: which built-in agent serves a queue and the prompt it is given.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The built-in agent implementations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentKind {
    /// Order processing: validates orders, proposes fulfilment, holds, refunds, cancellations.
    Order,
    /// Support tickets: classifies, drafts replies, proposes refunds or escalations.
    Support,
    /// Marketing campaigns: proposes budget, audience and channel changes.
    Marketing,
    /// Inventory: proposes reorders and stock adjustments.
    Inventory,
    /// A prompt-configured agent whose behaviour is entirely its prompt and allowed actions
    /// (seo, social media, email campaigns, analytics).
    Generic,
}

/// One configured agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentSpec {
    /// Which built-in implementation runs this agent.
    pub kind: AgentKind,
    /// The system prompt: the agent's role and rules. Sent as the first chat message.
    pub system_prompt: String,
    /// The user message template. `{{payload}}` is replaced by the task payload as JSON and
    /// `{{kind}}` by the task's kind.
    pub user_template: String,
    /// The actions this agent may propose. Anything else the model proposes goes to a person.
    pub allowed_actions: Vec<String>,
    /// The domain topic this agent's executed results are published to (e.g. `domain.orders`).
    pub domain_topic: String,
}

impl AgentSpec {
    /// Problems with this agent's values, as (key, message) pairs; empty when valid.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.system_prompt.trim().is_empty() {
            out.push(("system_prompt", "must not be empty".to_string()));
        }
        if !self.user_template.contains("{{payload}}") {
            out.push((
                "user_template",
                "must contain {{payload}}, or the model never sees the task".to_string(),
            ));
        }
        if self.allowed_actions.is_empty() {
            out.push(("allowed_actions", "must list at least one action the agent may propose".to_string()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_without_the_payload_is_a_problem() {
        let spec = AgentSpec {
            kind: AgentKind::Generic,
            system_prompt: "You are an SEO agent.".into(),
            user_template: "Do something".into(),
            allowed_actions: vec!["publish".into()],
            domain_topic: "domain.content".into(),
        };
        let keys: Vec<_> = spec.problems().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, vec!["user_template"]);
    }
}
