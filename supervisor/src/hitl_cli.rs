//! `overseer hitl …`: the HITL API from a terminal. Each function calls a running replica's
//! API (any replica: the state is shared) and returns the text to print; an API error comes
//! back as [`CliError`] with the API's own `detail`. It authenticates with the bearer token
//! given (`OVERSEER_TOKEN`), percent-encodes every path and query part it sends, and strips
//! control characters from the text it prints (model output is untrusted: it must not move
//! the cursor, recolour or rewrite the terminal).

use serde_json::{json, Value};
use std::fmt::Write as _;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("cannot reach the API at {api}: {detail}")]
    Unreachable { api: String, detail: String },
    #[error("{detail} ({status})")]
    Api { status: u16, detail: String },
    #[error("the API URL is not valid: {0}")]
    BadUrl(String),
}

/// A client for one API base URL, with the caller's token.
pub struct HitlClient {
    api: url::Url,
    token: Option<String>,
    http: reqwest::Client,
}

/// `text` without control characters (C0, C1, DEL) and bidirectional overrides, `keep`
/// excepted.
pub fn printable(text: &str, keep: &[char]) -> String {
    text.chars()
        .filter(|c| {
            keep.contains(c)
                || !(c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
        })
        .collect()
}

/// A workflow change asked for on the command line.
#[derive(Debug, Default, Clone)]
pub struct WorkflowChanges {
    pub enabled: Option<bool>,
    pub threshold: Option<f64>,
    pub autonomy: Option<String>,
}

impl HitlClient {
    pub fn new(api: &str, token: Option<String>) -> Result<Self, CliError> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(15)).build().unwrap_or_default();
        let api = url::Url::parse(api).map_err(|e| CliError::BadUrl(e.to_string()))?;
        if api.cannot_be_a_base() {
            return Err(CliError::BadUrl(format!("{api} cannot be a base URL")));
        }
        Ok(Self { api, token: token.filter(|t| !t.trim().is_empty()), http })
    }

    /// The URL of `segments` (each percent-encoded as one path segment) with `query`.
    fn url(&self, segments: &[&str], query: &[(&str, String)]) -> url::Url {
        let mut url = self.api.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    async fn call(
        &self,
        method: reqwest::Method,
        url: url::Url,
        body: Option<Value>,
    ) -> Result<Value, CliError> {
        let mut request = self.http.request(method, url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.trim());
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let unreachable = |e: reqwest::Error| CliError::Unreachable {
            api: crate::redact::mask_url(self.api.as_str()),
            detail: e.without_url().to_string(),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status().as_u16();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            Ok(value)
        } else {
            let detail = printable(value["detail"].as_str().unwrap_or("the API refused the request"), &[]);
            Err(CliError::Api { status, detail })
        }
    }

    /// One line per pending decision: id, workflow, confidence, deadline, summary.
    pub async fn pending(&self, workflow: Option<&str>, limit: usize) -> Result<String, CliError> {
        let mut query = vec![("limit", limit.to_string())];
        if let Some(w) = workflow {
            query.push(("workflow", w.to_string()));
        }
        let page =
            self.call(reqwest::Method::GET, self.url(&["api", "hitl", "pending"], &query), None).await?;
        let decisions = page["decisions"].as_array().cloned().unwrap_or_default();
        let mut out = format!("{} pending\n", decisions.len());
        for d in &decisions {
            let _ = writeln!(
                out,
                "{}\t{}\t{:.2}\texpires {}\t{}\t[model] {}",
                printable(d["decision_id"].as_str().unwrap_or("?"), &[]),
                printable(d["workflow_id"].as_str().unwrap_or("?"), &[]),
                d["confidence"].as_f64().unwrap_or(0.0),
                printable(d["expires_at"].as_str().unwrap_or("?"), &[]),
                printable(&actions_text(&d["decision_data"]["proposal"]["actions"]), &[]),
                printable(d["decision_data"]["proposal"]["summary"].as_str().unwrap_or(""), &[]),
            );
        }
        Ok(out)
    }

    /// The whole decision, as pretty JSON.
    pub async fn show(&self, id: &str) -> Result<String, CliError> {
        let url = self.url(&["api", "brain", "hitl", "decisions", id], &[]);
        let d = self.call(reqwest::Method::GET, url, None).await?;
        Ok(printable(&serde_json::to_string_pretty(&d).unwrap_or_default(), &['\n']))
    }

    /// Approves `id`, optionally with feedback and an edited proposal.
    pub async fn approve(
        &self,
        id: &str,
        feedback: Option<&str>,
        edited: Option<Value>,
    ) -> Result<String, CliError> {
        let (shown, hash) = self.shown(id).await?;
        let mut body = json!({"feedback": feedback, "payload_hash": hash});
        if let Some(e) = edited {
            body["edited"] = e;
        }
        let url = self.url(&["api", "brain", "hitl", "decisions", id, "approve"], &[]);
        let answer = self.call(reqwest::Method::POST, url, Some(body)).await?;
        Ok(format!("{shown}{}", outcome_line(&answer)))
    }

    pub async fn reject(&self, id: &str, feedback: &str) -> Result<String, CliError> {
        let (shown, hash) = self.shown(id).await?;
        let body = json!({"feedback": feedback, "payload_hash": hash});
        let url = self.url(&["api", "brain", "hitl", "decisions", id, "reject"], &[]);
        let answer = self.call(reqwest::Method::POST, url, Some(body)).await?;
        Ok(format!("{shown}{}", outcome_line(&answer)))
    }

    /// What is decided, as printed before the outcome (actions with amounts, the reasons), and
    /// the payload hash of exactly that: a proposal changed since answers 409, never executes.
    async fn shown(&self, id: &str) -> Result<(String, String), CliError> {
        let url = self.url(&["api", "brain", "hitl", "decisions", id], &[]);
        let d = self.call(reqwest::Method::GET, url, None).await?;
        let hash = d["payload_hash"].as_str().unwrap_or_default().to_string();
        let reasons: Vec<&str> =
            d["reasons"].as_array().map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        let text = format!(
            "actions: {}\nreasons: {}\n",
            actions_text(&d["decision_data"]["proposal"]["actions"]),
            reasons.join("; ")
        );
        Ok((printable(&text, &['\n']), hash))
    }

    /// Lists the workflows, or applies `changes` to `id` and shows it.
    pub async fn workflows(&self, id: Option<&str>, changes: &WorkflowChanges) -> Result<String, CliError> {
        let Some(id) = id else {
            let all = self
                .call(reqwest::Method::GET, self.url(&["api", "brain", "hitl", "workflows"], &[]), None)
                .await?;
            let mut out = String::new();
            for w in all["details"].as_array().cloned().unwrap_or_default() {
                out.push_str(&workflow_line(&w));
            }
            return Ok(out);
        };
        let at = |action: &'static str, query: &[(&str, String)]| {
            let mut segments = vec!["api", "brain", "hitl", "workflows", id];
            if !action.is_empty() {
                segments.push(action);
            }
            self.url(&segments, query)
        };
        if let Some(enabled) = changes.enabled {
            self.call(reqwest::Method::POST, at("toggle", &[("enabled", enabled.to_string())]), None).await?;
        }
        if let Some(t) = changes.threshold {
            self.call(reqwest::Method::PUT, at("confidence", &[("threshold", t.to_string())]), None).await?;
        }
        if let Some(level) = &changes.autonomy {
            self.call(reqwest::Method::PUT, at("autonomy", &[("level", level.clone())]), None).await?;
        }
        Ok(workflow_line(&self.call(reqwest::Method::GET, at("", &[]), None).await?))
    }
}

/// `refund 10, fulfil` from a proposal's actions.
fn actions_text(actions: &Value) -> String {
    let list = actions.as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        return "none".into();
    }
    list.iter()
        .map(|a| {
            let mut text = a["action"].as_str().unwrap_or("?").to_string();
            for field in ["amount", "quantity"] {
                if let Some(n) = a[field].as_f64() {
                    text.push_str(&format!(" {field} {n}"));
                }
            }
            text
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn outcome_line(answer: &Value) -> String {
    let line = format!(
        "{}: {} ({})",
        answer["decision_id"].as_str().unwrap_or("?"),
        answer["status"].as_str().unwrap_or("?"),
        answer["message"].as_str().unwrap_or(""),
    );
    format!("{}\n", printable(&line, &[]))
}

fn workflow_line(w: &Value) -> String {
    let line = format!(
        "{}\thitl {}\tthreshold {}\t{}\t{}",
        w["workflow_id"].as_str().unwrap_or("?"),
        if w["hitl_enabled"].as_bool().unwrap_or(false) { "on" } else { "off" },
        w["confidence_threshold"],
        w["autonomy_level"].as_str().unwrap_or("?"),
        w["last_updated"].as_str().unwrap_or(""),
    );
    format!("{}\n", printable(&line, &['\t']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_text_loses_terminal_controls() {
        let evil = "ok\u{1b}[2J\u{1b}]0;pwned\u{7}\r\u{9b}31m\u{202e}gnp.exe";
        assert_eq!(printable(evil, &[]), "ok[2J]0;pwned31mgnp.exe");
        assert_eq!(printable("a\tb\nc", &['\n']), "ab\nc");
    }

    #[test]
    fn path_and_query_parts_are_encoded() {
        let c = HitlClient::new("http://127.0.0.1:8001/", None).expect("url");
        let url = c.url(
            &["api", "brain", "hitl", "decisions", "../workflows?x=1#y"],
            &[("workflow", "a&b=c d".into())],
        );
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8001/api/brain/hitl/decisions/..%2Fworkflows%3Fx=1%23y?workflow=a%26b%3Dc+d"
        );
    }
}
