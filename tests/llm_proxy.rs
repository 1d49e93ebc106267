//! A model endpoint behind an HTTP proxy (`HTTP_PROXY`, read as reqwest and curl read it): the
//! requests go to the proxy, not to the endpoint's own address. A test binary of its own, as the
//! variable is the whole process's (its two tests set it alike).

mod common;

use common::llm_server::{simple_request, LlmServer, Reply};
use overseer_agents::llm::openai::{OpenAiLlm, OpenAiSettings};
use overseer_agents::llm::{LlmClient, LlmError};

/// The stand-in plays the proxy: it answers the absolute-form request a proxy is sent by its path,
/// as if it had forwarded it. The endpoint's own name resolves nowhere (.invalid).
async fn behind_a_proxy(answer: Reply) -> (LlmServer, OpenAiLlm) {
    let proxy = LlmServer::start().await;
    proxy.set_default(answer);
    let proxy_addr = proxy.base_url.trim_end_matches("/v1").to_string();
    for name in ["NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"] {
        std::env::remove_var(name);
    }
    std::env::set_var("HTTP_PROXY", &proxy_addr);
    let settings =
        OpenAiSettings { base_url: "http://model.invalid:8000/v1".into(), ..proxy.client_settings() };
    let llm = OpenAiLlm::new(settings).expect("client");
    (proxy, llm)
}

#[tokio::test]
async fn a_plain_http_endpoint_is_reached_through_the_configured_proxy() {
    let (proxy, llm) = behind_a_proxy(Reply::content("{}")).await;
    let reply = llm.complete(&simple_request()).await.expect("answered through the proxy");
    assert_eq!(reply.attempts, 1);
    assert_eq!(proxy.count(), 1);
}

#[tokio::test]
async fn through_a_proxy_too_an_answer_larger_than_the_limit_is_refused() {
    let (proxy, llm) = behind_a_proxy(Reply::content("x".repeat(5 << 20))).await;
    let err = llm.complete(&simple_request()).await.expect_err("too large");
    match err {
        LlmError::Refused(why) => assert_eq!(why, "the answer is larger than 4 MiB"),
        other => panic!("{other:?}"),
    }
    assert_eq!(proxy.count(), 1);
}
