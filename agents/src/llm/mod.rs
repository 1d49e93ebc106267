//! The LLM behind a trait: [`openai::OpenAiLlm`] for any OpenAI-compatible endpoint,
//! [`offline::OfflineLlm`] for machines without one.

pub mod backoff;
pub mod offline;
pub mod openai;
mod plain_http;
mod reply_body;
mod request_body;

use async_trait::async_trait;
use serde_json::value::RawValue;
use std::sync::Arc;
use std::time::Duration;

/// What every request of one agent shares, built once per agent: the system message and the
/// output schema, each also as the JSON it is sent as (so no task pays for encoding them).
#[derive(Debug)]
pub struct SharedPrompt {
    pub system: String,
    /// Name of the output schema (`order_proposal`, …).
    pub schema_name: String,
    /// None only if the text could not be encoded (never for a `String`): then it is encoded
    /// with each request.
    system_json: Option<Box<RawValue>>,
    schema_json: Box<RawValue>,
}

impl SharedPrompt {
    /// `schema` is the JSON schema the answer must follow (schemars' output, not outside data).
    pub fn new(system: String, schema_name: String, schema: &serde_json::Value) -> Self {
        Self {
            system_json: serde_json::value::to_raw_value(&system).ok(),
            // A `Value` always encodes: its map keys are strings and its numbers finite.
            schema_json: serde_json::value::to_raw_value(schema).expect("a JSON value encodes"),
            system,
            schema_name,
        }
    }

    /// The system message as a JSON string, when encoded ahead.
    pub fn system_json(&self) -> Option<&RawValue> {
        self.system_json.as_deref()
    }

    /// The output schema as JSON.
    pub fn schema_json(&self) -> &RawValue {
        &self.schema_json
    }
}

/// One structured-output request.
#[derive(Debug, Clone)]
pub struct LlmRequest {
    /// The agent's system message and output schema.
    pub prompt: Arc<SharedPrompt>,
    pub user: String,
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
