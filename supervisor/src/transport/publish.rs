//! Publishing one message that must not be lost: persistent, `mandatory` (a message no queue
//! would take comes back instead of vanishing), and confirmed by the broker.

use crate::hitl::queues::QueueOut;
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
