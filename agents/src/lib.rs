//! # overseer-agents
//!
//! The pure domain of overseer: what an agent is, how a workflow decides between acting and
//! asking a human, and the configuration those need. Nothing here talks to a broker: this crate
//! never depends on lapin, rdkafka or redis (the supervisor crate does the I/O).
//!
//! Layout:
//! - [`workflow`]: workflow settings (HITL on/off, confidence threshold, autonomy level,
//!   pending TTL, expiry policy) with the eight defaults of the system overseer replaces.
//! - [`spec`]: an agent's configuration: which built-in agent it is and its prompt templates.

pub mod spec;
pub mod workflow;
