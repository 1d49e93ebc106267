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
