//! Confidence: one number per result, combined from parts that can be shown to an approver.
//!
//! - completeness (0..1): rule-based, from the task input alone (each agent's rules);
//! - model (0..1): the model's self-reported confidence in its structured answer;
//! - logprob (0..1, when the endpoint returns token log-probabilities): the geometric mean
//!   probability of the answer's tokens, `exp(mean(logprob))`.
//!
//! combined = 0.4·completeness + 0.6·model, or 0.3·completeness + 0.4·model + 0.3·logprob
//! when log-probabilities are present. Completeness weighs in so that a confident model cannot
//! push a half-empty input over a threshold on its own; the action policy, not this number,
//! decides what always needs a person.

use serde::{Deserialize, Serialize};

/// The parts and the combined score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Confidence {
    pub completeness: f64,
    pub model: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logprob: Option<f64>,
    pub combined: f64,
}

fn unit(x: f64) -> f64 {
    if x.is_finite() {
        x.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// `exp(mean(logprobs))`, or `None` for no tokens.
pub fn from_logprobs(logprobs: &[f64]) -> Option<f64> {
    if logprobs.is_empty() {
        return None;
    }
    let mean = logprobs.iter().sum::<f64>() / logprobs.len() as f64;
    Some(unit(mean.exp()))
}

impl Confidence {
    pub fn combine(completeness: f64, model: f64, logprob: Option<f64>) -> Self {
        let (completeness, model, logprob) = (unit(completeness), unit(model), logprob.map(unit));
        let combined = match logprob {
            Some(lp) => 0.3 * completeness + 0.4 * model + 0.3 * lp,
            None => 0.4 * completeness + 0.6 * model,
        };
        Self { completeness, model, logprob, combined: unit(combined) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_weighted_as_documented() {
        let c = Confidence::combine(1.0, 0.5, None);
        assert!((c.combined - 0.7).abs() < 1e-9);
        let c = Confidence::combine(1.0, 0.5, Some(0.0));
        assert!((c.combined - 0.5).abs() < 1e-9);
    }

    #[test]
    fn out_of_range_and_nan_model_confidence_cannot_inflate_the_score() {
        assert_eq!(Confidence::combine(0.0, 7.0, None).combined, 0.6);
        assert_eq!(Confidence::combine(0.0, f64::NAN, None).combined, 0.0);
    }

    #[test]
    fn logprobs_become_a_geometric_mean_probability() {
        let p = from_logprobs(&[0.5f64.ln(), 0.5f64.ln()]).expect("some");
        assert!((p - 0.5).abs() < 1e-9);
        assert_eq!(from_logprobs(&[]), None);
    }
}
