//! The onboarding lead scorer of the system overseer replaces, rule for rule: base 0.5;
//! +0.05 company name; +0.05 industry; +0.10 at least two business goals; +0.10 at least one
//! challenge; +0.05 contact email; +0.10 any requested service; +0.05 priority urgent or high;
//! +0.10 budget "$10k-50k" or "$50k+"; capped at 1.0; a request without `priority_level` is
//! `standard`. The guide's tiers follow from the rules (tests below, one per tier): 0.50 base;
//! 0.55 company name only; 0.70 basic profile (name, industry, goals); 0.85 complete profile
//! (and challenges, contact email: the threshold for autonomous execution); 0.95 excellent
//! (and requested services); 1.00 the cap (every field, high priority, a budget).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ContactInfo {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OnboardingRequest {
    #[serde(default)]
    pub business_data: BusinessData,
    #[serde(default)]
    pub requested_services: Vec<String>,
    #[serde(default = "default_priority")]
    pub priority_level: String,
}

fn default_priority() -> String {
    "standard".to_string()
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

/// One recommendation, as the earlier system's clients read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// `Business Analysis`, `Service Plan` or `Challenge`.
    #[serde(rename = "type")]
    pub kind: String,
    pub summary: String,
    pub details: String,
    /// The lead's score: how sure the intake is of this plan.
    pub confidence: f64,
}

/// What the intake proposes for a lead: derived from the request only, deterministic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnboardingPlan {
    pub recommendations: Vec<Recommendation>,
    /// What happens once the plan is accepted.
    pub next_steps: Vec<String>,
    pub estimated_timeline: String,
}

fn listed(items: &[String]) -> String {
    if items.is_empty() {
        "none stated".into()
    } else {
        items.join(", ")
    }
}

/// The plan for a lead: a business analysis, one service plan per requested service, one
/// recommendation per challenge; a timeline by the number of services.
pub fn plan(request: &OnboardingRequest) -> OnboardingPlan {
    let b = &request.business_data;
    let confidence = score(request);
    let company =
        b.company_name.clone().filter(|c| !c.trim().is_empty()).unwrap_or_else(|| "the lead".into());
    let recommendation = |kind: &str, summary: String, details: String| Recommendation {
        kind: kind.into(),
        summary,
        details,
        confidence,
    };
    let mut recommendations = vec![recommendation(
        "Business Analysis",
        format!("Strategic analysis for {company}"),
        format!(
            "Industry: {}. Audience: {}. Goals: {}. Challenges: {}. Budget: {}.",
            b.industry.as_deref().unwrap_or("unknown"),
            b.target_audience.as_deref().unwrap_or("unknown"),
            listed(&b.business_goals),
            listed(&b.current_challenges),
            b.budget_range.as_deref().unwrap_or("unknown"),
        ),
    )];
    recommendations.extend(request.requested_services.iter().map(|s| {
        recommendation("Service Plan", format!("Start the {s} service"), format!("{s} for {company}"))
    }));
    recommendations.extend(b.current_challenges.iter().map(|c| {
        recommendation("Challenge", format!("Address the challenge: {c}"), format!("A plan against {c}"))
    }));
    if request.requested_services.is_empty() && b.current_challenges.is_empty() {
        recommendations.push(recommendation(
            "Discovery",
            "Schedule a discovery call to complete the business profile".into(),
            "Too little is known for a service plan".into(),
        ));
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

    fn request(v: serde_json::Value) -> OnboardingRequest {
        serde_json::from_value(v).expect("valid request")
    }

    #[test]
    fn tier_base_an_empty_request_scores_the_minimum() {
        assert_eq!(score(&request(serde_json::json!({}))), 0.5, "priority defaults to standard");
    }

    #[test]
    fn tier_minimal_a_company_name_only_scores_0_55() {
        assert_eq!(score(&request(serde_json::json!({"business_data": {"company_name": "NewCo"}}))), 0.55);
    }

    #[test]
    fn tier_basic_profile_name_industry_goals_scores_0_70() {
        let r = request(serde_json::json!({"business_data": {
            "company_name": "NewCo", "industry": "SaaS", "business_goals": ["grow", "retain"]}}));
        assert_eq!(score(&r), 0.7);
    }

    fn complete_profile() -> serde_json::Value {
        serde_json::json!({"business_data": {
            "company_name": "NewCo", "industry": "SaaS", "target_audience": "SMB",
            "business_goals": ["grow", "retain"], "current_challenges": ["churn"],
            "contact_info": {"email": "a@newco.test"}}})
    }

    #[test]
    fn tier_complete_profile_scores_the_autonomy_threshold_0_85() {
        assert_eq!(score(&request(complete_profile())), 0.85);
    }

    #[test]
    fn tier_excellent_a_complete_profile_with_services_scores_0_95() {
        let mut v = complete_profile();
        v["requested_services"] = serde_json::json!(["SEO"]);
        assert_eq!(score(&request(v)), 0.95);
    }

    #[test]
    fn tier_cap_every_field_at_high_priority_scores_1_00() {
        let r = complete();
        assert_eq!(score(&r), 1.0, "1.10 by the rules, capped");
    }

    #[test]
    fn the_plan_follows_the_request() {
        let p = plan(&complete());
        let kinds: Vec<&str> = p.recommendations.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(kinds, ["Business Analysis", "Service Plan", "Challenge"]);
        assert_eq!(p.recommendations[0].summary, "Strategic analysis for Acme");
        assert_eq!(p.recommendations[1].summary, "Start the seo service");
        assert!(p.recommendations.iter().all(|r| r.confidence == 1.0));
        let json = serde_json::to_value(&p.recommendations[0]).expect("JSON");
        assert_eq!(json["type"], "Business Analysis");
        assert_eq!(p.estimated_timeline, "1-2 weeks");
        assert!(p.next_steps[1].contains("a@acme.test"));
        let empty = request(serde_json::json!({}));
        assert!(plan(&empty).recommendations[1].summary.contains("discovery call"));
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
