//! Publishing one message that must not be lost: persistent, `mandatory` (a message no queue
//! would take comes back instead of vanishing), and confirmed by the broker.

use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Channel, Confirmation};

/// Publishes on a channel in confirm mode; true only when the broker took the message into a
/// queue (acked and not returned as unroutable).
pub async fn confirmed(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    props: BasicProperties,
) -> Result<bool, lapin::Error> {
    let options = BasicPublishOptions { mandatory: true, ..Default::default() };
    let confirm = channel
        .basic_publish(exchange.into(), routing_key.into(), options, body, props.with_delivery_mode(2))
        .await?
        .await?;
    Ok(matches!(confirm, Confirmation::Ack(None)))
}

/// Where whole messages for a queue go (RabbitMQ in production, memory in tests and the
/// demo): escalations to `hitl_exceptions`, training records to `hitl_training`.
#[async_trait::async_trait]
pub trait QueueOut: Send + Sync {
    /// Returns once the message is durable in `queue`.
    async fn send(&self, queue: &str, body: &[u8], message_id: &str) -> Result<(), String>;
}

#[async_trait::async_trait]
impl QueueOut for super::link::AmqpLink {
    async fn send(&self, queue: &str, body: &[u8], message_id: &str) -> Result<(), String> {
        let conn = self.connection().await.map_err(|e| e.to_string())?;
        let channel = conn.create_channel().await.map_err(|e| e.to_string())?;
        channel
            .confirm_select(lapin::options::ConfirmSelectOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        let props = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_message_id(message_id.into());
        let taken = confirmed(&channel, "", queue, body, props).await.map_err(|e| e.to_string());
        let _ = channel.close(200, "sent".into()).await;
        match taken? {
            true => Ok(()),
            false => Err(format!("the broker did not take the message into `{queue}`")),
        }
    }
}

/// Messages kept in memory by queue (unit tests, the embedded demo).
#[derive(Debug, Default)]
pub struct MemoryQueues {
    pub sent: std::sync::Mutex<Vec<(String, Vec<u8>)>>,
}

#[async_trait::async_trait]
impl QueueOut for MemoryQueues {
    async fn send(&self, queue: &str, body: &[u8], _message_id: &str) -> Result<(), String> {
        self.sent.lock().map_err(|_| "poisoned".to_string())?.push((queue.to_string(), body.to_vec()));
        Ok(())
    }
}
