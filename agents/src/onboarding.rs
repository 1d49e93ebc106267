//! The onboarding lead scorer of the system overseer replaces, rule for rule: base 0.5;
//! +0.05 company name; +0.05 industry; +0.10 at least two business goals; +0.10 at least one
//! challenge; +0.05 contact email; +0.10 any requested service; +0.05 priority urgent or high;
//! +0.10 budget "$10k-50k" or "$50k+"; capped at 1.0. The rules are what is implemented, not the
//! old guide's example numbers (~0.90 complete, ~0.55 empty): a complete profile sums to 1.10
//! and is capped at 1.0; a request with no business data at the default "high" priority scores
//! 0.55 (docs/agents.md).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContactInfo {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BusinessData {
    #[serde(default)]
    pub company_name: Option<String>,
    #[serde(default)]
    pub industry: Option<String>,
    #[serde(default)]
    pub target_audience: Option<String>,
    #[serde(default)]
    pub business_goals: Vec<String>,
    #[serde(default)]
    pub current_challenges: Vec<String>,
    #[serde(default)]
    pub budget_range: Option<String>,
    #[serde(default)]
    pub contact_info: ContactInfo,
}

/// `POST /onboarding/start`'s body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnboardingRequest {
    #[serde(default)]
    pub business_data: BusinessData,
    #[serde(default)]
    pub requested_services: Vec<String>,
    #[serde(default = "default_priority")]
    pub priority_level: String,
}

fn default_priority() -> String {
    "high".to_string()
}

fn filled(s: &Option<String>) -> bool {
    s.as_deref().is_some_and(|s| !s.trim().is_empty())
}

/// The lead's confidence by the old rules.
pub fn score(request: &OnboardingRequest) -> f64 {
    let b = &request.business_data;
    let rules = [
        (0.05, filled(&b.company_name)),
        (0.05, filled(&b.industry)),
        (0.10, b.business_goals.len() >= 2),
        (0.10, !b.current_challenges.is_empty()),
        (0.05, filled(&b.contact_info.email)),
        (0.10, !request.requested_services.is_empty()),
        (0.05, matches!(request.priority_level.to_ascii_lowercase().as_str(), "urgent" | "high")),
        (0.10, matches!(b.budget_range.as_deref(), Some("$10k-50k" | "$50k+"))),
    ];
    let total: f64 = 0.5 + rules.iter().filter(|(_, met)| *met).map(|(w, _)| w).sum::<f64>();
    // Rounded to cents of a point so sums like 0.1 + 0.05 compare exactly.
    (total.min(1.0) * 100.0).round() / 100.0
}

/// What the intake proposes for a lead: derived from the request only, deterministic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnboardingPlan {
    pub recommendations: Vec<String>,
    /// What happens once the plan is accepted.
    pub next_steps: Vec<String>,
    pub estimated_timeline: String,
}

/// The plan for a lead: one recommendation per requested service and per challenge (a
/// discovery call when the profile says neither), a timeline by the number of services.
pub fn plan(request: &OnboardingRequest) -> OnboardingPlan {
    let b = &request.business_data;
    let mut recommendations: Vec<String> =
        request.requested_services.iter().map(|s| format!("Start the {s} service")).collect();
    recommendations.extend(b.current_challenges.iter().map(|c| format!("Address the challenge: {c}")));
    if recommendations.is_empty() {
        recommendations.push("Schedule a discovery call to complete the business profile".into());
    }
    let estimated_timeline = match request.requested_services.len() {
        0 | 1 => "1-2 weeks",
        2 | 3 => "2-4 weeks",
        _ => "4-8 weeks",
    }
    .to_string();
    let contact = b.contact_info.email.clone().unwrap_or_else(|| "the contact on file".into());
    OnboardingPlan {
        recommendations,
        next_steps: vec![
            "An account manager is assigned".into(),
            format!("A kick-off call is scheduled with {contact}"),
            "The first deliverables are planned".into(),
        ],
        estimated_timeline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete() -> OnboardingRequest {
        serde_json::from_value(serde_json::json!({
            "business_data": {
                "company_name": "Acme", "industry": "retail", "target_audience": "SMB",
                "business_goals": ["grow", "retain"], "current_challenges": ["churn"],
                "budget_range": "$10k-50k", "contact_info": {"email": "a@acme.test", "phone": "1"}
            },
            "requested_services": ["seo"],
            "priority_level": "high"
        }))
        .expect("valid request")
    }

    #[test]
    fn a_complete_profile_scores_one_and_an_empty_one_scores_the_base_plus_priority() {
        assert_eq!(score(&complete()), 1.0);
        let empty: OnboardingRequest = serde_json::from_value(serde_json::json!({})).expect("empty request");
        assert_eq!(score(&empty), 0.55);
        let low = OnboardingRequest { priority_level: "low".into(), ..empty };
        assert_eq!(score(&low), 0.5);
    }

    #[test]
    fn the_plan_follows_the_request() {
        let p = plan(&complete());
        assert_eq!(p.recommendations, vec!["Start the seo service", "Address the challenge: churn"]);
        assert_eq!(p.estimated_timeline, "1-2 weeks");
        assert!(p.next_steps[1].contains("a@acme.test"));
        let empty: OnboardingRequest = serde_json::from_value(serde_json::json!({})).expect("empty");
        assert!(plan(&empty).recommendations[0].contains("discovery call"));
    }

    #[test]
    fn each_rule_counts_as_specified() {
        // A complete profile sums to 1.10: one 0.10 rule less still reaches the cap.
        let mut r = complete();
        r.business_data.business_goals.truncate(1);
        assert_eq!(score(&r), 1.0);
        r.business_data.budget_range = Some("$1k-5k".into());
        assert_eq!(score(&r), 0.9);
        r.priority_level = "urgent".into();
        assert_eq!(score(&r), 0.9);
        r.priority_level = "medium".into();
        assert_eq!(score(&r), 0.85);
        r.business_data.contact_info.email = None;
        r.requested_services.clear();
        assert_eq!(score(&r), 0.7);
    }
}
