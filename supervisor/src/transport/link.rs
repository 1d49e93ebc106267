//! AmqpLink: the replica's one RabbitMQ connection, reopened on demand. Consumers ask it for
//! the connection when they start; after a broker outage the first consumer to restart opens
//! a new one and the others share it. Whether the link is up tells a queue supervisor that a
//! consumer's failure was the broker's outage, not the consumer's fault.

use crate::config::AmqpConfig;
use crate::connect::{self, Unreachable};
use lapin::Connection;
use std::sync::Arc;
use tokio::sync::Mutex;

pub struct AmqpLink {
    config: AmqpConfig,
    name: String,
    current: Mutex<Option<Arc<Connection>>>,
}

impl AmqpLink {
    pub fn new(config: AmqpConfig, name: &str) -> Self {
        Self { config, name: name.to_string(), current: Mutex::new(None) }
    }

    /// The open connection, or a new one when it is closed. One caller connects at a time.
    pub async fn connection(&self) -> Result<Arc<Connection>, Unreachable> {
        let mut current = self.current.lock().await;
        if let Some(conn) = current.as_ref().filter(|c| c.status().connected()) {
            return Ok(conn.clone());
        }
        let conn = Arc::new(connect::amqp(&self.config, &self.name).await?);
        tracing::info!("connected to RabbitMQ");
        *current = Some(conn.clone());
        Ok(conn)
    }

    /// True while the connection is open.
    pub async fn is_up(&self) -> bool {
        self.current.lock().await.as_ref().is_some_and(|c| c.status().connected())
    }

    pub async fn close(&self) {
        if let Some(conn) = self.current.lock().await.take() {
            let _ = conn.close(200, "shutdown".into()).await;
        }
    }
}
