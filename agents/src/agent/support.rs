//! The support-ticket agent.

use super::{offline_summary, score, Domain};
use crate::proposal::{Proposal, ProposedAction};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub struct SupportDomain;

#[derive(Debug, Deserialize)]
pub struct TicketCustomer {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Chat,
    Phone,
    Web,
    Social,
}

/// A support ticket's payload.
#[derive(Debug, Deserialize)]
pub struct TicketInput {
    pub subject: String,
    pub body: String,
    pub customer: TicketCustomer,
    pub channel: Channel,
    #[serde(default)]
    pub order_ref: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Low,
    Normal,
    High,
    Urgent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sentiment {
    Negative,
    Neutral,
    Positive,
}

/// What the support agent reports besides its actions.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SupportDetails {
    /// Ticket category (billing, shipping, refund, product, account, other).
    pub category: String,
    pub urgency: Urgency,
    pub sentiment: Sentiment,
    /// The drafted reply to the customer.
    pub reply: String,
}

impl Domain for SupportDomain {
    type Input = TicketInput;
    type Details = SupportDetails;
    const KINDS: &'static [&'static str] = &["support.ticket"];

    fn problems(input: &TicketInput) -> Vec<String> {
        if input.subject.trim().is_empty() && input.body.trim().is_empty() {
            vec!["a ticket needs a subject or a body".into()]
        } else {
            Vec::new()
        }
    }

    fn completeness(input: &TicketInput) -> (f64, Vec<String>) {
        score(
            0.5,
            &[
                ("subject", 0.1, !input.subject.trim().is_empty()),
                ("body of at least 20 characters", 0.2, input.body.trim().chars().count() >= 20),
                ("customer email", 0.1, input.customer.email.as_deref().is_some_and(|e| e.contains('@'))),
                ("order reference", 0.1, input.order_ref.as_deref().is_some_and(|r| !r.trim().is_empty())),
            ],
        )
    }

    fn offline(_kind: &str, input: &TicketInput, completeness: f64) -> Proposal<SupportDetails> {
        let text = format!("{} {}", input.subject, input.body).to_lowercase();
        let (category, escalate) = if text.contains("refund") || text.contains("money back") {
            ("refund", true)
        } else if text.contains("deliver") || text.contains("shipping") || text.contains("package") {
            ("shipping", false)
        } else if text.contains("invoice") || text.contains("charge") || text.contains("bill") {
            ("billing", false)
        } else {
            ("other", false)
        };
        let angry = ["angry", "terrible", "worst", "unacceptable"].iter().any(|w| text.contains(w));
        let mut actions =
            vec![ProposedAction { action: "reply".into(), amount: None, quantity: None, note: None }];
        if escalate {
            actions.push(ProposedAction {
                action: "escalate".into(),
                amount: None,
                quantity: None,
                note: Some("refund request".into()),
            });
        }
        Proposal {
            summary: offline_summary(format!("{category} ticket via {:?}", input.channel).to_lowercase()),
            confidence: completeness,
            actions,
            details: SupportDetails {
                category: category.into(),
                urgency: if angry { Urgency::High } else { Urgency::Normal },
                sentiment: if angry { Sentiment::Negative } else { Sentiment::Neutral },
                reply: format!(
                    "Thank you for contacting us about \"{}\". We are looking into it.",
                    input.subject.trim()
                ),
            },
        }
    }
}
