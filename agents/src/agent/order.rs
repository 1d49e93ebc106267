//! The order-processing agent.

use super::{offline_summary, score, Domain};
use crate::policy::PolicyContext;
use crate::proposal::{Proposal, ProposedAction};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub struct OrderDomain;

#[derive(Debug, Deserialize)]
pub struct Customer {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Item {
    pub sku: String,
    pub qty: u32,
    pub unit_price: f64,
}

#[derive(Debug, Default, Deserialize)]
pub struct Address {
    #[serde(default)]
    pub line1: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub postal_code: String,
    #[serde(default)]
    pub country: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Paid,
    Pending,
    Failed,
    Refunded,
}

/// An order task's payload.
#[derive(Debug, Deserialize)]
pub struct OrderInput {
    pub customer: Customer,
    pub items: Vec<Item>,
    #[serde(default)]
    pub shipping_address: Option<Address>,
    pub payment_status: PaymentStatus,
    #[serde(default)]
    pub total: Option<f64>,
    #[serde(default)]
    pub currency: Option<String>,
    /// For `order.refund`: the amount the customer asks back.
    #[serde(default)]
    pub refund_amount: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    Low,
    Medium,
    High,
}

/// What the order agent reports besides its actions.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderDetails {
    /// Whether the order can be fulfilled as it stands.
    pub order_valid: bool,
    /// Problems found in the order.
    pub issues: Vec<String>,
    /// Fraud risk.
    pub fraud_risk: Risk,
}

fn items_total(input: &OrderInput) -> f64 {
    input.items.iter().map(|i| f64::from(i.qty) * i.unit_price).sum()
}

fn filled(s: &Option<String>) -> bool {
    s.as_deref().is_some_and(|s| !s.trim().is_empty())
}

impl Domain for OrderDomain {
    type Input = OrderInput;
    type Details = OrderDetails;
    const KINDS: &'static [&'static str] = &["order.process", "order.refund", "order.cancel"];

    /// Refunds may not exceed what the order is worth: its items (a stated total only when
    /// it is lower; a payload cannot inflate it).
    fn policy_context(input: &OrderInput) -> PolicyContext {
        let items = items_total(input);
        let worth = input.total.filter(|t| t.is_finite()).map_or(items, |t| t.min(items));
        PolicyContext { order_total: Some(worth), ..PolicyContext::default() }
    }

    fn problems(input: &OrderInput) -> Vec<String> {
        let mut out = Vec::new();
        if input.items.is_empty() {
            out.push("items must not be empty".to_string());
        }
        for (i, item) in input.items.iter().enumerate() {
            if item.qty == 0 {
                out.push(format!("items[{i}].qty must be at least 1"));
            }
            if !item.unit_price.is_finite() || item.unit_price < 0.0 {
                out.push(format!("items[{i}].unit_price must be a non-negative number"));
            }
            if item.sku.trim().is_empty() {
                out.push(format!("items[{i}].sku must not be empty"));
            }
        }
        out
    }

    fn completeness(input: &OrderInput) -> (f64, Vec<String>) {
        let address = input.shipping_address.as_ref();
        let address_complete = address.is_some_and(|a| {
            [&a.line1, &a.city, &a.postal_code, &a.country].iter().all(|f| !f.trim().is_empty())
        });
        let total_matches = input.total.is_none_or(|t| (t - items_total(input)).abs() < 0.01);
        score(
            0.4,
            &[
                ("customer email", 0.15, filled(&input.customer.email)),
                ("customer name or id", 0.1, filled(&input.customer.name) || filled(&input.customer.id)),
                ("complete shipping address", 0.15, address_complete),
                ("payment received", 0.1, input.payment_status == PaymentStatus::Paid),
                ("total matches the items", 0.1, total_matches),
            ],
        )
    }

    fn offline(kind: &str, input: &OrderInput, completeness: f64) -> Proposal<OrderDetails> {
        let total = input.total.unwrap_or_else(|| items_total(input));
        let (summary, actions) = match (kind, input.payment_status) {
            ("order.refund", _) => (
                "refund requested".to_string(),
                vec![action("refund", Some(input.refund_amount.unwrap_or(total)))],
            ),
            ("order.cancel", _) => ("cancellation requested".to_string(), vec![action("cancel", None)]),
            (_, PaymentStatus::Paid) => {
                (format!("order of {} items paid; fulfil", input.items.len()), vec![action("fulfil", None)])
            }
            (_, PaymentStatus::Pending) => {
                ("payment pending; request payment".to_string(), vec![action("request_payment", None)])
            }
            (_, PaymentStatus::Failed | PaymentStatus::Refunded) => {
                ("payment not usable; hold".to_string(), vec![action("hold", None)])
            }
        };
        let (_, missing) = Self::completeness(input);
        Proposal {
            summary: offline_summary(summary),
            confidence: completeness,
            actions,
            details: OrderDetails { order_valid: missing.is_empty(), issues: missing, fraud_risk: Risk::Low },
        }
    }
}

fn action(name: &str, amount: Option<f64>) -> ProposedAction {
    ProposedAction { action: name.to_string(), amount, quantity: None, note: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(v: serde_json::Value) -> OrderInput {
        serde_json::from_value(v).expect("valid order")
    }

    #[test]
    fn a_complete_paid_order_scores_one_and_an_empty_one_scores_the_base() {
        let full = input(json!({
            "customer": {"name": "Ada", "email": "ada@example.com"},
            "items": [{"sku": "A1", "qty": 2, "unit_price": 10.0}],
            "shipping_address": {"line1": "1 Main St", "city": "X", "postal_code": "1", "country": "DE"},
            "payment_status": "paid", "total": 20.0
        }));
        assert_eq!(OrderDomain::completeness(&full), (1.0, vec![]));
        let bare = input(
            json!({"customer": {}, "items": [{"sku": "A1", "qty": 1, "unit_price": 1.0}], "payment_status": "pending", "total": 5.0}),
        );
        let (c, missing) = OrderDomain::completeness(&bare);
        assert!((c - 0.4).abs() < 1e-9, "{c}");
        assert_eq!(missing.len(), 5);
    }

    #[test]
    fn empty_items_and_negative_prices_are_problems() {
        let bad = input(json!({"customer": {}, "items": [], "payment_status": "paid"}));
        assert_eq!(OrderDomain::problems(&bad).len(), 1);
        let bad = input(
            json!({"customer": {}, "items": [{"sku": "", "qty": 0, "unit_price": -1.0}], "payment_status": "paid"}),
        );
        assert_eq!(OrderDomain::problems(&bad).len(), 3);
    }
}
