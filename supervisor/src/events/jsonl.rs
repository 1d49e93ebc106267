//! Events appended to a JSON-lines file, one `{"topic", "key", "event"}` object per line: the
//! embedded demo's stand-in for Kafka, readable with `tail -f` and `jq`. An event is durable
//! once its line is written and flushed to the operating system (`publish` returns then), so
//! a task is acked after it as after a Kafka delivery report. The write is a plain blocking
//! append of one short line to the page cache, under a lock so lines never interleave.

use super::{EventSink, SinkError};
use async_trait::async_trait;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct JsonLinesSink {
    path: PathBuf,
    file: Mutex<File>,
}

impl JsonLinesSink {
    /// Appends to `path` (created when missing).
    pub fn open(path: &Path) -> Result<Self, SinkError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| SinkError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
        Ok(Self { path: path.to_path_buf(), file: Mutex::new(file) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[async_trait]
impl EventSink for JsonLinesSink {
    async fn publish(&self, topic: &str, key: &str, payload: &[u8]) -> Result<(), SinkError> {
        // The payload is one JSON value already (it holds no raw line break: JSON escapes them).
        if payload.contains(&b'\n') {
            return Err(SinkError::Refused("an event must be one line of JSON".into()));
        }
        let quoted = |s: &str| serde_json::to_vec(s).map_err(|e| SinkError::Refused(e.to_string()));
        let mut line = Vec::with_capacity(payload.len() + topic.len() + key.len() + 32);
        line.extend_from_slice(b"{\"topic\":");
        line.extend_from_slice(&quoted(topic)?);
        line.extend_from_slice(b",\"key\":");
        line.extend_from_slice(&quoted(key)?);
        line.extend_from_slice(b",\"event\":");
        line.extend_from_slice(payload);
        line.extend_from_slice(b"}\n");
        let mut file = self.file.lock().map_err(|_| SinkError::Unavailable("events file poisoned".into()))?;
        file.write_all(&line).map_err(|e| SinkError::Unavailable(e.to_string()))
    }

    async fn flush(&self, _timeout: std::time::Duration) -> Result<(), SinkError> {
        let file = self.file.lock().map_err(|_| SinkError::Unavailable("events file poisoned".into()))?;
        file.sync_data().map_err(|e| SinkError::Unavailable(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_event_is_one_line_of_topic_key_and_event_in_order() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("events.jsonl");
        let sink = JsonLinesSink::open(&path).expect("open");
        let event = |v: serde_json::Value| serde_json::to_vec(&v).expect("JSON");
        sink.publish("ai.completions", "t-1", &event(serde_json::json!({"a": "line\nbreak"})))
            .await
            .expect("publish");
        sink.publish("ai.errors", "t-2", &event(serde_json::json!({"b": 2}))).await.expect("publish");
        assert!(
            sink.publish("ai.errors", "t-3", b"{\"c\":\n1}").await.is_err(),
            "a raw line break is refused"
        );
        sink.flush(std::time::Duration::from_secs(1)).await.expect("flush");
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<serde_json::Value> =
            text.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(
            lines[0],
            serde_json::json!({"topic": "ai.completions", "key": "t-1", "event": {"a": "line\nbreak"}})
        );
        assert_eq!(lines[1]["topic"], "ai.errors");
    }
}
