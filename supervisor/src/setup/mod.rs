//! `overseer setup`: declare the RabbitMQ exchanges and queues and create the Kafka topics the
//! configuration describes. Idempotent, and all-or-nothing about conflicts: everything is
//! inspected first, and if any existing object differs from the configuration, setup reports
//! each conflict (both settings) and changes nothing anywhere.
//!
//! - [`desired`]: the objects, computed from the config (no I/O).
//! - `amqp`, `kafka`: inspecting and creating on each broker.
//! - [`management`]: the RabbitMQ management API, for the arguments of a conflicting queue.
//! - [`plan`], `report`: the plan and how it is shown.

mod amqp;
pub mod desired;
mod kafka;
pub mod management;
pub mod plan;
mod report;

use crate::config::Config;
use crate::connect::{self, Unreachable};
use desired::Desired;
use plan::Plan;
use report::Reporter;

/// Why setup could not finish.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
    #[error("RabbitMQ refused a declaration: {0}")]
    Amqp(String),
    #[error("Kafka refused a topic creation: {0}")]
    Kafka(String),
}

/// Runs setup. `Ok(false)` when conflicts were found (and reported); nothing was changed then.
pub async fn run(config: &Config, dry_run: bool) -> Result<bool, SetupError> {
    let desired = Desired::from_config(config);
    let amqp_config = &config.connections.amqp;
    let conn = connect::amqp(amqp_config, "overseer-setup").await?;
    let (admin, cluster) = connect::kafka_admin(&config.connections.kafka).await?;

    let mut steps = amqp::inspect(&conn, amqp_config, &desired)
        .await
        .map_err(|e| SetupError::Amqp(crate::redact::scrub(&e.to_string(), &amqp_config.url)))?;
    let (topic_steps, warnings) = kafka::inspect(&desired.topics, &cluster);
    steps.extend(topic_steps);
    let plan = Plan { steps, warnings };

    let reporter = Reporter::new(if dry_run { 0 } else { plan.creates().count() });
    for warning in &plan.warnings {
        reporter.line(&format!("warning: {warning}"));
    }
    if dry_run || plan.has_conflicts() {
        for line in report::plan_lines(&plan) {
            reporter.line(&line);
        }
    }
    let total = plan.steps.len();
    let creates = plan.creates().count();
    if plan.has_conflicts() {
        let n = plan.conflicts().count();
        reporter.line(&format!(
            "setup: {n} conflict{} with existing objects; nothing was changed. Fix the configuration or the broker, then run setup again.",
            if n == 1 { "" } else { "s" }
        ));
        let _ = conn.close(200, "conflicts".into()).await;
        return Ok(false);
    }
    if dry_run {
        reporter.line(&format!(
            "dry run: {creates} to create, {} unchanged; nothing was changed",
            total - creates
        ));
        let _ = conn.close(200, "dry run".into()).await;
        return Ok(true);
    }
    if creates == 0 {
        reporter.line(&format!("setup: nothing to change; all {total} objects already exist as configured"));
    }
    amqp::apply(&conn, &desired, &plan.steps, |step| reporter.created(step))
        .await
        .map_err(|e| SetupError::Amqp(crate::redact::scrub(&e.to_string(), &amqp_config.url)))?;
    kafka::apply(&admin, &desired.topics, &cluster, &plan.steps, |step| reporter.created(step))
        .await
        .map_err(SetupError::Kafka)?;
    reporter.finish();
    if creates > 0 {
        println!("setup: created {creates}, {} already as configured", total - creates);
    }
    let _ = conn.close(200, "setup done".into()).await;
    Ok(true)
}
