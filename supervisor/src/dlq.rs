//! `overseer dlq list|show|replay`: operators look at dead letters and send them back.
//! Looking never removes anything: messages are fetched unacknowledged and handed back when
//! the channel closes. Replay publishes the task (or an edited body) to its queue with a
//! confirm, forgets the task's recorded outcome, and only then removes the dead letter.

use crate::config::Config;
use crate::connect::{self, Unreachable};
use crate::hitl::redis_store::RedisStore;
use crate::ledger::redis_ledger::RedisLedger;
use crate::ledger::Ledger;
use crate::setup::desired::dlq_name;
use crate::transport::headers;
use crate::transport::publish::confirmed;
use lapin::message::BasicGetMessage;
use lapin::options::{BasicAckOptions, BasicGetOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel};

#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
    #[error("queue `{0}` is not configured")]
    UnknownQueue(String),
    #[error("no dead letter with task_id `{0}` in {1}")]
    NotFound(String, String),
    #[error("the replacement body is not a task: {0}")]
    BadBody(String),
    #[error("RabbitMQ: {0}")]
    Amqp(String),
    #[error("the ledger: {0}")]
    Ledger(String),
}

/// One dead letter, as shown to an operator.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeadLetter {
    pub task_id: Option<String>,
    pub reason: Option<String>,
    pub attempts: Option<String>,
    pub last_error: Option<String>,
    pub body: String,
}

fn header(props: &BasicProperties, key: &str) -> Option<String> {
    let table = props.headers().as_ref()?;
    match table.inner().get(&lapin::types::ShortString::from(key))? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::LongInt(n) => Some(n.to_string()),
        other => Some(format!("{other:?}")),
    }
}

fn describe(message: &BasicGetMessage) -> DeadLetter {
    let body = String::from_utf8_lossy(&message.delivery.data).into_owned();
    let task_id = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("task_id").and_then(serde_json::Value::as_str).map(str::to_string));
    let props = &message.delivery.properties;
    DeadLetter {
        task_id,
        reason: header(props, headers::REASON),
        attempts: header(props, headers::ATTEMPTS),
        last_error: header(props, headers::LAST_ERROR),
        body,
    }
}

struct Session {
    conn: lapin::Connection,
    channel: Channel,
    dlq: String,
    amqp_url: String,
}

impl Session {
    async fn open(config: &Config, queue: &str) -> Result<Self, DlqError> {
        if !config.queues.contains_key(queue) {
            return Err(DlqError::UnknownQueue(queue.to_string()));
        }
        let conn = connect::amqp(&config.connections.amqp, "overseer-dlq").await?;
        let amqp_url = config.connections.amqp.url.clone();
        let channel = conn.create_channel().await.map_err(|e| amqp(&amqp_url, e))?;
        Ok(Self { conn, channel, dlq: dlq_name(queue), amqp_url })
    }

    /// Every dead letter, fetched unacknowledged (handed back when the session closes).
    async fn fetch_all(&self) -> Result<Vec<BasicGetMessage>, DlqError> {
        let depth = self
            .channel
            .queue_declare(
                self.dlq.as_str().into(),
                QueueDeclareOptions { passive: true, ..Default::default() },
                FieldTable::default(),
            )
            .await
            .map_err(|e| amqp(&self.amqp_url, e))?
            .message_count();
        let mut out = Vec::new();
        for _ in 0..depth {
            match self.channel.basic_get(self.dlq.as_str().into(), BasicGetOptions { no_ack: false }).await {
                Ok(Some(message)) => out.push(message),
                Ok(None) => break,
                Err(e) => return Err(amqp(&self.amqp_url, e)),
            }
        }
        Ok(out)
    }

    async fn close(self) {
        let _ = self.channel.close(200, "done".into()).await;
        let _ = self.conn.close(200, "done".into()).await;
    }
}

fn amqp(url: &str, e: lapin::Error) -> DlqError {
    DlqError::Amqp(crate::redact::scrub(&e.to_string(), url))
}

/// The dead letters of `queue`, oldest first; nothing is removed.
pub async fn list(config: &Config, queue: &str) -> Result<Vec<DeadLetter>, DlqError> {
    let session = Session::open(config, queue).await?;
    let letters = session.fetch_all().await.map(|all| all.iter().map(describe).collect());
    session.close().await;
    letters
}

/// Sends the dead letters of `queue` with these task_ids (all when `task_ids` is empty) back
/// to the queue, each with `replacement` as its body when given. Returns the replayed task_ids.
pub async fn replay(
    config: &Config,
    queue: &str,
    task_ids: &[String],
    replacement: Option<&serde_json::Value>,
) -> Result<Vec<String>, DlqError> {
    if let Some(body) = replacement {
        let bytes = serde_json::to_vec(body).map_err(|e| DlqError::BadBody(e.to_string()))?;
        overseer_agents::task::Task::decode(
            &bytes,
            overseer_agents::task::TaskLimits {
                max_bytes: config.limits.max_task_bytes,
                max_depth: config.limits.max_json_depth,
            },
        )
        .map_err(|e| DlqError::BadBody(e.to_string()))?;
    }
    let c = &config.connections.redis;
    let store = RedisStore::connect(&c.url, &c.key_prefix, c.connect_timeout)
        .await
        .map_err(|e| Unreachable::new("Redis", &c.url, e))?;
    let ledger = RedisLedger::new(store.connection(), &c.key_prefix);
    let session = Session::open(config, queue).await?;
    let result = replay_in(&session, &ledger, queue, task_ids, replacement).await;
    session.close().await;
    result
}

async fn replay_in(
    session: &Session,
    ledger: &RedisLedger,
    queue: &str,
    task_ids: &[String],
    replacement: Option<&serde_json::Value>,
) -> Result<Vec<String>, DlqError> {
    session
        .channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| amqp(&session.amqp_url, e))?;
    let mut replayed = Vec::new();
    for message in session.fetch_all().await? {
        let letter = describe(&message);
        let Some(id) = letter.task_id.clone() else { continue };
        if !task_ids.is_empty() && !task_ids.contains(&id) {
            continue;
        }
        let body = match replacement {
            Some(value) => serde_json::to_vec(value).map_err(|e| DlqError::BadBody(e.to_string()))?,
            None => message.delivery.data.clone(),
        };
        let new_id = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("task_id").and_then(serde_json::Value::as_str).map(str::to_string))
            .unwrap_or_else(|| id.clone());
        // The outcome `dead_lettered` would make the replay a duplicate: forget it first.
        ledger.forget(&new_id).await.map_err(|e| DlqError::Ledger(e.to_string()))?;
        let props = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_message_id(new_id.as_str().into());
        let taken = confirmed(&session.channel, "", queue, &body, props)
            .await
            .map_err(|e| amqp(&session.amqp_url, e))?;
        if !taken {
            return Err(DlqError::Amqp(format!(
                "the replay of {id} was not confirmed; it stays dead-lettered"
            )));
        }
        message.delivery.ack(BasicAckOptions::default()).await.map_err(|e| amqp(&session.amqp_url, e))?;
        replayed.push(id);
    }
    if replayed.is_empty() {
        if let Some(id) = task_ids.first() {
            return Err(DlqError::NotFound(id.clone(), session.dlq.clone()));
        }
    }
    Ok(replayed)
}
