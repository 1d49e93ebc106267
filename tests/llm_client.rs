//! The OpenAI-compatible client and the agent runner against a local OpenAI-compatible server:
//! retries and their waits, timeouts, refusals, malformed output and the corrective retry.

mod common;

use common::llm_server::{order_proposal, simple_request, LlmServer, Reply};
use overseer_agents::agent::{self, runner};
use overseer_agents::llm::openai::{OpenAiLlm, OpenAiSettings};
use overseer_agents::llm::{LlmClient, LlmError};
use overseer_agents::policy::PolicyConfig;
use overseer_agents::spec::{AgentKind, AgentSpec};
use overseer_agents::task::{Task, TaskLimits};
use std::time::Duration;

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_then_succeeds() {
    let server = LlmServer::start().await;
    server.push([Reply::Status { code: 429, retry_after: Some(1) }, Reply::content("{}")]);
    let llm = OpenAiLlm::new(server.client_settings()).expect("client");
    let reply = llm.complete(&simple_request()).await.expect("second attempt succeeds");
    assert_eq!(reply.attempts, 2);
    let times: Vec<_> = server.requests().into_iter().map(|(t, _)| t).collect();
    assert_eq!(times.len(), 2);
    assert!(times[1] - times[0] >= Duration::from_secs(1), "waited {:?}", times[1] - times[0]);
    assert_eq!(reply.prompt_tokens, 100);
}

#[tokio::test]
async fn server_errors_and_hangs_are_retried_a_bounded_number_of_times() {
    let server = LlmServer::start().await;
    server.push([
        Reply::Status { code: 500, retry_after: None },
        Reply::Hang,
        Reply::Status { code: 503, retry_after: None },
    ]);
    server.set_default(Reply::Status { code: 502, retry_after: None });
    let llm = OpenAiLlm::new(server.client_settings()).expect("client");
    let err = llm.complete(&simple_request()).await.expect_err("all attempts fail");
    assert!(matches!(err, LlmError::Exhausted { attempts: 4, .. }), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(server.count(), 4);
}

#[tokio::test]
async fn other_4xx_are_not_retried() {
    let server = LlmServer::start().await;
    server.set_default(Reply::Status { code: 401, retry_after: None });
    let llm = OpenAiLlm::new(server.client_settings()).expect("client");
    let err = llm.complete(&simple_request()).await.expect_err("refused");
    assert!(matches!(err, LlmError::Refused(_)), "{err:?}");
    assert!(!err.is_transient());
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn an_attempt_without_an_answer_ends_at_the_request_timeout() {
    let server = LlmServer::start().await;
    server.set_default(Reply::Hang);
    let llm = OpenAiLlm::new(OpenAiSettings { max_attempts: 1, ..server.client_settings() }).expect("client");
    let started = std::time::Instant::now();
    let err = llm.complete(&simple_request()).await.expect_err("no answer");
    match err {
        LlmError::Exhausted { attempts: 1, last, .. } => assert_eq!(last, "no answer within 500ms"),
        other => panic!("{other:?}"),
    }
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(500) && took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test]
async fn an_answer_larger_than_the_limit_is_refused_not_retried() {
    let server = LlmServer::start().await;
    server.set_default(Reply::content("x".repeat(5 << 20)));
    let llm = OpenAiLlm::new(server.client_settings()).expect("client");
    let err = llm.complete(&simple_request()).await.expect_err("too large");
    match err {
        LlmError::Refused(why) => assert_eq!(why, "the answer is larger than 4 MiB"),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn the_overall_deadline_ends_a_hanging_endpoint() {
    let server = LlmServer::start().await;
    server.set_default(Reply::Hang);
    let mut s = server.client_settings();
    s.request_timeout = Duration::from_secs(30);
    s.deadline = Duration::from_millis(300);
    let llm = OpenAiLlm::new(s).expect("client");
    let started = std::time::Instant::now();
    let err = llm.complete(&simple_request()).await.expect_err("deadline");
    assert!(matches!(err, LlmError::Deadline(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn requests_carry_the_json_schema_response_format_and_a_malformed_body_is_retried() {
    let server = LlmServer::start().await;
    server.push([Reply::Malformed]);
    server.set_default(Reply::content("{}"));
    let llm = OpenAiLlm::new(server.client_settings()).expect("client");
    llm.complete(&simple_request()).await.expect("malformed first answer is retried");
    let (_, body) = &server.requests()[0];
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(body["response_format"]["json_schema"]["name"], "order_proposal");
    assert_eq!(body["model"], "test-model");
}

#[tokio::test]
async fn parameters_an_endpoint_does_not_take_are_dropped_once_and_asked_again_at_once() {
    let server = LlmServer::start().await;
    server.push([
        // llama.cpp's Python server: a 500 whose text names the response format.
        Reply::Error {
            code: 500,
            message: "1 validation error: ('body', 'response_format', 'type') Input should be 'text' or 'json_object'".into(),
            param: None,
        },
        // OpenAI's reasoning models: max_tokens refused, named by `param`.
        Reply::Error {
            code: 400,
            message: "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.".into(),
            param: Some("max_tokens".into()),
        },
        Reply::Error { code: 400, message: "logprobs are not supported".into(), param: Some("logprobs".into()) },
    ]);
    server.set_default(Reply::content("{}"));
    let llm = OpenAiLlm::new(OpenAiSettings { logprobs: true, ..server.client_settings() }).expect("client");
    let started = std::time::Instant::now();
    let reply = llm.complete(&simple_request()).await.expect("answered once the parameters are dropped");
    assert_eq!(reply.attempts, 1, "dropping a parameter is not a failed attempt");
    assert!(started.elapsed() < Duration::from_millis(500), "asked again at once: {:?}", started.elapsed());
    let bodies: Vec<serde_json::Value> = server.requests().into_iter().map(|(_, b)| b).collect();
    assert_eq!(bodies.len(), 4);
    assert_eq!(bodies[0]["response_format"]["type"], "json_schema");
    assert_eq!(bodies[0]["max_tokens"], 256);
    assert_eq!(bodies[0]["max_completion_tokens"], 256);
    assert_eq!(bodies[0]["logprobs"], true);
    assert_eq!(bodies[1]["response_format"]["type"], "json_object");
    assert_eq!(bodies[2]["max_tokens"], serde_json::Value::Null);
    assert_eq!(bodies[2]["max_completion_tokens"], 256, "the other limit stays");
    assert_eq!(bodies[3]["logprobs"], serde_json::Value::Null);
    // For good: the next call sends none of them.
    llm.complete(&simple_request()).await.expect("second call");
    let last = server.requests().pop().map(|(_, b)| b).unwrap_or_default();
    assert_eq!(last["response_format"]["type"], "json_object");
    assert_eq!(last["max_tokens"], serde_json::Value::Null);
    assert_eq!(server.count(), 5);
    // A 500 that names no parameter is an ordinary failed attempt, and a 400 is a refusal.
    server.push([Reply::Status { code: 500, retry_after: None }]);
    let reply = llm.complete(&simple_request()).await.expect("retried");
    assert_eq!(reply.attempts, 2);
    server.push([Reply::Error { code: 400, message: "bad model".into(), param: Some("model".into()) }]);
    let err = llm.complete(&simple_request()).await.expect_err("refused");
    assert!(matches!(err, LlmError::Refused(_)), "{err:?}");
}

fn order_agent() -> Box<dyn agent::Agent> {
    let spec = AgentSpec {
        kind: AgentKind::Order,
        system_prompt: "You process orders.".into(),
        user_template: "Kind {{kind}}: {{payload}}".into(),
        allowed_actions: vec!["fulfil".into(), "refund".into(), "cancel".into()],
        domain_topic: "domain.orders".into(),
    };
    agent::build("order", spec)
}

fn order_task() -> Task {
    let body = serde_json::json!({
        "task_id": "ord-1",
        "payload": {
            "customer": {"name": "Ada", "email": "ada@example.com"},
            "items": [{"sku": "A1", "qty": 2, "unit_price": 10.0}],
            "shipping_address": {"line1": "1 Main St", "city": "X", "postal_code": "1", "country": "DE"},
            "payment_status": "paid", "total": 20.0
        }
    });
    Task::decode(body.to_string().as_bytes(), TaskLimits { max_bytes: 1 << 20, max_depth: 32 }).expect("task")
}

#[tokio::test]
async fn invalid_model_output_gets_one_corrective_retry() {
    let server = LlmServer::start().await;
    server.push([
        Reply::content("{\"summary\": \"no\"}"),
        Reply::content(order_proposal(0.9, serde_json::json!([{"action": "fulfil"}]))),
    ]);
    let llm = OpenAiLlm::new(server.client_settings()).expect("client");
    let result = runner::run(order_agent().as_ref(), &llm, &PolicyConfig::default(), &order_task())
        .await
        .expect("second answer is valid");
    assert_eq!(result.usage.calls, 2);
    let second_prompt =
        server.requests()[1].1["messages"][1]["content"].as_str().unwrap_or_default().to_string();
    assert!(second_prompt.contains("previous answer was not valid"), "{second_prompt}");
    assert!((result.confidence.combined - (0.4 * 1.0 + 0.6 * 0.9)).abs() < 1e-9);
}

#[tokio::test]
async fn output_still_invalid_after_the_corrective_retry_is_a_permanent_failure() {
    let server = LlmServer::start().await;
    server.set_default(Reply::content("not json at all"));
    let llm = OpenAiLlm::new(server.client_settings()).expect("client");
    let err = runner::run(order_agent().as_ref(), &llm, &PolicyConfig::default(), &order_task())
        .await
        .expect_err("invalid twice");
    assert_eq!(err.code(), "invalid_output");
    assert!(!err.is_transient());
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn a_refund_above_the_limit_needs_a_person_even_at_confidence_0_99() {
    let server = LlmServer::start().await;
    server.set_default(Reply::content(order_proposal(
        0.99,
        serde_json::json!([{"action": "refund", "amount": 500.0}]),
    )));
    let llm = OpenAiLlm::new(server.client_settings()).expect("client");
    let result = runner::run(order_agent().as_ref(), &llm, &PolicyConfig::default(), &order_task())
        .await
        .expect("valid");
    assert!(result.confidence.combined > 0.99 - 1e-9);
    assert!(
        result.review_reasons.iter().any(|r| r.starts_with("refund_limit:")),
        "{:?}",
        result.review_reasons
    );
}
