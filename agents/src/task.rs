//! The task envelope of CONTRACT.md: what a producer publishes to an `auto_*` queue.
//! Decoding checks everything the contract and the size limits promise, so a bad message is
//! refused with a reason before any agent or LLM sees it.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Bounds on a task message.
#[derive(Debug, Clone, Copy)]
pub struct TaskLimits {
    pub max_bytes: usize,
    pub max_depth: usize,
}

/// A decoded task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    /// Idempotency key, 1..128 characters.
    pub task_id: String,
    /// Agent-specific sub-type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The workflow; the queue's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// 0..9.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<String>,
    /// Agent-specific object, as the producer wrote it (checked to be a JSON object). It is
    /// not decoded into a tree: the agent parses it into its own input type, the injection
    /// scan reads its keys and strings, and the model is shown this text.
    pub payload: Box<RawValue>,
}

/// Why a message is not a valid task. Every variant is permanent: retrying cannot fix it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TaskError {
    #[error("task is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("task JSON nests deeper than {limit} levels")]
    TooDeep { limit: usize },
    #[error("task is not valid JSON: {0}")]
    NotJson(String),
    #[error("task is not a valid envelope: {0}")]
    BadEnvelope(String),
    #[error("task_id must be 1..128 characters, got {0}")]
    BadTaskId(usize),
    #[error("priority must be 0..9, got {0}")]
    BadPriority(u8),
}

impl TaskError {
    /// A short machine-readable reason for headers and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::TooDeep { .. } => "too_deep",
            Self::NotJson(_) => "not_json",
            Self::BadEnvelope(_) => "bad_envelope",
            Self::BadTaskId(_) => "bad_task_id",
            Self::BadPriority(_) => "bad_priority",
        }
    }
}

impl Task {
    /// Decodes and checks a message body.
    pub fn decode(body: &[u8], limits: TaskLimits) -> Result<Self, TaskError> {
        if body.len() > limits.max_bytes {
            return Err(TaskError::TooLarge { size: body.len(), limit: limits.max_bytes });
        }
        // Checked before parsing so a hostile nesting never reaches the parser's recursion.
        if nesting_depth(body) > limits.max_depth {
            return Err(TaskError::TooDeep { limit: limits.max_depth });
        }
        // Straight into the envelope (no intermediate JSON tree); a syntax error is "not JSON",
        // JSON of the wrong shape (a duplicate field included) a bad envelope.
        let task: Task = serde_json::from_slice(body).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => TaskError::BadEnvelope(e.to_string()),
            _ => TaskError::NotJson(e.to_string()),
        })?;
        let id_len = task.task_id.chars().count();
        if !(1..=128).contains(&id_len) {
            return Err(TaskError::BadTaskId(id_len));
        }
        if let Some(p) = task.priority.filter(|p| *p > 9) {
            return Err(TaskError::BadPriority(p));
        }
        if !task.payload.get().starts_with('{') {
            return Err(TaskError::BadEnvelope("payload must be a JSON object".into()));
        }
        Ok(task)
    }
}

/// Deepest bracket nesting in a JSON text, ignoring brackets inside strings. A string's bytes
/// (most of a task's) are passed over by memchr's vectorized search for the quote or backslash
/// that could end it, not one by one.
fn nesting_depth(body: &[u8]) -> usize {
    let (mut depth, mut max, mut i) = (0usize, 0usize, 0usize);
    while let Some(&b) = body.get(i) {
        i += 1;
        match b {
            b'"' => loop {
                // Unterminated: the parser says so; the depth so far stands.
                let Some(at) = body.get(i..).and_then(|rest| memchr::memchr2(b'"', b'\\', rest)) else {
                    return max;
                };
                i += at + 1;
                if body[i - 1] == b'"' {
                    break;
                }
                // A backslash: the byte after it is escaped, whatever it is.
                i += 1;
            },
            _ => bracket(b, &mut depth, &mut max),
        }
    }
    max
}

/// A byte outside strings: an opening bracket goes one level deeper, a closing one back up.
fn bracket(b: u8, depth: &mut usize, max: &mut usize) {
    match b {
        b'{' | b'[' => {
            *depth += 1;
            *max = (*max).max(*depth);
        }
        b'}' | b']' => *depth = depth.saturating_sub(1),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: TaskLimits = TaskLimits { max_bytes: 1024, max_depth: 8 };

    #[test]
    fn a_contract_task_decodes() {
        let body = br#"{"task_id":"ord-1","kind":"order.process","priority":5,"payload":{"a":1}}"#;
        let task = Task::decode(body, LIMITS).expect("valid");
        assert_eq!(task.task_id, "ord-1");
        assert_eq!(task.kind.as_deref(), Some("order.process"));
        assert_eq!(task.payload.get(), r#"{"a":1}"#, "the payload as written");
    }

    #[test]
    fn each_contract_violation_has_its_reason() {
        let cases: &[(&[u8], &str)] = &[
            (b"not json", "not_json"),
            (br#"{"payload":{}}"#, "bad_envelope"),
            (br#"{"task_id":"x"}"#, "bad_envelope"),
            (br#"{"task_id":"x","payload":[1]}"#, "bad_envelope"),
            (br#"{"task_id":"x","payload":"an object, really"}"#, "bad_envelope"),
            (br#"{"task_id":"x","payload":null}"#, "bad_envelope"),
            // Two task_ids: which one is meant is ambiguous, so neither is taken.
            (br#"{"task_id":"x","task_id":"y","payload":{}}"#, "bad_envelope"),
            (br#"{"task_id":"x","payload":{"a":1}"#, "not_json"),
            (br#"{"task_id":"x","payload":{}} trailing"#, "not_json"),
            (br#"{"task_id":"","payload":{}}"#, "bad_task_id"),
            (br#"{"task_id":"x","priority":12,"payload":{}}"#, "bad_priority"),
            (br#"{"task_id":"x","payload":{"a":[[[[[[[[[1]]]]]]]]]}}"#, "too_deep"),
        ];
        for (body, code) in cases {
            let err = Task::decode(body, LIMITS).expect_err("must be refused");
            assert_eq!(err.code(), *code, "{}", String::from_utf8_lossy(body));
        }
        let big = vec![b' '; 2048];
        assert_eq!(Task::decode(&big, LIMITS).expect_err("too large").code(), "too_large");
        let long_id = format!(r#"{{"task_id":"{}","payload":{{}}}}"#, "x".repeat(129));
        assert_eq!(Task::decode(long_id.as_bytes(), LIMITS).expect_err("id").code(), "bad_task_id");
    }

    #[test]
    fn brackets_inside_strings_do_not_count_as_nesting() {
        let body = br#"{"task_id":"x","payload":{"text":"[[[[[[[[[[[[[[{{{{{{\"]]]"}}"#;
        assert!(Task::decode(body, LIMITS).is_ok());
    }

    /// The byte-by-byte reading the skipping one replaced, as the reference.
    fn nesting_depth_bytewise(body: &[u8]) -> usize {
        let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
        for &b in body {
            if in_string {
                match (escaped, b) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                _ => bracket(b, &mut depth, &mut max),
            }
        }
        max
    }

    #[test]
    fn nesting_depth_reads_strings_escapes_and_brackets_as_byte_by_byte() {
        use rand::{Rng, SeedableRng};
        let alphabet = br#"{}[]"\ax"#;
        let mut rng = rand::rngs::StdRng::seed_from_u64(16);
        for _ in 0..20_000 {
            let len = rng.random_range(0..40);
            let body: Vec<u8> = (0..len).map(|_| alphabet[rng.random_range(0..alphabet.len())]).collect();
            assert_eq!(
                nesting_depth(&body),
                nesting_depth_bytewise(&body),
                "{}",
                String::from_utf8_lossy(&body)
            );
        }
        for body in [&br#""\"#[..], br#"["\""#, br#"[["\\"]"#, br#"{"a\"[":[[1]]}"#, br"\"] {
            assert_eq!(
                nesting_depth(body),
                nesting_depth_bytewise(body),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
