//! The marketing-campaign agent.

use super::{offline_summary, score, Domain};
use crate::proposal::{Proposal, ProposedAction};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub struct MarketingDomain;

#[derive(Debug, Deserialize)]
pub struct Campaign {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Audience {
    #[serde(default)]
    pub segment: Option<String>,
    #[serde(default)]
    pub size: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub struct Budget {
    pub amount: f64,
    #[serde(default)]
    pub currency: Option<String>,
}

/// A campaign task's payload.
#[derive(Debug, Deserialize)]
pub struct CampaignInput {
    pub campaign: Campaign,
    #[serde(default)]
    pub audience: Audience,
    pub budget: Budget,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub goals: Vec<String>,
}

/// What the marketing agent reports besides its actions.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MarketingDetails {
    /// Recommendations in order of expected impact.
    pub recommendations: Vec<String>,
    /// The effect expected from the proposed actions.
    pub expected_effect: String,
}

impl Domain for MarketingDomain {
    type Input = CampaignInput;
    type Details = MarketingDetails;
    const KINDS: &'static [&'static str] = &["campaign.optimize", "campaign.launch"];

    fn problems(input: &CampaignInput) -> Vec<String> {
        let mut out = Vec::new();
        if input.campaign.id.trim().is_empty() {
            out.push("campaign.id must not be empty".into());
        }
        if !input.budget.amount.is_finite() || input.budget.amount < 0.0 {
            out.push("budget.amount must be a non-negative number".into());
        }
        out
    }

    fn completeness(input: &CampaignInput) -> (f64, Vec<String>) {
        score(
            0.5,
            &[
                ("campaign name", 0.1, input.campaign.name.as_deref().is_some_and(|n| !n.trim().is_empty())),
                (
                    "audience segment",
                    0.1,
                    input.audience.segment.as_deref().is_some_and(|s| !s.trim().is_empty()),
                ),
                ("budget above zero", 0.1, input.budget.amount > 0.0),
                ("channel", 0.1, input.channel.as_deref().is_some_and(|c| !c.trim().is_empty())),
                ("at least one goal", 0.1, !input.goals.is_empty()),
            ],
        )
    }

    fn offline(kind: &str, input: &CampaignInput, completeness: f64) -> Proposal<MarketingDetails> {
        let (summary, action, amount) = if kind == "campaign.launch" {
            ("launch the campaign as planned".to_string(), "launch_campaign", None)
        } else {
            let step = (input.budget.amount * 0.1 * 100.0).round() / 100.0;
            (format!("raise the budget by 10% ({step})"), "adjust_budget", Some(step))
        };
        Proposal {
            summary: offline_summary(summary),
            confidence: completeness,
            actions: vec![ProposedAction { action: action.into(), amount, quantity: None, note: None }],
            details: MarketingDetails {
                recommendations: input.goals.iter().map(|g| format!("measure progress on: {g}")).collect(),
                expected_effect: "more reach at a steady cost per result".into(),
            },
        }
    }
}
