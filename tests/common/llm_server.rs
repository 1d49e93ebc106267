//! A local OpenAI-compatible server for the tests: `POST /v1/chat/completions` answers from a
//! script (valid content, HTTP errors with Retry-After, hangs, malformed bodies), then from a
//! default reply. Every request is recorded with its arrival time (its body as received, parsed
//! only when a test reads it: a benchmark's thousands of requests cost no JSON parsing in the
//! process that measures them), and the most requests open at once is kept.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use overseer_agents::llm::backoff::Backoff;
use overseer_agents::llm::openai::OpenAiSettings;
use overseer_agents::llm::{LlmRequest, SharedPrompt};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A request with a one-line system message and an object schema.
pub fn simple_request() -> LlmRequest {
    LlmRequest {
        prompt: Arc::new(SharedPrompt::new(
            "system".into(),
            "order_proposal".into(),
            &serde_json::json!({"type": "object"}),
        )),
        user: "user".into(),
        offline_answer: None,
    }
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with this message content (the model's answer), after `delay`.
    Content { content: String, delay: Duration },
    /// This status with an OpenAI-style error body and an optional Retry-After (seconds).
    Status { code: u16, retry_after: Option<u64> },
    /// This status with an OpenAI-style error `{message, param}` (as a server that does not
    /// take a parameter answers).
    Error { code: u16, message: String, param: Option<String> },
    /// Never answers (until the client gives up).
    Hang,
    /// 200 with a body that is not a chat completion.
    Malformed,
}

impl Reply {
    pub fn content(content: impl Into<String>) -> Self {
        Self::Content { content: content.into(), delay: Duration::ZERO }
    }
}

#[derive(Default)]
struct Script {
    queue: VecDeque<Reply>,
    default: Option<Reply>,
    requests: Vec<(Instant, axum::body::Bytes)>,
    in_flight: usize,
    max_in_flight: usize,
}

/// A running server; dropped with the test's runtime.
#[derive(Clone)]
pub struct LlmServer {
    pub base_url: String,
    script: Arc<Mutex<Script>>,
}

impl LlmServer {
    pub async fn start() -> Self {
        let script = Arc::new(Mutex::new(Script::default()));
        let app = Router::new().route("/v1/chat/completions", post(answer)).with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base_url: format!("http://{addr}/v1"), script }
    }

    /// Client settings for this server: a short per-attempt timeout (500 ms), a 10 s deadline,
    /// four attempts with short backoffs.
    pub fn client_settings(&self) -> OpenAiSettings {
        OpenAiSettings {
            base_url: self.base_url.clone(),
            model: "test-model".into(),
            api_key: Some("sk-test".into()),
            request_timeout: Duration::from_millis(500),
            deadline: Duration::from_secs(10),
            max_concurrency: 4,
            max_attempts: 4,
            logprobs: false,
            max_tokens: Some(256),
            backoff: Backoff { base: Duration::from_millis(20), cap: Duration::from_millis(100) },
        }
    }

    /// Answers with these replies, in order, before the default.
    pub fn push(&self, replies: impl IntoIterator<Item = Reply>) {
        self.lock().queue.extend(replies);
    }

    /// The answer once the script is used up.
    pub fn set_default(&self, reply: Reply) {
        self.lock().default = Some(reply);
    }

    /// Requests received so far, with their arrival times.
    pub fn requests(&self) -> Vec<(Instant, serde_json::Value)> {
        let received = self.lock().requests.clone();
        received
            .into_iter()
            .map(|(at, body)| (at, serde_json::from_slice(&body).unwrap_or_default()))
            .collect()
    }

    /// How many requests arrived so far.
    pub fn count(&self) -> usize {
        self.lock().requests.len()
    }

    /// When the first request arrived.
    pub fn first_arrival(&self) -> Option<Instant> {
        self.lock().requests.first().map(|(at, _)| *at)
    }

    /// The most requests that were open at once since the start or the last reset.
    pub fn max_in_flight(&self) -> usize {
        self.lock().max_in_flight
    }

    /// Starts counting the most open requests afresh.
    pub fn reset_max_in_flight(&self) {
        let mut s = self.lock();
        s.max_in_flight = s.in_flight;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn answer(State(script): State<Arc<Mutex<Script>>>, body: axum::body::Bytes) -> Response {
    let reply = {
        let mut s = script.lock().unwrap_or_else(|p| p.into_inner());
        s.requests.push((Instant::now(), body));
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
        s.queue.pop_front().or_else(|| s.default.clone())
    };
    let answer = respond(reply).await;
    script.lock().unwrap_or_else(|p| p.into_inner()).in_flight -= 1;
    answer
}

async fn respond(reply: Option<Reply>) -> Response {
    match reply {
        None => (StatusCode::INTERNAL_SERVER_ERROR, "no scripted reply").into_response(),
        Some(Reply::Content { content, delay }) => {
            tokio::time::sleep(delay).await;
            axum::Json(completion(&content)).into_response()
        }
        Some(Reply::Status { code, retry_after }) => {
            let mut headers = HeaderMap::new();
            if let Some(secs) = retry_after {
                headers.insert("retry-after", secs.to_string().parse().expect("header"));
            }
            let body = serde_json::json!({"error": {"message": format!("scripted {code}"), "type": "server_error", "param": null, "code": null}});
            (StatusCode::from_u16(code).expect("status"), headers, axum::Json(body)).into_response()
        }
        Some(Reply::Error { code, message, param }) => {
            let body = serde_json::json!({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": null}});
            (StatusCode::from_u16(code).expect("status"), axum::Json(body)).into_response()
        }
        Some(Reply::Hang) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Some(Reply::Malformed) => {
            (StatusCode::OK, [("content-type", "application/json")], "{\"choices\": [oops").into_response()
        }
    }
}

fn completion(content: &str) -> serde_json::Value {
    serde_json::json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "test-model",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": "stop",
            "logprobs": null
        }],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
    })
}

/// A valid order-agent proposal.
pub fn order_proposal(confidence: f64, actions: serde_json::Value) -> String {
    serde_json::json!({
        "summary": "order checked",
        "confidence": confidence,
        "actions": actions,
        "details": {"order_valid": true, "issues": [], "fraud_risk": "low"}
    })
    .to_string()
}
