//! The inventory agent.

use super::{offline_summary, score, Domain};
use crate::policy::PolicyContext;
use crate::proposal::{Proposal, ProposedAction};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub struct InventoryDomain;

/// A stock item's payload.
#[derive(Debug, Deserialize)]
pub struct StockInput {
    pub sku: String,
    pub on_hand: f64,
    pub reorder_point: f64,
    #[serde(default)]
    pub lead_time_days: Option<f64>,
    /// Average units sold per day.
    #[serde(default)]
    pub daily_demand: Option<f64>,
    /// Units counted at the last stock-take, when it differs from `on_hand`.
    #[serde(default)]
    pub counted: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StockoutRisk {
    Low,
    Medium,
    High,
}

/// What the inventory agent reports besides its actions.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InventoryDetails {
    pub stockout_risk: StockoutRisk,
    /// Days the stock on hand lasts at the current demand.
    pub days_of_cover: f64,
}

impl Domain for InventoryDomain {
    type Input = StockInput;
    type Details = InventoryDetails;
    const KINDS: &'static [&'static str] = &["inventory.check", "inventory.stocktake"];

    fn problems(input: &StockInput) -> Vec<String> {
        let mut out = Vec::new();
        if input.sku.trim().is_empty() {
            out.push("sku must not be empty".into());
        }
        for (name, value) in [
            ("on_hand", Some(input.on_hand)),
            ("reorder_point", Some(input.reorder_point)),
            ("lead_time_days", input.lead_time_days),
            ("daily_demand", input.daily_demand),
        ] {
            if value.is_some_and(|v| !v.is_finite() || v < 0.0) {
                out.push(format!("{name} must be a non-negative number"));
            }
        }
        out
    }

    fn completeness(input: &StockInput) -> (f64, Vec<String>) {
        score(
            0.6,
            &[
                ("lead time", 0.2, input.lead_time_days.is_some()),
                ("daily demand", 0.2, input.daily_demand.is_some_and(|d| d > 0.0)),
            ],
        )
    }

    fn policy_context(input: &StockInput) -> PolicyContext {
        PolicyContext { on_hand: Some(input.on_hand), ..PolicyContext::default() }
    }

    fn offline(kind: &str, input: &StockInput, completeness: f64) -> Proposal<InventoryDetails> {
        let demand = input.daily_demand.unwrap_or(0.0);
        let lead = input.lead_time_days.unwrap_or(7.0);
        let cover = if demand > 0.0 { input.on_hand / demand } else { f64::INFINITY };
        let risk = match cover {
            c if c < lead => StockoutRisk::High,
            c if c < 2.0 * lead => StockoutRisk::Medium,
            _ => StockoutRisk::Low,
        };
        let mut actions = Vec::new();
        if let (Some(counted), "inventory.stocktake") = (input.counted, kind) {
            actions.push(ProposedAction {
                action: "adjust_stock".into(),
                amount: None,
                quantity: Some(counted - input.on_hand),
                note: Some("align with the stock-take".into()),
            });
        }
        if input.on_hand <= input.reorder_point {
            let quantity = (demand * lead * 2.0 - input.on_hand).max(input.reorder_point).ceil();
            actions.push(ProposedAction {
                action: "reorder".into(),
                amount: None,
                quantity: Some(quantity),
                note: None,
            });
        }
        if actions.is_empty() {
            actions.push(ProposedAction {
                action: "no_action".into(),
                amount: None,
                quantity: None,
                note: None,
            });
        }
        Proposal {
            summary: offline_summary(format!(
                "{}: {} on hand, reorder point {}",
                input.sku, input.on_hand, input.reorder_point
            )),
            confidence: completeness,
            actions,
            details: InventoryDetails {
                stockout_risk: risk,
                days_of_cover: if cover.is_finite() { cover } else { 9999.0 },
            },
        }
    }
}
