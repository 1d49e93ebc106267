//! The offline stand-in: answers with the deterministic proposal the agent derived from the
//! task itself, so a fresh machine runs end to end with no endpoint and no API key. Its
//! answers are labelled: the provider is `offline` in events, logs and /health.

use super::{LlmClient, LlmError, LlmInfo, LlmReply, LlmRequest};
use async_trait::async_trait;

pub const PROVIDER: &str = "offline";

#[derive(Debug, Default, Clone)]
pub struct OfflineLlm;

#[async_trait]
impl LlmClient for OfflineLlm {
    async fn complete(&self, request: &LlmRequest) -> Result<LlmReply, LlmError> {
        let content = request.offline_answer.clone().ok_or_else(|| {
            LlmError::Refused("the offline stand-in needs the agent's offline answer".into())
        })?;
        Ok(LlmReply { content, attempts: 1, ..Default::default() })
    }

    fn info(&self) -> LlmInfo {
        LlmInfo { provider: PROVIDER, model: "offline-deterministic".into() }
    }
}
