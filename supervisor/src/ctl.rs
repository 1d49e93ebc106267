//! `overseer ctl`: one command to every replica (or one) through the `overseer.control` fanout
//! exchange, and each replica's reply, collected for `--timeout`. Replies are matched by the
//! command's id (RabbitMQ direct reply-to), so two operators' commands never mix. Replicas
//! that noted themselves in the registry lately and did not answer are named (a replica that
//! drained leaves the registry). pause, resume, scale and prefetch sent to every replica are
//! also remembered for the cluster (as the API's `scope=cluster`), so replicas that start later
//! come up the same way; clear sent to every replica clears that record.

use crate::config::Config;
use crate::connect::{self, Unreachable};
use crate::control::command::{Command, Reply, Verb};
use crate::control::remembered::{clear_now, remember_now, RedisControl, RememberedControl};
use crate::hitl::redis_store::RedisStore;
use crate::setup::desired::CONTROL_EXCHANGE;
use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions};
use lapin::types::FieldTable;
use lapin::BasicProperties;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// RabbitMQ's direct reply-to pseudo-queue.
const REPLY_TO: &str = "amq.rabbitmq.reply-to";
/// Who the remembered changes name.
const BY: &str = "overseer ctl";
/// A replica that noted itself this recently is expected to answer.
const RECENT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
    #[error("RabbitMQ: {0}")]
    Amqp(String),
    #[error("{0}")]
    Bad(String),
}

/// What came back.
#[derive(Debug, Default)]
pub struct Report {
    pub replies: Vec<Reply>,
    /// Replicas seen lately (registry) that did not answer in time.
    pub silent: Vec<String>,
}

/// Sends `command`, waits `wait` for replies.
pub async fn run(config: &Config, command: &Command, wait: Duration) -> Result<Report, CtlError> {
    let change = command.change().map_err(CtlError::Bad)?;
    let redis = &config.connections.redis;
    let ca = connect::redis_ca(redis).map_err(CtlError::Bad)?;
    let store = RedisStore::connect_with_ca(&redis.url, ca, &redis.key_prefix, redis.connect_timeout)
        .await
        .map_err(|e| Unreachable::new("Redis", &redis.url, e))?;
    let registry = RedisControl::new(store.connection(), &redis.key_prefix);
    if let Some(q) = command.queue.as_ref().filter(|q| !config.queues.contains_key(*q)) {
        return Err(CtlError::Bad(format!("`{q}` is not a configured queue")));
    }
    let queues: Vec<String> = match &command.queue {
        Some(q) => vec![q.clone()],
        None => config.queues.keys().cloned().collect(),
    };
    if command.replica.is_none() {
        for q in &queues {
            let remembered = match (change, command.verb) {
                (Some(change), _) => remember_now(&registry, q, &[change], BY).await,
                (None, Verb::Clear) => clear_now(&registry, q, BY).await,
                _ => Ok(()),
            };
            remembered.map_err(|e| Unreachable::new("Redis", &redis.url, e))?;
        }
    }
    let amqp =
        |e: lapin::Error| CtlError::Amqp(crate::redact::scrub(&e.to_string(), &config.connections.amqp.url));
    let conn = connect::amqp(&config.connections.amqp, "overseer-ctl").await?;
    let channel = conn.create_channel().await.map_err(amqp)?;
    let options = BasicConsumeOptions { no_ack: true, ..Default::default() };
    let mut replies = channel
        .basic_consume(REPLY_TO.into(), "".into(), options, FieldTable::default())
        .await
        .map_err(amqp)?;
    let body = serde_json::to_vec(command).map_err(|e| CtlError::Bad(e.to_string()))?;
    let props = BasicProperties::default()
        .with_reply_to(REPLY_TO.into())
        .with_correlation_id(command.id.as_str().into())
        .with_content_type("application/json".into());
    channel
        .basic_publish(CONTROL_EXCHANGE.into(), "".into(), BasicPublishOptions::default(), &body, props)
        .await
        .map_err(amqp)?;
    let mut report = Report::default();
    let deadline = Instant::now() + wait;
    while let Ok(Some(Ok(delivery))) =
        tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), replies.next()).await
    {
        let ours = delivery.properties.correlation_id().as_ref().is_some_and(|c| c.as_str() == command.id);
        if let (true, Ok(reply)) = (ours, serde_json::from_slice::<Reply>(&delivery.data)) {
            report.replies.push(reply);
        }
    }
    let _ = conn.close(200, "done".into()).await;
    let now = crate::hitl::decision::unix_ms(std::time::SystemTime::now());
    let seen: BTreeMap<String, u64> = registry.replicas().await.unwrap_or_default();
    report.silent = seen
        .into_iter()
        .filter(|(_, at)| now.saturating_sub(*at) <= RECENT.as_millis() as u64)
        .map(|(id, _)| id)
        .filter(|id| command.replica.as_deref().is_none_or(|r| r == id || id.starts_with(&format!("{r}:"))))
        .filter(|id| !report.replies.iter().any(|r| &r.replica.id == id))
        .collect();
    Ok(report)
}

/// A verb from its command-line name.
pub fn verb(name: &str) -> Result<Verb, String> {
    serde_json::from_value(serde_json::Value::String(name.to_string()))
        .map_err(|_| format!("`{name}` is not one of tree, pause, resume, scale, prefetch, clear, drain"))
}
