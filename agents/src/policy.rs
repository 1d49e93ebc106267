//! The action policy: what always needs a person, whatever any confidence says. A model's
//! self-reported confidence can never bypass it. The policy judges each action and the whole
//! proposal (totals, the number of actions, refunds against the order's own total), whoever
//! wrote it: the model, or an approver's edit. Each reason starts with the rule's name
//! (`refund_limit: …`), so people and API answers can tell which rule spoke.

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
    /// Most actions one proposal may hold and still execute without a person.
    #[serde(default = "default_max_actions")]
    pub max_actions: usize,
    /// Refunds of one proposal together above this amount need a person (twenty refunds of 100
    /// are 2,000, not 100).
    #[serde(default = "default_refund_limit")]
    pub refund_total_limit: f64,
    /// Budget changes of one proposal together above this amount need a person.
    #[serde(default = "default_budget_limit")]
    pub budget_total_limit: f64,
    /// A reorder of more units than this needs a person.
    #[serde(default = "default_quantity_limit")]
    pub reorder_quantity_limit: f64,
    /// A stock adjustment of more units than this needs a person (besides the fraction rule).
    #[serde(default = "default_quantity_limit")]
    pub adjust_quantity_limit: f64,
    /// Actions that move money or cannot be undone: they never execute on the model's
    /// self-reported confidence alone (without an independent signal such as logprobs, a
    /// person decides).
    #[serde(default = "default_sensitive")]
    pub sensitive_actions: Vec<String>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            refund_limit: default_refund_limit(),
            inventory_adjust_max_fraction: default_inventory_fraction(),
            budget_change_limit: default_budget_limit(),
            always_human: default_always_human(),
            max_actions: default_max_actions(),
            refund_total_limit: default_refund_limit(),
            budget_total_limit: default_budget_limit(),
            reorder_quantity_limit: default_quantity_limit(),
            adjust_quantity_limit: default_quantity_limit(),
            sensitive_actions: default_sensitive(),
        }
    }
}

fn default_max_actions() -> usize {
    5
}
fn default_quantity_limit() -> f64 {
    1000.0
}
fn default_sensitive() -> Vec<String> {
    ["refund", "adjust_budget", "reorder", "cancel"].map(String::from).to_vec()
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
    /// The order's own total: refunds together may not exceed it.
    pub order_total: Option<f64>,
}

/// The sum of the amounts of `name` actions, by size (missing or non-finite amounts count as
/// 0; they have a reason of their own).
fn total(actions: &[ProposedAction], name: &str) -> f64 {
    actions.iter().filter(|a| a.action == name).filter_map(|a| amount(a.amount.map(f64::abs))).sum()
}

/// A finite, non-negative number, or `None` (NaN and negative amounts are not amounts).
fn amount(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite() && *v >= 0.0)
}

impl PolicyConfig {
    /// Why these actions need a person; empty when the policy lets them execute. Judges each
    /// action, then the proposal as a whole.
    pub fn review_reasons(
        &self,
        allowed: &[String],
        actions: &[ProposedAction],
        ctx: PolicyContext,
    ) -> Vec<String> {
        let mut reasons = self.limit_reasons(allowed, actions, ctx);
        for a in actions {
            if self.always_human.contains(&a.action) {
                reasons.push(format!("always_human: action `{}` always needs a person", a.action));
            }
        }
        reasons
    }

    /// The limits an approver's edit must keep too: the allow-list, amounts, quantities,
    /// totals and the number of actions (not `always_human`: a person is deciding).
    pub fn edit_problems(
        &self,
        allowed: &[String],
        actions: &[ProposedAction],
        ctx: PolicyContext,
    ) -> Vec<String> {
        self.limit_reasons(allowed, actions, ctx)
    }

    /// Reasons for sensitive actions that only the model's own word supports:
    /// `independent_signal` is false when no signal beside the model's self-reported
    /// confidence (such as token logprobs) backs the proposal.
    pub fn self_reported_reasons(&self, actions: &[ProposedAction], independent_signal: bool) -> Vec<String> {
        if independent_signal {
            return Vec::new();
        }
        let mut names: Vec<&str> = actions
            .iter()
            .map(|a| a.action.as_str())
            .filter(|n| self.sensitive_actions.iter().any(|s| s == n))
            .collect();
        names.dedup();
        names
            .into_iter()
            .map(|n| format!("sensitive_action: `{n}` moves money or cannot be undone; the model's self-reported confidence alone cannot execute it"))
            .collect()
    }

    fn limit_reasons(
        &self,
        allowed: &[String],
        actions: &[ProposedAction],
        ctx: PolicyContext,
    ) -> Vec<String> {
        let mut reasons = Vec::new();
        if actions.len() > self.max_actions {
            reasons.push(format!(
                "max_actions: {} actions in one proposal, more than {}",
                actions.len(),
                self.max_actions
            ));
        }
        for a in actions {
            let name = a.action.as_str();
            if !allowed.iter().any(|x| x == name) {
                reasons.push(format!("allow_list: action `{name}` is not on the agent's allow-list"));
                continue;
            }
            match name {
                "refund" => match amount(a.amount) {
                    Some(x) if x <= self.refund_limit => {}
                    Some(x) => reasons.push(format!("refund_limit: refund of {x} is above the {} limit", self.refund_limit)),
                    None => reasons.push("refund_limit: refund without a valid amount".into()),
                },
                "adjust_stock" => match (a.quantity.filter(|q| q.is_finite()), ctx.on_hand) {
                    (Some(q), _) if q.abs() > self.adjust_quantity_limit => reasons.push(format!(
                        "adjust_quantity_limit: stock adjustment of {q} is more than {} units",
                        self.adjust_quantity_limit
                    )),
                    (Some(q), Some(on_hand)) if q.abs() <= self.inventory_adjust_max_fraction * on_hand.max(0.0) => {}
                    (Some(q), Some(on_hand)) => reasons.push(format!(
                        "inventory_adjust_max_fraction: stock adjustment of {q} is more than {} of the {on_hand} on hand",
                        self.inventory_adjust_max_fraction
                    )),
                    _ => reasons.push("inventory_adjust_max_fraction: stock adjustment without a quantity or stock level".into()),
                },
                "reorder" => match a.quantity.filter(|q| q.is_finite() && *q >= 0.0) {
                    Some(q) if q <= self.reorder_quantity_limit => {}
                    Some(q) => reasons.push(format!(
                        "reorder_quantity_limit: reorder of {q} units is above the {} limit",
                        self.reorder_quantity_limit
                    )),
                    None => reasons.push("reorder_quantity_limit: reorder without a valid quantity".into()),
                },
                "adjust_budget" => match a.amount.filter(|x| x.is_finite()) {
                    Some(x) if x.abs() <= self.budget_change_limit => {}
                    _ => reasons.push(format!("budget_change_limit: budget change above the {} limit", self.budget_change_limit)),
                },
                _ => {}
            }
        }
        let refunds = total(actions, "refund");
        if refunds > self.refund_total_limit {
            reasons.push(format!(
                "refund_total_limit: refunds in one proposal total {refunds}, above the {} limit",
                self.refund_total_limit
            ));
        }
        if let Some(order_total) = ctx.order_total.filter(|t| t.is_finite()) {
            if refunds > order_total + 1e-9 {
                reasons.push(format!(
                    "refund_order_total: refunds total {refunds}, more than the order's {order_total}"
                ));
            }
        }
        let budget = total(actions, "adjust_budget");
        if budget > self.budget_total_limit {
            reasons.push(format!(
                "budget_total_limit: budget changes in one proposal total {budget}, above the {} limit",
                self.budget_total_limit
            ));
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
        let over = p.review_reasons(&allowed(), &[act("refund", Some(250.0), None)], ctx);
        assert!(over.iter().any(|r| r.starts_with("refund_limit:")), "{over:?}");
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
    fn the_whole_proposal_is_judged() {
        let p = PolicyConfig::default();
        let none = PolicyContext::default();
        let two = [act("refund", Some(60.0), None), act("refund", Some(60.0), None)];
        let reasons = p.review_reasons(&allowed(), &two, none);
        assert!(reasons.iter().any(|r| r.starts_with("refund_total_limit:")), "{reasons:?}");
        let many: Vec<ProposedAction> = (0..6).map(|_| act("fulfil", None, None)).collect();
        assert!(p.review_reasons(&allowed(), &many, none).iter().any(|r| r.starts_with("max_actions:")));
        let order = PolicyContext { order_total: Some(20.0), ..none };
        let over = p.review_reasons(&allowed(), &[act("refund", Some(30.0), None)], order);
        assert!(over.iter().any(|r| r.starts_with("refund_order_total:")), "{over:?}");
        assert!(p.review_reasons(&allowed(), &[act("refund", Some(f64::NAN), None)], none).len() == 1);
        assert!(!p.review_reasons(&allowed(), &[act("refund", Some(-500.0), None)], none).is_empty());
        let mut allowed = allowed();
        allowed.push("reorder".into());
        let big = p.review_reasons(&allowed, &[act("reorder", None, Some(5000.0))], none);
        assert!(big.iter().any(|r| r.starts_with("reorder_quantity_limit:")), "{big:?}");
        assert!(p.review_reasons(&allowed, &[act("reorder", None, Some(10.0))], none).is_empty());
    }

    #[test]
    fn edits_keep_the_limits_but_not_the_always_human_rule() {
        let p = PolicyConfig::default();
        let none = PolicyContext::default();
        assert!(p.edit_problems(&allowed(), &[act("cancel", None, None)], none).is_empty());
        assert_eq!(p.edit_problems(&allowed(), &[act("wire_money", Some(1e9), None)], none).len(), 1);
        assert_eq!(p.edit_problems(&allowed(), &[act("refund", Some(500.0), None)], none).len(), 2);
    }

    #[test]
    fn sensitive_actions_need_more_than_the_models_word() {
        let p = PolicyConfig::default();
        let refund = [act("refund", Some(5.0), None), act("refund", Some(5.0), None)];
        assert_eq!(p.self_reported_reasons(&refund, false).len(), 1);
        assert!(p.self_reported_reasons(&refund, true).is_empty());
        assert!(p.self_reported_reasons(&[act("fulfil", None, None)], false).is_empty());
    }

    #[test]
    fn large_stock_adjustments_need_a_person() {
        let p = PolicyConfig::default();
        let ctx = PolicyContext { on_hand: Some(100.0), ..PolicyContext::default() };
        assert!(p.review_reasons(&allowed(), &[act("adjust_stock", None, Some(-20.0))], ctx).is_empty());
        assert_eq!(p.review_reasons(&allowed(), &[act("adjust_stock", None, Some(-21.0))], ctx).len(), 1);
    }
}
