//! # overseer-agents
//!
//! The pure domain of overseer: what an agent is, how a workflow decides between acting and
//! asking a human, and the configuration those need. Nothing here talks to a broker: this crate
//! never depends on lapin, rdkafka or redis (the supervisor crate does the I/O). The one
//! network client here is the LLM's, behind the [`llm::LlmClient`] trait.
//!
//! Layout:
//! - [`task`]: the task envelope of the contract, decoded and bounded.
//! - [`agent`]: the [`agent::Agent`] trait, the order, support, marketing and inventory agents
//!   and the prompt-configured generic agent, and [`agent::runner`], which drives one task
//!   through prompt → LLM → validated proposal (one corrective retry) → confidence → policy.
//! - [`proposal`]: the structured output every agent asks for.
//! - [`llm`]: the LLM client trait, the OpenAI-compatible client and the offline stand-in.
//! - [`confidence`], [`policy`], [`routing`]: scoring, what always needs a person, and where
//!   a result goes.
//! - [`workflow`], [`spec`]: workflow and agent configuration.

pub mod agent;
pub mod confidence;
pub mod injection;
pub mod llm;
pub mod onboarding;
pub mod policy;
pub mod proposal;
pub mod routing;
pub mod spec;
pub mod task;
pub mod workflow;
