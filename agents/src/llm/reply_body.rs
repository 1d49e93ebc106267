//! The chat-completions answer, as much of it as overseer reads: the first choice's content or
//! refusal, its tokens' log-probabilities and the token counts. Every other field (ids, model,
//! timestamps, tool calls, annotations …) is skipped while parsing instead of being built into
//! async-openai's full `CreateChatCompletionResponse` and dropped (docs/benchmarks.md, seventh
//! round). A body without `choices`, or whose choice has no `message`, is malformed.

use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct ChatReply {
    pub(super) choices: Vec<Choice>,
    pub(super) usage: Option<Usage>,
}

#[derive(Deserialize)]
pub(super) struct Choice {
    pub(super) message: ReplyMessage,
    pub(super) logprobs: Option<Logprobs>,
}

#[derive(Deserialize)]
pub(super) struct ReplyMessage {
    pub(super) content: Option<String>,
    pub(super) refusal: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Logprobs {
    pub(super) content: Option<Vec<TokenLogprob>>,
}

#[derive(Deserialize)]
pub(super) struct TokenLogprob {
    pub(super) logprob: f32,
}

#[derive(Deserialize)]
pub(super) struct Usage {
    pub(super) prompt_tokens: u32,
    pub(super) completion_tokens: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_openai::types::chat::CreateChatCompletionResponse;

    /// An answer as OpenAI sends it, with logprobs and usage details.
    const FULL: &str = r#"{
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1733500000, "model": "gpt-4o",
        "system_fingerprint": "fp_1", "service_tier": "default",
        "choices": [{
            "index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": "{\"a\":1}", "refusal": null, "annotations": []},
            "logprobs": {"content": [
                {"token": "{", "logprob": -0.25, "bytes": [123], "top_logprobs": []},
                {"token": "}", "logprob": -1.5, "bytes": [125], "top_logprobs": []}
            ], "refusal": null}
        }],
        "usage": {"prompt_tokens": 120, "completion_tokens": 7, "total_tokens": 127,
                  "prompt_tokens_details": {"cached_tokens": 0}}
    }"#;

    #[test]
    fn reads_what_the_full_response_type_reads() {
        let lean: ChatReply = serde_json::from_str(FULL).expect("lean");
        let full: CreateChatCompletionResponse = serde_json::from_str(FULL).expect("full");
        let (l, f) = (&lean.choices[0], &full.choices[0]);
        assert_eq!(l.message.content, f.message.content);
        assert_eq!(l.message.refusal, f.message.refusal);
        let logprobs = |v: &[TokenLogprob]| v.iter().map(|t| t.logprob).collect::<Vec<_>>();
        let full_logprobs: Vec<f32> = f
            .logprobs
            .as_ref()
            .and_then(|l| l.content.as_ref())
            .expect("logprobs")
            .iter()
            .map(|t| t.logprob)
            .collect();
        assert_eq!(
            logprobs(l.logprobs.as_ref().and_then(|l| l.content.as_deref()).expect("lean logprobs")),
            full_logprobs
        );
        let (lu, fu) = (lean.usage.as_ref().expect("usage"), full.usage.as_ref().expect("usage"));
        assert_eq!((lu.prompt_tokens, lu.completion_tokens), (fu.prompt_tokens, fu.completion_tokens));
    }

    #[test]
    fn a_body_without_choices_or_a_message_is_malformed() {
        assert!(serde_json::from_str::<ChatReply>(r#"{"id": "x", "usage": null}"#).is_err());
        assert!(serde_json::from_str::<ChatReply>(r#"{"choices": [{"index": 0}]}"#).is_err());
        let minimal: ChatReply =
            serde_json::from_str(r#"{"choices": [{"message": {"content": "hi"}}]}"#).expect("minimal");
        assert_eq!(minimal.choices[0].message.content.as_deref(), Some("hi"));
        assert!(minimal.usage.is_none() && minimal.choices[0].logprobs.is_none());
    }
}
