//! Events kept in memory, for unit tests and the embedded demo.

use super::{EventSink, SinkError};
use async_trait::async_trait;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct MemorySink {
    events: Mutex<Vec<(String, String, serde_json::Value)>>,
}

impl MemorySink {
    /// (topic, key, event) in publish order.
    pub fn events(&self) -> Vec<(String, String, serde_json::Value)> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl EventSink for MemorySink {
    async fn publish(&self, topic: &str, key: &str, payload: &[u8]) -> Result<(), SinkError> {
        // Kept as JSON for the tests that read them; what is not JSON is refused, as Kafka's
        // consumers would.
        let event: serde_json::Value =
            serde_json::from_slice(payload).map_err(|e| SinkError::Refused(format!("not JSON: {e}")))?;
        self.events.lock().map_err(|_| SinkError::Unavailable("memory sink poisoned".into()))?.push((
            topic.to_string(),
            key.to_string(),
            event,
        ));
        Ok(())
    }

    async fn flush(&self, _timeout: std::time::Duration) -> Result<(), SinkError> {
        Ok(())
    }
}
