//! Settings of overseer's own process: its HTTP port and the limits on what it accepts.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The one HTTP port: health, metrics, HITL API, dashboard, control API.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address and port to listen on.
    #[serde(default = "default_bind")]
    pub bind: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            bind: default_bind(),
        }
    }
}

fn default_bind() -> String {
    "0.0.0.0:8001".to_string()
}

/// Bounds on incoming tasks: anything past them is dead-lettered at once, never processed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest task message body accepted, in bytes.
    #[serde(default = "default_max_task_bytes")]
    pub max_task_bytes: usize,
    /// Deepest JSON nesting accepted in a task.
    #[serde(default = "default_max_json_depth")]
    pub max_json_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_task_bytes: default_max_task_bytes(),
            max_json_depth: default_max_json_depth(),
        }
    }
}

fn default_max_task_bytes() -> usize {
    1024 * 1024
}
fn default_max_json_depth() -> usize {
    64
}
