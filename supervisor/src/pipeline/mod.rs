//! One task's way from message body to durable outcome, without any broker transport: decode,
//! agent run, routing, then the effect (events for an executed result, a parked decision for a
//! person). The transport (the consumer actor) turns the returned [`Outcome`] into an ack, a
//! delayed retry, a dead letter or a requeue.

mod context;
mod effects;
pub mod intake;
pub mod meters;
pub mod outcome;
pub mod processor;

pub use context::QueueContext;
pub use outcome::{Done, Outcome};
pub use processor::{Admitted, Decided, Pipeline, PipelineParts, TaskClaim};

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
