//! Requests to a plain `http://` model endpoint that no proxy setting covers (a vLLM, Ollama or
//! llama.cpp server beside the replica), sent straight through hyper's pooled client.
//!
//! reqwest, which async-openai is built on, parses the URL again in its redirect layer and for
//! its response (docs/benchmarks.md, eighth round, measures what that cost a task); here the
//! request goes out as it was built. reqwest still carries every `https://` endpoint
//! (TLS) and every endpoint a proxy variable covers (`HTTP_PROXY`, `ALL_PROXY`, unless
//! `NO_PROXY`), read by the same matcher reqwest reads them with. The timeout covers the whole
//! exchange, the answer's body included, as reqwest's does. On either route the answer is read
//! whole up to [`MAX_ANSWER`]: a larger one is refused, not buffered.

use async_openai::error::OpenAIError;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use reqwest::{ResponseBuilderExt, Url};
use std::error::Error;
use std::time::Duration;

/// The largest answer body read (a chat completion of a few thousand tokens, with their
/// log-probabilities, is well under 1 MiB).
pub(super) const MAX_ANSWER: usize = 4 << 20;

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub(super) enum Unanswered {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the answer is larger than {} MiB", MAX_ANSWER >> 20)]
    TooLarge,
    #[error("{0}")]
    Failed(String),
}

impl Unanswered {
    /// The error with what caused it (hyper's own text is only "client error (Connect)").
    fn failed(e: &(dyn Error + 'static)) -> Self {
        let mut text = e.to_string();
        let mut cause = e.source();
        while let Some(c) = cause {
            text = format!("{text}: {c}");
            cause = c.source();
        }
        Self::Failed(text)
    }

    /// Why an answer's body could not be read (through [`Limited`]).
    fn reading(e: Box<dyn Error + Send + Sync>) -> Self {
        match e.downcast_ref::<LengthLimitError>() {
            Some(_) => Self::TooLarge,
            None => Self::failed(&*e),
        }
    }
}

pub(super) struct PlainHttp {
    client: Client<HttpConnector, reqwest::Body>,
    timeout: Duration,
}

impl PlainHttp {
    /// The transport for `base_url` when it is plain HTTP that `proxies` send to no proxy.
    pub(super) fn for_endpoint(base_url: &str, proxies: &Matcher, timeout: Duration) -> Option<Self> {
        let uri: http::Uri = base_url.parse().ok()?;
        if uri.scheme_str() != Some("http") || proxies.intercept(&uri).is_some() {
            return None;
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Some(Self { client, timeout })
    }

    /// Sends `request` and reads the whole answer, within the timeout.
    pub(super) async fn send(&self, request: reqwest::Request) -> Result<reqwest::Response, OpenAIError> {
        let url = request.url().clone();
        let request = http::Request::try_from(request).map_err(OpenAIError::Reqwest)?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| Unanswered::failed(&e))?;
            read_whole(response, url).await
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(OpenAIError::Boxed(Box::new(e))),
            Err(_) => Err(OpenAIError::Boxed(Box::new(Unanswered::Timeout(self.timeout)))),
        }
    }
}

/// The answer to a request for `url` with its body read whole, up to [`MAX_ANSWER`] (either
/// route's body). The answer names its URL: reqwest would otherwise parse a placeholder URL
/// for every answer it is handed (about a hundredth of a task's instructions).
pub(super) async fn read_whole<B>(
    response: http::Response<B>,
    url: Url,
) -> Result<reqwest::Response, Unanswered>
where
    B: BodyExt,
    B::Error: Into<Box<dyn Error + Send + Sync>>,
{
    let (parts, body) = response.into_parts();
    let body = Limited::new(body, MAX_ANSWER).collect().await.map_err(Unanswered::reading)?.to_bytes();
    let mut answer = http::Response::builder().status(parts.status).version(parts.version).url(url);
    if let Some(headers) = answer.headers_mut() {
        *headers = parts.headers;
    }
    let answer = answer.body(body).map_err(|e| Unanswered::failed(&e))?;
    Ok(reqwest::Response::from(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(http: &str, no: &str) -> Matcher {
        Matcher::builder().http(http.to_string()).no(no.to_string()).build()
    }

    #[tokio::test]
    async fn an_answer_keeps_its_status_headers_and_body_and_names_its_url() {
        let url = Url::parse("http://vllm:8000/v1/chat/completions").expect("url");
        let answer = http::Response::builder()
            .status(429)
            .header("retry-after", "2")
            .body(http_body_util::Full::new(&b"{\"slow\":true}"[..]))
            .expect("response");
        let read = read_whole(answer, url.clone()).await.expect("read");
        assert_eq!(read.url(), &url);
        assert_eq!(read.status().as_u16(), 429);
        assert_eq!(read.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("2"));
        assert_eq!(read.text().await.expect("body"), r#"{"slow":true}"#);
    }

    #[test]
    fn only_plain_http_that_no_proxy_covers_goes_straight() {
        let t = Duration::from_secs(1);
        let none = proxies("", "");
        assert!(PlainHttp::for_endpoint("http://vllm:8000/v1", &none, t).is_some());
        assert!(PlainHttp::for_endpoint("https://api.openai.com/v1", &none, t).is_none());
        assert!(PlainHttp::for_endpoint("not a url", &none, t).is_none());
        let proxied = proxies("http://proxy:3128", "");
        assert!(PlainHttp::for_endpoint("http://vllm:8000/v1", &proxied, t).is_none());
        let except = proxies("http://proxy:3128", "vllm");
        assert!(PlainHttp::for_endpoint("http://vllm:8000/v1", &except, t).is_some());
    }
}
