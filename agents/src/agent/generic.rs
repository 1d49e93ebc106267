//! The prompt-configured agent (seo, social media, email campaigns, analytics): its behaviour
//! is its prompt and allowed actions; its payload is any JSON object.

use super::{offline_summary, score, Domain, Payload};
use crate::proposal::{Proposal, ProposedAction};

pub struct GenericDomain;

impl Domain for GenericDomain {
    type Input = Payload;
    type Details = Payload;
    const KINDS: &'static [&'static str] =
        &["generic", "seo.brief", "social.post", "email.campaign", "analytics.report"];

    fn problems(input: &Payload) -> Vec<String> {
        if input.is_empty() {
            vec!["payload must not be empty".into()]
        } else {
            Vec::new()
        }
    }

    /// 0.5, plus 0.1 per non-empty top-level field up to five.
    fn completeness(input: &Payload) -> (f64, Vec<String>) {
        let filled = input
            .values()
            .filter(|v| {
                !(v.is_null()
                    || v.as_str().is_some_and(str::is_empty)
                    || v.as_array().is_some_and(Vec::is_empty))
            })
            .count();
        score(
            0.5,
            &[
                ("1 filled field", 0.1, filled >= 1),
                ("2 filled fields", 0.1, filled >= 2),
                ("3 filled fields", 0.1, filled >= 3),
                ("4 filled fields", 0.1, filled >= 4),
                ("5 filled fields", 0.1, filled >= 5),
            ],
        )
    }

    fn offline(kind: &str, input: &Payload, completeness: f64) -> Proposal<Payload> {
        let mut details = Payload::new();
        details.insert("fields_seen".into(), input.len().into());
        Proposal {
            summary: offline_summary(format!("{kind} task with {} fields", input.len())),
            confidence: completeness,
            actions: vec![ProposedAction {
                action: "no_action".into(),
                amount: None,
                quantity: None,
                note: None,
            }],
            details,
        }
    }
}
