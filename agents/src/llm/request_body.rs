//! The chat-completions request body, serialized from borrowed parts. The system message and
//! the output schema are the same for every task of an agent, so they are sent as the JSON
//! made once ([`SharedPrompt`]): a request encodes only its user message. The body is the one
//! async-openai's `CreateChatCompletionRequest` serializes to (a test holds them equal).

use super::SharedPrompt;
use serde::Serialize;
use serde_json::value::RawValue;

/// `POST /chat/completions`.
#[derive(Serialize)]
pub(super) struct ChatBody<'a> {
    pub(super) model: &'a str,
    pub(super) messages: [Message<'a>; 2],
    pub(super) response_format: Format<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) logprobs: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) max_tokens: Option<u32>,
}

#[derive(Serialize)]
pub(super) struct Message<'a> {
    role: &'static str,
    content: Content<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Content<'a> {
    Encoded(&'a RawValue),
    Text(&'a str),
}

impl<'a> Message<'a> {
    pub(super) fn system(prompt: &'a SharedPrompt) -> Self {
        let content = match prompt.system_json() {
            Some(encoded) => Content::Encoded(encoded),
            None => Content::Text(&prompt.system),
        };
        Self { role: "system", content }
    }

    pub(super) fn user(text: &'a str) -> Self {
        Self { role: "user", content: Content::Text(text) }
    }
}

/// `response_format`: the schema itself, or only "a JSON object" for servers that refuse it.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Format<'a> {
    JsonSchema { json_schema: Schema<'a> },
    JsonObject,
}

#[derive(Serialize)]
pub(super) struct Schema<'a> {
    name: &'a str,
    schema: &'a RawValue,
}

impl<'a> Format<'a> {
    pub(super) fn schema(prompt: &'a SharedPrompt) -> Self {
        Self::JsonSchema { json_schema: Schema { name: &prompt.schema_name, schema: prompt.schema_json() } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_openai::types::chat::{
        ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
        CreateChatCompletionRequest, ResponseFormat, ResponseFormatJsonSchema,
    };
    use serde_json::{json, Value};

    /// What async-openai's own request type sends for the same request.
    fn typed(prompt: &SharedPrompt, schema: &Value, user: &str, with_schema: bool, limits: bool) -> Value {
        let format = if with_schema {
            ResponseFormat::JsonSchema {
                json_schema: ResponseFormatJsonSchema {
                    name: prompt.schema_name.clone(),
                    schema: schema.clone(),
                    description: None,
                    strict: None,
                },
            }
        } else {
            ResponseFormat::JsonObject
        };
        let system = ChatCompletionRequestSystemMessage::from(prompt.system.as_str());
        #[allow(deprecated)]
        let request = CreateChatCompletionRequest {
            model: "m".into(),
            messages: vec![
                ChatCompletionRequestMessage::from(system),
                ChatCompletionRequestMessage::from(ChatCompletionRequestUserMessage::from(user)),
            ],
            response_format: Some(format),
            logprobs: limits.then_some(true),
            max_completion_tokens: limits.then_some(256),
            max_tokens: limits.then_some(256),
            ..Default::default()
        };
        serde_json::to_value(&request).expect("serializes")
    }

    #[test]
    fn the_body_is_what_async_openai_would_send() {
        let schema = json!({"type": "object", "properties": {"summary": {"type": "string", "description": "a \"quoted\" <text>\n"}}});
        let prompt = SharedPrompt::new(
            "You are \"careful\".\n\tRules: <none>".into(),
            "order_proposal".into(),
            &schema,
        );
        let user = "<task_data>\n{\"a\":\"\\u003c\\\\ é\"}\n</task_data>";
        for (with_schema, limits) in [(true, true), (true, false), (false, true), (false, false)] {
            let body = ChatBody {
                model: "m",
                messages: [Message::system(&prompt), Message::user(user)],
                response_format: if with_schema { Format::schema(&prompt) } else { Format::JsonObject },
                logprobs: limits.then_some(true),
                max_completion_tokens: limits.then_some(256),
                max_tokens: limits.then_some(256),
            };
            let ours: Value =
                serde_json::from_slice(&serde_json::to_vec(&body).expect("serializes")).expect("JSON");
            assert_eq!(
                ours,
                typed(&prompt, &schema, user, with_schema, limits),
                "schema {with_schema}, limits {limits}"
            );
        }
    }
}
