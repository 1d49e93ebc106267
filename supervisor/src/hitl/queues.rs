//! Where the outbox sends whole messages (escalations to `hitl_exceptions`, training records
//! to `hitl_training`): the port the HITL service needs, implemented on RabbitMQ by the
//! transport and in memory here.

/// Where whole messages for a queue go (RabbitMQ in production, memory in tests and the
/// demo): escalations to `hitl_exceptions`, training records to `hitl_training`.
#[async_trait::async_trait]
pub trait QueueOut: Send + Sync {
    /// Returns once the message is durable in `queue`.
    async fn send(&self, queue: &str, body: &[u8], message_id: &str) -> Result<(), String>;
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
