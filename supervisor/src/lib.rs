//! # overseer-supervisor
//!
//! Everything in overseer that does I/O: configuration loading, the broker topology that
//! `overseer setup` declares, the actor tree that consumes tasks, the event sink, the decision
//! store and the HTTP API. Domain logic lives in `overseer-agents`; this crate wires it to
//! RabbitMQ, Redis and Kafka.
//!
//! Layout:
//! - [`config`]: typed configuration, loaded from `config/*.toml` and `OVERSEER__…` variables.
//! - [`setup`]: `overseer setup`, declaring queues, exchanges and topics idempotently.
//! - [`runtime`]: `overseer run`: builds the pieces below and runs them until shutdown.
//! - [`actors`]: the supervision tree (root → queue supervisors → consumers).
//! - [`pipeline`]: one task from body to durable outcome (agent, routing, effects).
//! - [`transport`]: acting on an outcome on RabbitMQ (ack, retry tier, dead letter, requeue).
//! - [`events`]: the event sink (Kafka, memory); [`hitl`]: the decision store (Redis, memory).
//! - [`workflows`]: the workflows as they are now (defaults + audited runtime changes).
//! - [`onboarding`]: the seed's lead intake, routed by the lead_processing workflow.
//! - [`http`], [`health`], [`metrics`]: the HTTP API, /health and /metrics.
//! - [`auth`]: verifying callers' tokens, roles, CSRF tokens, rate limits; [`audit`]: the
//!   access audit log (every mutating request, every authentication failure).
//! - [`control`]: what operators change on a running replica (pause, scale, prefetch, drain).
//! - [`connect`], [`redact`]: connections with clear errors; secrets masked before printing.

pub mod actors;
pub mod audit;
pub mod auth;
pub mod config;
pub mod connect;
pub mod control;
pub mod ctl;
pub mod demo;
pub mod dlq;
pub mod events;
pub mod faults;
pub mod health;
pub mod healthcheck;
pub mod hitl;
pub mod hitl_cli;
pub mod http;
pub mod ledger;
pub mod metrics;
pub mod onboarding;
pub mod pipeline;
pub mod redact;
pub mod runtime;
pub mod setup;
pub mod store;
pub mod submit;
pub mod transport;
pub mod workflows;
