//! The demo's model: the configured LLM (the offline stand-in unless `--llm` names an
//! endpoint), except that the first call for a task marked [`super::mix::FLAKY`] fails as an
//! overloaded endpoint would, so the demo shows a transient failure retried through the tiers.

use super::mix::FLAKY;
use async_trait::async_trait;
use overseer_agents::llm::{LlmClient, LlmError, LlmInfo, LlmReply, LlmRequest};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

pub(super) struct FlakyLlm {
    pub(super) inner: Arc<dyn LlmClient>,
    failed: Mutex<HashSet<String>>,
    /// Calls failed on purpose.
    pub(super) failures: AtomicU64,
}

impl FlakyLlm {
    pub(super) fn new(inner: Arc<dyn LlmClient>) -> Self {
        Self { inner, failed: Mutex::default(), failures: AtomicU64::new(0) }
    }

    /// The marker in the request, if any (`retry-demo-<n>`).
    fn marker(request: &LlmRequest) -> Option<String> {
        let at = request.user.find(FLAKY)?;
        let rest = &request.user[at..];
        let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).unwrap_or(rest.len());
        Some(rest[..end].to_string())
    }
}

#[async_trait]
impl LlmClient for FlakyLlm {
    async fn complete(&self, request: &LlmRequest) -> Result<LlmReply, LlmError> {
        if let Some(marker) = Self::marker(request) {
            let first = self.failed.lock().unwrap_or_else(PoisonError::into_inner).insert(marker);
            if first {
                self.failures.fetch_add(1, Ordering::Relaxed);
                return Err(LlmError::Exhausted {
                    attempts: 1,
                    last: "503 Service Unavailable (the demo's injected failure)".into(),
                    retry_after: None,
                });
            }
        }
        self.inner.complete(request).await
    }

    fn info(&self) -> LlmInfo {
        self.inner.info()
    }
}
