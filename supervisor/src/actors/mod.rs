//! The supervision tree of one replica:
//!
//! ```text
//! RootSupervisor
//! ├── EventPublisher            — owns the event sink (Kafka producer, delivery reports)
//! ├── HitlActor                 — parks decisions for a person (Redis) + hitl.requests
//! ├── ExpirySweeper             — expires pending decisions past their deadline
//! ├── WorkflowWatcher           — reloads the workflows when any replica changed one
//! ├── ControlWatcher            — applies the cluster's queue control (pause, scale) here
//! ├── ControlListener           — answers `overseer ctl` commands (overseer.control exchange)
//! ├── QueueMonitor              — samples the queues' backlog; autoscales opted-in queues
//! └── QueueSupervisor(queue) × configured agent queues
//!     └── ConsumerActor(queue)  — one channel, prefetch, up to `concurrency` tasks deciding
//! ```
//!
//! One actor per file, each with its message enum beside it. A consumer that fails (its
//! stream ended, a task panicked) is restarted by its queue supervisor with backoff; more than
//! `runtime.max_restarts` restarts within `runtime.restart_window` is a meltdown: the queue is
//! marked failed on /health and no longer restarted. A helper of the root (sweeper, watchers,
//! listener, monitor: `helpers.rs`) that stops is started again after a second; the publisher
//! or the HITL actor stopping stops the tree (the process exits non-zero for the orchestrator).
//! Drain (SIGTERM) flows down the tree.

pub mod consumer;
#[cfg(test)]
mod consumer_tests;
pub mod control_listener;
pub mod control_watcher;
pub mod event_publisher;
pub mod expiry_sweeper;
pub mod helpers;
pub mod hitl;
pub mod queue_monitor;
pub mod queue_supervisor;
pub mod root;
pub mod workflow_watcher;
