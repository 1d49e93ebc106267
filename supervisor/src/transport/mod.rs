//! The RabbitMQ side of a task: turning an [`Outcome`](crate::pipeline::Outcome) into an ack,
//! a delayed retry through the retry tiers, a dead letter, or a requeue.

pub mod headers;
pub mod link;
pub mod plan;
pub mod publish;
pub mod settle;
