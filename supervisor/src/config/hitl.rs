//! Settings of the human-in-the-loop service (per-workflow settings live in `[workflows]`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HitlConfig {
    /// How often each replica looks for pending decisions past their deadline. Every replica
    /// sweeps; the atomic state change makes each expiry happen once.
    #[serde(default = "default_sweep", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub sweep_interval: Duration,
    /// How long a decided decision stays readable (history) after its pending TTL.
    #[serde(default = "default_history", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub history: Duration,
    /// How often each replica checks whether a workflow was changed (on any replica); a change
    /// reaches every replica within this interval.
    #[serde(default = "default_workflow_poll", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub workflow_poll: Duration,
}

impl Default for HitlConfig {
    fn default() -> Self {
        Self {
            sweep_interval: default_sweep(),
            history: default_history(),
            workflow_poll: default_workflow_poll(),
        }
    }
}

fn default_sweep() -> Duration {
    Duration::from_secs(1)
}
fn default_history() -> Duration {
    Duration::from_secs(24 * 3600)
}
fn default_workflow_poll() -> Duration {
    Duration::from_millis(250)
}
