//! The action policy: what always needs a person, whatever any confidence says. A model's
//! self-reported confidence can never bypass it.

use crate::proposal::ProposedAction;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Policy settings (`[policy]` in the configuration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// A refund above this amount always needs a person (a refund without an amount too).
    #[serde(default = "default_refund_limit")]
    pub refund_limit: f64,
    /// A stock adjustment larger than this fraction of the stock on hand always needs a person.
    #[serde(default = "default_inventory_fraction")]
    pub inventory_adjust_max_fraction: f64,
    /// A budget change above this amount always needs a person.
    #[serde(default = "default_budget_limit")]
    pub budget_change_limit: f64,
    /// Actions that always need a person (e.g. order cancellation).
    #[serde(default = "default_always_human")]
    pub always_human: Vec<String>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            refund_limit: default_refund_limit(),
            inventory_adjust_max_fraction: default_inventory_fraction(),
            budget_change_limit: default_budget_limit(),
            always_human: default_always_human(),
        }
    }
}

fn default_refund_limit() -> f64 {
    100.0
}
fn default_inventory_fraction() -> f64 {
    0.2
}
fn default_budget_limit() -> f64 {
    1000.0
}
fn default_always_human() -> Vec<String> {
    vec!["cancel".into(), "flag_fraud".into()]
}

/// What the policy needs to know about the task besides the proposed actions.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PolicyContext {
    /// Units on hand, for inventory adjustments.
    pub on_hand: Option<f64>,
}

impl PolicyConfig {
    /// Why these actions need a person; empty when the policy lets them execute.
    pub fn review_reasons(
        &self,
        allowed: &[String],
        actions: &[ProposedAction],
        ctx: PolicyContext,
    ) -> Vec<String> {
        let mut reasons = Vec::new();
        for a in actions {
            let name = a.action.as_str();
            if !allowed.iter().any(|x| x == name) {
                reasons.push(format!("action `{name}` is not on the agent's allow-list"));
                continue;
            }
            if self.always_human.iter().any(|x| x == name) {
                reasons.push(format!("action `{name}` always needs a person"));
            }
            match name {
                "refund" => match a.amount {
                    Some(x) if x <= self.refund_limit => {}
                    Some(x) => {
                        reasons.push(format!("refund of {x} is above the {} limit", self.refund_limit))
                    }
                    None => reasons.push("refund without an amount".into()),
                },
                "adjust_stock" => match (a.quantity, ctx.on_hand) {
                    (Some(q), Some(on_hand))
                        if q.abs() <= self.inventory_adjust_max_fraction * on_hand.max(0.0) => {}
                    (Some(q), Some(on_hand)) => reasons.push(format!(
                        "stock adjustment of {q} is more than {} of the {on_hand} on hand",
                        self.inventory_adjust_max_fraction
                    )),
                    _ => reasons.push("stock adjustment without a quantity or stock level".into()),
                },
                "adjust_budget" if a.amount.is_none_or(|x| x > self.budget_change_limit) => {
                    reasons.push(format!("budget change above the {} limit", self.budget_change_limit));
                }
                _ => {}
            }
        }
        reasons
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn act(action: &str, amount: Option<f64>, quantity: Option<f64>) -> ProposedAction {
        ProposedAction { action: action.into(), amount, quantity, note: None }
    }

    fn allowed() -> Vec<String> {
        ["refund", "cancel", "fulfil", "adjust_stock", "adjust_budget"].map(String::from).to_vec()
    }

    #[test]
    fn refunds_above_the_limit_and_cancellations_need_a_person() {
        let p = PolicyConfig::default();
        let ctx = PolicyContext::default();
        assert!(p.review_reasons(&allowed(), &[act("refund", Some(50.0), None)], ctx).is_empty());
        assert_eq!(p.review_reasons(&allowed(), &[act("refund", Some(250.0), None)], ctx).len(), 1);
        assert_eq!(p.review_reasons(&allowed(), &[act("refund", None, None)], ctx).len(), 1);
        assert_eq!(p.review_reasons(&allowed(), &[act("cancel", None, None)], ctx).len(), 1);
    }

    #[test]
    fn actions_off_the_allow_list_need_a_person() {
        let p = PolicyConfig::default();
        let reasons =
            p.review_reasons(&allowed(), &[act("wire_money", Some(1.0), None)], PolicyContext::default());
        assert!(reasons[0].contains("allow-list"), "{reasons:?}");
    }

    #[test]
    fn large_stock_adjustments_need_a_person() {
        let p = PolicyConfig::default();
        let ctx = PolicyContext { on_hand: Some(100.0) };
        assert!(p.review_reasons(&allowed(), &[act("adjust_stock", None, Some(-20.0))], ctx).is_empty());
        assert_eq!(p.review_reasons(&allowed(), &[act("adjust_stock", None, Some(-21.0))], ctx).len(), 1);
    }
}
