//! Workflows: the per-business-process rules that decide whether an agent's result executes
//! on its own or waits for a person.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How much a workflow may do without a person (the five levels of the earlier system).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AutonomyLevel {
    /// Level 1: every decision needs a human approval.
    Supervised,
    /// Level 2: decisions below the confidence threshold need a human approval.
    Assisted,
    /// Level 3: decisions execute; a sample is queued for after-the-fact review.
    Monitored,
    /// Level 4: decisions execute independently and are logged for review.
    Autonomous,
    /// Level 5: like assisted, but the threshold moves with the measured approval rate.
    Adaptive,
}

impl AutonomyLevel {
    /// The numeric level of the earlier system (1 = supervised … 5 = adaptive).
    pub fn level(self) -> u8 {
        match self {
            Self::Supervised => 1,
            Self::Assisted => 2,
            Self::Monitored => 3,
            Self::Autonomous => 4,
            Self::Adaptive => 5,
        }
    }

    pub const ALL: [Self; 5] =
        [Self::Supervised, Self::Assisted, Self::Monitored, Self::Autonomous, Self::Adaptive];

    pub fn name(self) -> &'static str {
        match self {
            Self::Supervised => "supervised",
            Self::Assisted => "assisted",
            Self::Monitored => "monitored",
            Self::Autonomous => "autonomous",
            Self::Adaptive => "adaptive",
        }
    }

    /// A level by its name (`assisted`) or its number (`2`).
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        Self::ALL.into_iter().find(|l| l.name().eq_ignore_ascii_case(t) || l.level().to_string() == t)
    }
}

/// What happens to a pending decision nobody decided before it expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExpiryPolicy {
    /// Move it to the `hitl_exceptions` queue for a person to pick up (nothing is lost).
    #[default]
    Escalate,
    /// Reject it by expiry: it ends `expired`, and its task is not executed.
    AutoReject,
}

/// One workflow's HITL rules. Field names follow the earlier system's workflow JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowConfig {
    /// Whether results of this workflow may be routed to a person at all. When false, every
    /// result executes (policy-forced actions still go to a person).
    pub hitl_enabled: bool,
    /// Confidence (0..1) at or above which a result executes without a person
    /// (for the assisted and adaptive levels; the adaptive level starts here).
    pub confidence_threshold: f64,
    /// How much the workflow may do on its own.
    pub autonomy_level: AutonomyLevel,
    /// The downstream service this workflow acts on (informational, shown to approvers).
    #[serde(default)]
    pub service: String,
    /// A sentence for the people who approve this workflow's decisions.
    #[serde(default)]
    pub description: String,
    /// How long a pending decision waits for a person before its expiry policy applies.
    #[serde(default = "default_pending_ttl", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub pending_ttl: Duration,
    /// What happens when a pending decision expires.
    #[serde(default)]
    pub expiry_policy: ExpiryPolicy,
    /// Fraction (0..1) of executed results queued for after-the-fact review in monitored mode.
    #[serde(default = "default_review_sample_rate")]
    pub review_sample_rate: f64,
    /// How many distinct people must approve a decision before it executes (M-of-N); one
    /// rejection rejects it.
    #[serde(default = "default_required_approvals")]
    pub required_approvals: u32,
    /// Who may decide this workflow's decisions (user names); anyone when empty.
    #[serde(default)]
    pub approvers: Vec<String>,
    /// How the adaptive level moves the threshold.
    #[serde(default)]
    pub adaptive: AdaptiveConfig,
}

/// The adaptive level's rule: after every `window` human decisions (at least `min_samples`),
/// an approval rate at or above `lower_above` lowers the threshold by `step` (people agree with
/// the agent: give it more room); a rate below `raise_below` raises it by `step`; always within
/// `min_threshold..=max_threshold`. Each move is audited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AdaptiveConfig {
    /// Decisions the approval rate is measured over.
    pub window: u32,
    /// Decisions needed before the threshold may move.
    pub min_samples: u32,
    /// Approval rate at or above which the threshold goes down.
    pub lower_above: f64,
    /// Approval rate below which the threshold goes up.
    pub raise_below: f64,
    /// How far one move goes.
    pub step: f64,
    pub min_threshold: f64,
    pub max_threshold: f64,
}

impl Default for AdaptiveConfig {
    fn default() -> Self {
        Self {
            window: 20,
            min_samples: 20,
            lower_above: 0.9,
            raise_below: 0.7,
            step: 0.02,
            min_threshold: 0.6,
            max_threshold: 0.99,
        }
    }
}

impl AdaptiveConfig {
    /// The new threshold and the measured approval rate, when `approvals` (true = approved)
    /// call for a move from `threshold`.
    pub fn next_threshold(&self, threshold: f64, approvals: &[bool]) -> Option<(f64, f64)> {
        if approvals.is_empty() || (approvals.len() as u32) < self.min_samples.max(1) {
            return None;
        }
        let rate = approvals.iter().filter(|a| **a).count() as f64 / approvals.len() as f64;
        let target = if rate >= self.lower_above {
            threshold - self.step
        } else if rate < self.raise_below {
            threshold + self.step
        } else {
            return None;
        };
        // Rounded to 1e-6 so repeated steps do not drift.
        let next = (target.clamp(self.min_threshold, self.max_threshold) * 1e6).round() / 1e6;
        (next != threshold).then_some((next, rate))
    }

    fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let unit = |x: f64| (0.0..=1.0).contains(&x);
        if !(unit(self.min_threshold) && unit(self.max_threshold) && self.min_threshold <= self.max_threshold)
        {
            out.push((
                "adaptive",
                "min_threshold..max_threshold must be an interval within 0..1".to_string(),
            ));
        }
        if !(unit(self.lower_above) && unit(self.raise_below) && self.raise_below <= self.lower_above) {
            out.push((
                "adaptive",
                "raise_below and lower_above must be rates with raise_below <= lower_above".to_string(),
            ));
        }
        if !(self.step > 0.0 && self.step <= 0.5) || self.window == 0 || self.min_samples > self.window {
            out.push((
                "adaptive",
                "step must be in (0, 0.5], window > 0 and min_samples <= window".to_string(),
            ));
        }
        out
    }
}

fn default_required_approvals() -> u32 {
    1
}

/// The earlier system's default: pending decisions expire after five minutes.
fn default_pending_ttl() -> Duration {
    Duration::from_secs(300)
}

/// One result in ten is sampled for review in monitored mode unless configured otherwise.
fn default_review_sample_rate() -> f64 {
    0.1
}

impl WorkflowConfig {
    /// How much this workflow holds back for a person: 0 never (HITL off, monitored,
    /// autonomous), 1 below its threshold (assisted, adaptive), 2 always (supervised).
    fn gate(&self) -> u8 {
        if !self.hitl_enabled {
            return 0;
        }
        match self.autonomy_level {
            AutonomyLevel::Supervised => 2,
            AutonomyLevel::Assisted | AutonomyLevel::Adaptive => 1,
            AutonomyLevel::Monitored | AutonomyLevel::Autonomous => 0,
        }
    }

    /// Whether this workflow sends to a person at least whatever `other` sends, with approver
    /// rules at least as tight: the test a task's named workflow must pass against its
    /// queue's own (a task cannot pick a looser workflow than its queue's).
    pub fn at_least_as_strict_as(&self, other: &WorkflowConfig) -> bool {
        let gate = match (self.gate(), other.gate()) {
            (a, b) if a != b => a > b,
            (1, 1) => self.confidence_threshold >= other.confidence_threshold,
            _ => true,
        };
        let approvers = other.approvers.is_empty()
            || (!self.approvers.is_empty() && self.approvers.iter().all(|a| other.approvers.contains(a)));
        gate && approvers && self.required_approvals >= other.required_approvals
    }

    /// Problems with this workflow's values, as (key, message) pairs; empty when valid.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if !(0.0..=1.0).contains(&self.confidence_threshold) {
            out.push(("confidence_threshold", format!("{} is outside 0..1", self.confidence_threshold)));
        }
        if !(0.0..=1.0).contains(&self.review_sample_rate) {
            out.push(("review_sample_rate", format!("{} is outside 0..1", self.review_sample_rate)));
        }
        out.extend(self.adaptive.problems());
        if self.required_approvals == 0 {
            out.push(("required_approvals", "must be at least 1".to_string()));
        }
        if self.pending_ttl.is_zero() {
            out.push(("pending_ttl", "must be longer than zero".to_string()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<WorkflowConfig, toml::de::Error> {
        toml::from_str(text)
    }

    fn wf(hitl: bool, threshold: f64, level: &str, approvers: &str) -> WorkflowConfig {
        parse(&format!(
            "hitl_enabled = {hitl}\nconfidence_threshold = {threshold}\nautonomy_level = \"{level}\"\napprovers = {approvers}"
        ))
        .expect("valid workflow")
    }

    #[test]
    fn strictness_orders_gates_thresholds_and_approver_rules() {
        let assisted = wf(true, 0.85, "assisted", "[]");
        assert!(wf(true, 0.95, "supervised", "[]").at_least_as_strict_as(&assisted));
        assert!(wf(true, 0.9, "adaptive", "[]").at_least_as_strict_as(&assisted));
        assert!(!wf(true, 0.7, "assisted", "[]").at_least_as_strict_as(&assisted), "a lower threshold");
        assert!(!wf(false, 0.99, "supervised", "[]").at_least_as_strict_as(&assisted), "HITL off");
        assert!(!wf(true, 0.99, "autonomous", "[]").at_least_as_strict_as(&assisted));
        assert!(wf(true, 0.1, "monitored", "[]").at_least_as_strict_as(&wf(false, 0.9, "autonomous", "[]")));
        let listed = wf(true, 0.85, "assisted", "[\"carol\", \"dave\"]");
        assert!(!assisted.at_least_as_strict_as(&listed), "no list is looser than a list");
        assert!(wf(true, 0.9, "assisted", "[\"carol\"]").at_least_as_strict_as(&listed));
        assert!(!wf(true, 0.9, "assisted", "[\"carol\", \"eve\"]").at_least_as_strict_as(&listed));
    }

    #[test]
    fn defaults_fill_optional_fields() {
        let wf = parse("hitl_enabled = true\nconfidence_threshold = 0.9\nautonomy_level = \"assisted\"")
            .expect("valid workflow");
        assert_eq!(wf.pending_ttl, Duration::from_secs(300));
        assert_eq!(wf.expiry_policy, ExpiryPolicy::Escalate);
        assert!(wf.problems().is_empty());
    }

    #[test]
    fn out_of_range_values_are_problems() {
        let wf = parse(
            "hitl_enabled = true\nconfidence_threshold = 1.5\nautonomy_level = \"assisted\"\npending_ttl = \"0s\"",
        )
        .expect("parses");
        let keys: Vec<_> = wf.problems().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, vec!["confidence_threshold", "pending_ttl"]);
    }

    #[test]
    fn unknown_keys_and_levels_are_rejected() {
        assert!(parse(
            "hitl_enabled = true\nconfidence_threshold = 0.9\nautonomy_level = \"assisted\"\nextra = 1"
        )
        .is_err());
        assert!(parse("hitl_enabled = true\nconfidence_threshold = 0.9\nautonomy_level = \"yolo\"").is_err());
    }

    #[test]
    fn the_adaptive_threshold_moves_by_the_approval_rate_within_bounds() {
        let a = AdaptiveConfig { min_samples: 4, window: 4, step: 0.05, ..AdaptiveConfig::default() };
        assert_eq!(a.next_threshold(0.85, &[true, true, true]), None, "too few samples");
        assert_eq!(a.next_threshold(0.85, &[true; 4]), Some((0.8, 1.0)));
        assert_eq!(a.next_threshold(0.85, &[false, false, true, false]), Some((0.9, 0.25)));
        assert_eq!(a.next_threshold(0.85, &[true, true, true, false]), None, "0.75 is in the dead band");
        assert_eq!(a.next_threshold(0.97, &[false; 4]), Some((0.99, 0.0)), "capped at the maximum");
        assert_eq!(a.next_threshold(0.99, &[false; 4]), None, "already at the maximum");
        assert_eq!(a.next_threshold(0.62, &[true; 4]), Some((0.6, 1.0)));
    }

    #[test]
    fn levels_are_numbered_like_the_earlier_system() {
        assert_eq!(AutonomyLevel::Supervised.level(), 1);
        assert_eq!(AutonomyLevel::Adaptive.level(), 5);
        assert_eq!(AutonomyLevel::parse("2"), Some(AutonomyLevel::Assisted));
        assert_eq!(AutonomyLevel::parse("Monitored"), Some(AutonomyLevel::Monitored));
        assert_eq!(AutonomyLevel::parse("6"), None);
        assert_eq!(AutonomyLevel::parse("yolo"), None);
    }
}
