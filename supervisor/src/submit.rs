//! `overseer submit`: publishes tasks to a queue with publisher confirms, the way producers
//! are expected to (CONTRACT.md: JSON, persistent, message_id = task_id).

use crate::config::Config;
use crate::connect::{self, Unreachable};
use indicatif::ProgressBar;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Confirmation};
use std::io::IsTerminal;

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
    #[error("{0}")]
    BadTask(String),
    #[error("queue `{0}` is not configured")]
    UnknownQueue(String),
    #[error("RabbitMQ: {0}")]
    Amqp(String),
    #[error(
        "task {0} was returned unroutable: queue `{1}` does not exist on this broker (run `overseer setup`)"
    )]
    Unroutable(String, String),
    #[error("RabbitMQ did not confirm task {0}")]
    NotConfirmed(String),
}

/// The bodies to publish: the task itself, or `count` copies with `-1`…`-count` appended to
/// their task_id (so each is a task of its own).
pub fn bodies(task: &serde_json::Value, count: usize) -> Result<Vec<(String, Vec<u8>)>, SubmitError> {
    let id = task
        .get("task_id")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| SubmitError::BadTask("the task has no task_id string".into()))?;
    if task.get("payload").and_then(serde_json::Value::as_object).is_none() {
        return Err(SubmitError::BadTask("the task has no payload object".into()));
    }
    (1..=count.max(1))
        .map(|i| {
            let mut copy = task.clone();
            let task_id = if count > 1 { format!("{id}-{i}") } else { id.to_string() };
            copy["task_id"] = task_id.clone().into();
            serde_json::to_vec(&copy).map(|b| (task_id, b)).map_err(|e| SubmitError::BadTask(e.to_string()))
        })
        .collect()
}

pub async fn run(
    config: &Config,
    queue: &str,
    task: &serde_json::Value,
    count: usize,
) -> Result<usize, SubmitError> {
    if !config.queues.contains_key(queue) {
        return Err(SubmitError::UnknownQueue(queue.to_string()));
    }
    let bodies = bodies(task, count)?;
    let priority =
        task.get("priority").and_then(serde_json::Value::as_u64).and_then(|p| u8::try_from(p).ok());
    let conn = connect::amqp(&config.connections.amqp, "overseer-submit").await?;
    let amqp = |e: lapin::Error| {
        SubmitError::Amqp(crate::redact::scrub(&e.to_string(), &config.connections.amqp.url))
    };
    let channel = conn.create_channel().await.map_err(amqp)?;
    channel.confirm_select(ConfirmSelectOptions::default()).await.map_err(amqp)?;
    let bar =
        (bodies.len() > 1 && std::io::stderr().is_terminal()).then(|| ProgressBar::new(bodies.len() as u64));
    // Publish in windows: many publishes in flight, each window's confirms awaited together.
    for window in bodies.chunks(256) {
        let mut confirms = Vec::with_capacity(window.len());
        for (task_id, body) in window {
            let mut props = BasicProperties::default()
                .with_content_type("application/json".into())
                .with_delivery_mode(2)
                .with_message_id(task_id.as_str().into());
            if let Some(p) = priority {
                props = props.with_priority(p);
            }
            let confirm = channel
                .basic_publish(
                    "".into(),
                    queue.into(),
                    BasicPublishOptions { mandatory: true, ..Default::default() },
                    body,
                    props,
                )
                .await
                .map_err(amqp)?;
            confirms.push((task_id, confirm));
        }
        for (task_id, confirm) in confirms {
            match confirm.await.map_err(amqp)? {
                Confirmation::Ack(None) => {}
                // Mandatory and routed nowhere: the queue is not declared on this broker/vhost.
                Confirmation::Ack(Some(_)) => {
                    return Err(SubmitError::Unroutable(task_id.clone(), queue.to_string()))
                }
                _ => return Err(SubmitError::NotConfirmed(task_id.clone())),
            }
            if let Some(bar) = &bar {
                bar.inc(1);
            }
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let _ = conn.close(200, "submitted".into()).await;
    Ok(bodies.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_get_numbered_task_ids_and_bad_tasks_are_refused() {
        let task = serde_json::json!({"task_id": "t", "payload": {}});
        let ids: Vec<_> = bodies(&task, 3).expect("ok").into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, ["t-1", "t-2", "t-3"]);
        assert_eq!(bodies(&task, 1).expect("ok")[0].0, "t");
        assert!(bodies(&serde_json::json!({"payload": {}}), 1).is_err());
        assert!(bodies(&serde_json::json!({"task_id": "t"}), 1).is_err());
    }
}
