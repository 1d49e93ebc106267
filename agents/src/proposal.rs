//! What an agent proposes: the structured output every agent asks its model for. The JSON
//! schema sent to the model is generated from these types, and the model's answer is checked
//! by deserializing into them, so the schema and the check cannot disagree.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One action the agent proposes to take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposedAction {
    /// The action's name; must be on the agent's allow-list to execute without a person.
    pub action: String,
    /// Money involved (refunds, budgets), in the order's or campaign's currency.
    #[serde(default)]
    pub amount: Option<f64>,
    /// Units involved (stock adjustments, reorder quantities).
    #[serde(default)]
    pub quantity: Option<f64>,
    /// Free-form note for whoever executes or reviews the action.
    #[serde(default)]
    pub note: Option<String>,
}

/// The model's structured answer: common fields plus the agent's own `details`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Proposal<D> {
    /// One or two sentences saying what the agent concluded.
    pub summary: String,
    /// The model's own confidence in this answer, 0..1.
    pub confidence: f64,
    /// The actions proposed, in order.
    pub actions: Vec<ProposedAction>,
    /// Agent-specific findings.
    pub details: D,
}

impl<D> Proposal<D> {
    /// Problems a type cannot express (ranges, non-empty text).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !(0.0..=1.0).contains(&self.confidence) {
            out.push(format!("confidence {} is outside 0..1", self.confidence));
        }
        if self.summary.trim().is_empty() {
            out.push("summary is empty".into());
        }
        for (i, a) in self.actions.iter().enumerate() {
            if a.action.trim().is_empty() {
                out.push(format!("actions[{i}].action is empty"));
            }
            if a.amount.is_some_and(|x| !x.is_finite() || x < 0.0) {
                out.push(format!("actions[{i}].amount must be a non-negative number"));
            }
        }
        out
    }
}
