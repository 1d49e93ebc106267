//! Any OpenAI-compatible endpoint through async-openai's chat API.
//!
//! async-openai's own retry layer is replaced (its `middleware` feature) by a plain transport
//! that turns 429 and 5xx answers into [`HttpStatus`] errors carrying Retry-After, so that
//! this client alone decides about retries: exponential backoff with full jitter, at least the
//! Retry-After, a per-attempt timeout, an overall deadline, none on other 4xx; and a
//! concurrency limit on requests in flight. A plain `http://` endpoint no proxy covers is sent
//! straight through hyper (plain_http.rs); reqwest carries the others.
//!
//! Servers differ in what they accept (llama.cpp's Python server answers 500 to a
//! `json_schema` response format, OpenAI's reasoning models refuse `max_tokens`, others ignore
//! `max_completion_tokens`). The client starts with the full request (the schema as the
//! response format, both token limits, logprobs when configured) and, when an answer names one
//! of those parameters as the problem, drops it for good and asks again at once. The schema is
//! in the prompt as well, so `json_object` output still knows its shape.

use super::backoff::Backoff;
use super::plain_http::{read_whole, PlainHttp, Unanswered};
use super::reply_body::ChatReply;
use super::request_body::{ChatBody, Format, Message};
use super::{LlmClient, LlmError, LlmInfo, LlmReply, LlmRequest};
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use async_trait::async_trait;
use hyper_util::client::proxy::matcher::Matcher;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Settings of the OpenAI-compatible client.
#[derive(Debug, Clone)]
pub struct OpenAiSettings {
    pub base_url: String,
    pub model: String,
    /// The key itself (read from the environment by the caller); never logged.
    pub api_key: Option<String>,
    pub request_timeout: Duration,
    pub deadline: Duration,
    pub max_concurrency: usize,
    pub max_attempts: u32,
    /// Ask for token log-probabilities (not every endpoint supports them).
    pub logprobs: bool,
    /// The longest answer, in tokens (sent as `max_completion_tokens` and `max_tokens`).
    pub max_tokens: Option<u32>,
    pub backoff: Backoff,
}

/// A 429 or 5xx answer, with what the server said about waiting.
#[derive(Debug, thiserror::Error)]
#[error("HTTP {status}: {body}")]
pub struct HttpStatus {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: String,
}

pub struct OpenAiLlm {
    client: async_openai::Client<OpenAIConfig>,
    settings: OpenAiSettings,
    permits: Arc<Semaphore>,
    /// What the endpoint has not refused (yet).
    compat: Compat,
}

/// Request parameters an endpoint may refuse; each is dropped once it is named in an error.
#[derive(Debug)]
struct Compat {
    /// Cleared: `json_object` instead of `json_schema`.
    json_schema: AtomicBool,
    logprobs: AtomicBool,
    max_tokens: AtomicBool,
    max_completion_tokens: AtomicBool,
}

impl Compat {
    fn new() -> Self {
        Self {
            json_schema: AtomicBool::new(true),
            logprobs: AtomicBool::new(true),
            max_tokens: AtomicBool::new(true),
            max_completion_tokens: AtomicBool::new(true),
        }
    }

    /// The parameter an error names (its `param`, else its text), if it is one still sent:
    /// dropped from now on, and its name returned.
    fn drop_named(&self, param: Option<&str>, text: &str) -> Option<&'static str> {
        let names = |name: &str| match param {
            Some(p) => p == name || p.starts_with(&format!("{name}.")),
            None => text.contains(name),
        };
        let candidates: [(&'static str, &AtomicBool, bool); 4] = [
            ("json_schema", &self.json_schema, names("response_format") || names("json_schema")),
            ("logprobs", &self.logprobs, names("logprobs")),
            // OpenAI's "Unsupported parameter: 'max_tokens' ... use 'max_completion_tokens'"
            // names both; it is max_tokens that goes.
            ("max_tokens", &self.max_tokens, names("max_tokens")),
            (
                "max_completion_tokens",
                &self.max_completion_tokens,
                names("max_completion_tokens") && !names("max_tokens"),
            ),
        ];
        let (name, flag, _) =
            candidates.into_iter().find(|(_, flag, named)| *named && flag.load(Ordering::Relaxed))?;
        flag.store(false, Ordering::Relaxed);
        Some(name)
    }

    fn on(flag: &AtomicBool) -> bool {
        flag.load(Ordering::Relaxed)
    }
}

/// How one attempt ended.
enum Attempt {
    Done(ChatReply),
    Transient {
        why: String,
        retry_after: Option<Duration>,
    },
    Refused(String),
    /// A parameter the endpoint does not take was dropped: ask again now (not an attempt;
    /// bounded by the parameters there are to drop).
    Again,
}

impl OpenAiLlm {
    pub fn new(settings: OpenAiSettings) -> Result<Self, LlmError> {
        let plain =
            PlainHttp::for_endpoint(&settings.base_url, &Matcher::from_system(), settings.request_timeout)
                .map(Arc::new);
        let mut builder = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            // This client decides about retries; reqwest's own layer would copy every request's
            // headers and extensions to be able to resend it.
            .retry(reqwest::retry::never().max_retries_per_request(0));
        if plain.is_some() {
            // Every request goes through `plain`: this client never opens a TLS connection, so
            // the system's root certificates are not loaded for it.
            builder = builder.tls_certs_only(std::iter::empty());
        }
        let http =
            builder.build().map_err(|e| LlmError::Refused(format!("cannot build the HTTP client: {e}")))?;
        let http_for_async_openai = http.clone();
        let transport = tower::service_fn(move |factory: HttpRequestFactory| {
            let http = http.clone();
            let plain = plain.clone();
            async move {
                let request = factory.build().await?;
                let response = match plain {
                    Some(plain) => plain.send(request).await?,
                    None => {
                        let response = http.execute(request).await.map_err(OpenAIError::Reqwest)?;
                        let url = response.url().clone();
                        read_whole(http::Response::from(response), url)
                            .await
                            .map_err(|e| OpenAIError::Boxed(Box::new(e)))?
                    }
                };
                let status = response.status();
                if status.as_u16() == 429 || status.is_server_error() {
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<f64>().ok())
                        .filter(|secs| secs.is_finite() && *secs >= 0.0)
                        .map(Duration::from_secs_f64);
                    let body: String = response.text().await.unwrap_or_default().chars().take(300).collect();
                    return Err(OpenAIError::Boxed(Box::new(HttpStatus {
                        status: status.as_u16(),
                        retry_after,
                        body,
                    })));
                }
                Ok(response)
            }
        });
        let mut config = OpenAIConfig::new().with_api_base(settings.base_url.trim_end_matches('/'));
        if let Some(key) = &settings.api_key {
            config = config.with_api_key(key.clone());
        }
        // `build` takes our client (with_config would build, and keep, a second one).
        let client = async_openai::Client::build(http_for_async_openai, config).with_http_service(transport);
        Ok(Self {
            client,
            permits: Arc::new(Semaphore::new(settings.max_concurrency.max(1))),
            compat: Compat::new(),
            settings,
        })
    }

    fn chat_body<'a>(&'a self, request: &'a LlmRequest) -> ChatBody<'a> {
        let compat = &self.compat;
        let prompt = &request.prompt;
        ChatBody {
            model: &self.settings.model,
            messages: [Message::system(prompt), Message::user(&request.user)],
            response_format: if Compat::on(&compat.json_schema) {
                Format::schema(prompt)
            } else {
                Format::JsonObject
            },
            logprobs: (self.settings.logprobs && Compat::on(&compat.logprobs)).then_some(true),
            max_completion_tokens: self
                .settings
                .max_tokens
                .filter(|_| Compat::on(&compat.max_completion_tokens)),
            max_tokens: self.settings.max_tokens.filter(|_| Compat::on(&compat.max_tokens)),
        }
    }

    async fn attempt(&self, request: &LlmRequest) -> Attempt {
        let Ok(_permit) = self.permits.acquire().await else {
            return Attempt::Refused("the client is shutting down".into());
        };
        let body = self.chat_body(request);
        match self.client.chat().create_byot::<_, ChatReply>(&body).await {
            Ok(response) => Attempt::Done(response),
            Err(OpenAIError::Boxed(boxed)) => match boxed.downcast::<HttpStatus>() {
                // A server that fails on a parameter it does not know (llama.cpp: 500).
                Ok(status) if status.status >= 500 => match self.incompatible(None, &status.body) {
                    Some(again) => again,
                    None => Attempt::Transient { why: status.to_string(), retry_after: status.retry_after },
                },
                Ok(status) => Attempt::Transient { why: status.to_string(), retry_after: status.retry_after },
                // Asking again would read as much again.
                Err(other) if matches!(other.downcast_ref(), Some(Unanswered::TooLarge)) => {
                    Attempt::Refused(other.to_string())
                }
                Err(other) => Attempt::Transient { why: other.to_string(), retry_after: None },
            },
            Err(OpenAIError::Reqwest(e)) if e.is_timeout() => Attempt::Transient {
                why: Unanswered::Timeout(self.settings.request_timeout).to_string(),
                retry_after: None,
            },
            Err(OpenAIError::Reqwest(e)) => {
                Attempt::Transient { why: e.without_url().to_string(), retry_after: None }
            }
            // The endpoint answered 2xx with a body that is not a chat completion.
            Err(OpenAIError::JSONDeserialize(e, _)) => {
                Attempt::Transient { why: format!("malformed response body: {e}"), retry_after: None }
            }
            Err(OpenAIError::ApiError(api)) => {
                let text = api.to_string();
                self.incompatible(api.api_error.param.as_deref(), &api.api_error.message)
                    .unwrap_or(Attempt::Refused(text))
            }
            Err(other) => Attempt::Refused(other.to_string()),
        }
    }

    /// When an error names a parameter this endpoint does not take: dropped, and the attempt
    /// is repeated at once without it.
    fn incompatible(&self, param: Option<&str>, text: &str) -> Option<Attempt> {
        let dropped = self.compat.drop_named(param, text)?;
        tracing::warn!(
            parameter = dropped,
            "the LLM endpoint does not take this parameter; asking without it from now on"
        );
        Some(Attempt::Again)
    }
}

fn reply(response: ChatReply, attempts: u32) -> Result<LlmReply, LlmError> {
    let usage = response.usage;
    let choice = response
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| LlmError::Refused("the endpoint returned no choices".into()))?;
    let content = match (choice.message.content, choice.message.refusal) {
        (Some(content), _) => content,
        (None, Some(refusal)) => return Err(LlmError::Refused(format!("the model refused: {refusal}"))),
        (None, None) => String::new(),
    };
    let logprobs = choice
        .logprobs
        .and_then(|l| l.content)
        .map(|tokens| tokens.iter().map(|t| f64::from(t.logprob)).collect())
        .unwrap_or_default();
    Ok(LlmReply {
        content,
        logprobs,
        prompt_tokens: usage.as_ref().map_or(0, |u| u64::from(u.prompt_tokens)),
        completion_tokens: usage.as_ref().map_or(0, |u| u64::from(u.completion_tokens)),
        attempts,
    })
}

#[async_trait]
impl LlmClient for OpenAiLlm {
    async fn complete(&self, request: &LlmRequest) -> Result<LlmReply, LlmError> {
        let deadline = Instant::now() + self.settings.deadline;
        let max = self.settings.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = match tokio::time::timeout_at(deadline, self.attempt(request)).await {
                Ok(outcome) => outcome,
                Err(_) => return Err(LlmError::Deadline(self.settings.deadline)),
            };
            let (why, retry_after) = match outcome {
                Attempt::Done(response) => return reply(response, attempt),
                Attempt::Refused(why) => return Err(LlmError::Refused(why)),
                Attempt::Transient { why, retry_after } => (why, retry_after),
                Attempt::Again => {
                    attempt -= 1;
                    continue;
                }
            };
            if attempt >= max {
                return Err(LlmError::Exhausted { attempts: attempt, last: why, retry_after });
            }
            let wait = self.settings.backoff.delay(attempt, retry_after);
            if Instant::now() + wait > deadline {
                return Err(LlmError::Exhausted { attempts: attempt, last: why, retry_after });
            }
            tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, error = %why, "LLM attempt failed; retrying");
            tokio::time::sleep(wait).await;
        }
    }

    fn info(&self) -> LlmInfo {
        LlmInfo { provider: "openai-compatible", model: self.settings.model.clone() }
    }
}
