//! # overseer-supervisor
//!
//! Everything in overseer that does I/O: configuration loading, the broker topology that
//! `overseer setup` declares, and (as it grows) the actor tree, transports, event sink,
//! decision store and HTTP APIs. Domain logic lives in `overseer-agents`; this crate wires it
//! to RabbitMQ, Redis and Kafka.
//!
//! Layout:
//! - [`config`]: typed configuration, loaded from `config/*.toml` and `OVERSEER__…` variables.
//! - [`redact`]: masking secrets in URLs and client settings before anything prints them.
//! - [`connect`]: opening broker connections, with errors that name the service and URL.
//! - [`setup`]: `overseer setup`, declaring queues, exchanges and topics idempotently.

pub mod config;
pub mod connect;
pub mod redact;
pub mod setup;
