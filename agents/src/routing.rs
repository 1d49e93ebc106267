//! Routing: given a workflow, a confidence and the policy's reasons, execute or ask a person.

use crate::workflow::{AutonomyLevel, WorkflowConfig};
use serde::{Deserialize, Serialize};

/// How an executed result was executed (the `execution_mode` of `ai.completions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionMode {
    Autonomous,
    Monitored,
    HitlApproved,
}

impl ExecutionMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Autonomous => "autonomous",
            Self::Monitored => "monitored",
            Self::HitlApproved => "hitl_approved",
        }
    }
}

/// Where a result goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// Execute now; `review` marks a monitored-mode sample for after-the-fact review.
    Execute { mode: ExecutionMode, review: bool },
    /// Park for a person, with the reasons shown to them.
    Hitl { reasons: Vec<String> },
}

/// Decides the route. `sample` is asked (once) whether a monitored result is sampled.
pub fn route(
    workflow: &WorkflowConfig,
    confidence: f64,
    policy_reasons: Vec<String>,
    sample: impl FnOnce(f64) -> bool,
) -> Route {
    if !policy_reasons.is_empty() {
        return Route::Hitl { reasons: policy_reasons };
    }
    let monitored =
        || Route::Execute { mode: ExecutionMode::Monitored, review: sample(workflow.review_sample_rate) };
    let autonomous = Route::Execute { mode: ExecutionMode::Autonomous, review: false };
    if !workflow.hitl_enabled {
        return match workflow.autonomy_level {
            AutonomyLevel::Monitored => monitored(),
            _ => autonomous,
        };
    }
    match workflow.autonomy_level {
        AutonomyLevel::Supervised => {
            Route::Hitl { reasons: vec!["the workflow is supervised: every decision needs a person".into()] }
        }
        AutonomyLevel::Assisted | AutonomyLevel::Adaptive if confidence < workflow.confidence_threshold => {
            Route::Hitl {
                reasons: vec![format!(
                    "confidence {confidence:.2} is below the workflow threshold {:.2}",
                    workflow.confidence_threshold
                )],
            }
        }
        AutonomyLevel::Assisted | AutonomyLevel::Adaptive | AutonomyLevel::Autonomous => autonomous,
        AutonomyLevel::Monitored => monitored(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::ExpiryPolicy;
    use std::time::Duration;

    fn wf(hitl: bool, level: AutonomyLevel) -> WorkflowConfig {
        WorkflowConfig {
            hitl_enabled: hitl,
            confidence_threshold: 0.8,
            autonomy_level: level,
            service: String::new(),
            description: String::new(),
            pending_ttl: Duration::from_secs(60),
            expiry_policy: ExpiryPolicy::Escalate,
            review_sample_rate: 0.5,
            required_approvals: 1,
            approvers: vec![],
            adaptive: Default::default(),
        }
    }

    fn exec(mode: ExecutionMode, review: bool) -> Route {
        Route::Execute { mode, review }
    }

    #[test]
    fn each_autonomy_level_routes_as_specified() {
        use AutonomyLevel::*;
        let never = |_| false;
        assert!(matches!(route(&wf(true, Supervised), 0.99, vec![], never), Route::Hitl { .. }));
        assert!(matches!(route(&wf(true, Assisted), 0.79, vec![], never), Route::Hitl { .. }));
        assert_eq!(route(&wf(true, Assisted), 0.8, vec![], never), exec(ExecutionMode::Autonomous, false));
        assert!(matches!(route(&wf(true, Adaptive), 0.5, vec![], never), Route::Hitl { .. }));
        assert_eq!(route(&wf(true, Monitored), 0.1, vec![], |_| true), exec(ExecutionMode::Monitored, true));
        assert_eq!(route(&wf(true, Autonomous), 0.1, vec![], never), exec(ExecutionMode::Autonomous, false));
        assert_eq!(route(&wf(false, Supervised), 0.1, vec![], never), exec(ExecutionMode::Autonomous, false));
        assert_eq!(route(&wf(false, Monitored), 0.1, vec![], never), exec(ExecutionMode::Monitored, false));
    }

    #[test]
    fn policy_reasons_win_over_any_confidence_and_a_disabled_hitl() {
        let r = route(&wf(false, AutonomyLevel::Autonomous), 1.0, vec!["refund too large".into()], |_| false);
        assert_eq!(r, Route::Hitl { reasons: vec!["refund too large".into()] });
    }
}
