//! The audit log in memory (unit tests, the embedded demo), capped like the Redis one.

use super::{AccessRecord, AuditLog, Stream};
use crate::store::StoreError;
use async_trait::async_trait;
use std::collections::VecDeque;
use std::sync::Mutex;

pub struct MemoryAudit {
    keep: usize,
    streams: Mutex<[VecDeque<AccessRecord>; 2]>,
    next: std::sync::atomic::AtomicU64,
}

impl MemoryAudit {
    pub fn new(keep: usize) -> Self {
        Self { keep, streams: Mutex::new([VecDeque::new(), VecDeque::new()]), next: Default::default() }
    }
}

fn index(s: Stream) -> usize {
    match s {
        Stream::Actions => 0,
        Stream::Denied => 1,
    }
}

#[async_trait]
impl AuditLog for MemoryAudit {
    async fn append(&self, stream: Stream, record: &AccessRecord) -> Result<String, StoreError> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!("{n:019}-0"); // shaped like a Redis stream id, as cursors are
        let mut all = self.streams.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        let s = &mut all[index(stream)];
        s.push_front(AccessRecord { audit_id: id.clone(), ..record.clone() });
        s.truncate(self.keep);
        Ok(id)
    }

    async fn page(
        &self,
        stream: Stream,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AccessRecord>, StoreError> {
        let all = self.streams.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        Ok(all[index(stream)]
            .iter()
            .filter(|r| before.is_none_or(|b| r.audit_id.as_str() < b))
            .take(limit)
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{query, Filter};
    use super::*;

    fn rec(subject: &str, outcome: &str) -> AccessRecord {
        AccessRecord {
            audit_id: String::new(),
            at: crate::events::event::now(),
            subject: Some(subject.into()),
            role: None,
            action: "POST /x".into(),
            target: "/x".into(),
            outcome: outcome.into(),
            status: 200,
            reason: None,
            before: None,
            after: None,
            client: None,
        }
    }

    #[tokio::test]
    async fn queries_filter_page_and_stay_capped() {
        let log = MemoryAudit::new(100);
        for i in 0..150 {
            log.append(Stream::Actions, &rec(if i % 2 == 0 { "ada" } else { "bob" }, "ok"))
                .await
                .expect("append");
        }
        log.append(Stream::Denied, &rec("eve", "unauthenticated")).await.expect("append");
        let f = Filter { subject: Some("ada".into()), ..Filter::default() };
        let (first, next) = query(&log, Stream::Actions, &f, None, 30).await.expect("query");
        assert_eq!(first.len(), 30);
        assert!(first.iter().all(|r| r.subject.as_deref() == Some("ada")));
        let (rest, end) = query(&log, Stream::Actions, &f, next, 100).await.expect("query");
        assert_eq!(rest.len(), 20, "100 kept, half of them ada's");
        assert_eq!(end, None);
        assert!(first
            .iter()
            .chain(&rest)
            .zip(first.iter().chain(&rest).skip(1))
            .all(|(a, b)| a.audit_id > b.audit_id));
        let (denied, _) = query(&log, Stream::Denied, &Filter::default(), None, 10).await.expect("query");
        assert_eq!(denied.len(), 1, "the streams are apart");
    }
}
