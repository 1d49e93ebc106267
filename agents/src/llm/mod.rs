//! The LLM behind a trait: [`openai::OpenAiLlm`] for any OpenAI-compatible endpoint,
//! [`offline::OfflineLlm`] for machines without one.

pub mod backoff;
pub mod offline;
pub mod openai;

use async_trait::async_trait;
use std::time::Duration;

/// One structured-output request.
#[derive(Debug, Clone)]
pub struct LlmRequest {
    pub system: String,
    pub user: String,
    /// Name of the output schema (`order_proposal`, …).
    pub schema_name: String,
    /// JSON schema the answer must follow.
    pub schema: serde_json::Value,
    /// The deterministic answer the offline stand-in gives; only set when it is in use.
    pub offline_answer: Option<String>,
}

impl LlmRequest {
    /// The same request with a corrective note after an invalid answer.
    pub fn corrected(&self, bad_answer: &str, problem: &str) -> Self {
        let mut next = self.clone();
        next.user = format!(
            "{}\n\nYour previous answer was not valid: {problem}\nPrevious answer:\n{bad_answer}\n\
             Answer again with JSON that follows the schema exactly.",
            self.user
        );
        next
    }
}

/// The model's answer.
#[derive(Debug, Clone, Default)]
pub struct LlmReply {
    pub content: String,
    /// Log-probabilities of the answer's tokens, when the endpoint returned them.
    pub logprobs: Vec<f64>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// HTTP attempts this answer took (1 without retries).
    pub attempts: u32,
}

/// Why no answer came.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// 429, 5xx, timeouts, connection failures, every attempt: worth retrying the task later.
    #[error("LLM endpoint kept failing after {attempts} attempts: {last}")]
    Exhausted { attempts: u32, last: String, retry_after: Option<Duration> },
    /// The overall deadline passed.
    #[error("LLM deadline of {0:?} passed")]
    Deadline(Duration),
    /// A 4xx other than 429, or a request that cannot succeed: retrying cannot help.
    #[error("LLM endpoint refused the request: {0}")]
    Refused(String),
}

impl LlmError {
    /// True when a later retry of the task may succeed.
    pub fn is_transient(&self) -> bool {
        !matches!(self, Self::Refused(_))
    }

    /// The wait the endpoint asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Exhausted { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// What the client is, for /health, events and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmInfo {
    /// `offline` or `openai-compatible`.
    pub provider: &'static str,
    pub model: String,
}

impl LlmInfo {
    pub fn is_offline(&self) -> bool {
        self.provider == offline::PROVIDER
    }
}

#[async_trait]
pub trait LlmClient: Send + Sync {
    async fn complete(&self, request: &LlmRequest) -> Result<LlmReply, LlmError>;
    fn info(&self) -> LlmInfo;
}
