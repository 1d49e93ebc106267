//! Fault hooks: where a test makes processing fail on purpose, to see the failure contained.
//! A replica (`overseer run`, the demo) has none, so the binary users run, the one the
//! benchmarks measure and the code the tests drive are the same; an in-process test passes
//! its hooks through [`RunOptions`](crate::runtime::RunOptions).

use overseer_agents::task::Task;
use std::sync::Arc;

pub trait FaultHooks: Send + Sync + std::fmt::Debug {
    /// In the consumer's own loop, as a delivery arrives: a panic here is the consumer's (it
    /// crashes and is restarted).
    fn delivery(&self, _body: &[u8]) {}

    /// Inside a task, before its agent runs: a panic here is the task's (retried, then
    /// dead-lettered).
    fn task(&self, _task: &Task) {}
}

/// The hooks a replica runs with: none outside tests.
pub type Faults = Option<Arc<dyn FaultHooks>>;
