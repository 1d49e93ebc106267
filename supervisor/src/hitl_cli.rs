//! `overseer hitl …`: the HITL API from a terminal. Each function calls a running replica's
//! API (any replica: the state is shared) and returns the text to print; an API error comes
//! back as [`CliError`] with the API's own `detail`.

use serde_json::{json, Value};
use std::fmt::Write as _;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("cannot reach the API at {api}: {detail}")]
    Unreachable { api: String, detail: String },
    #[error("{detail} ({status})")]
    Api { status: u16, detail: String },
}

/// A client for one API base URL, acting as `user`.
pub struct HitlClient {
    api: String,
    user: String,
    http: reqwest::Client,
}

/// A workflow change asked for on the command line.
#[derive(Debug, Default, Clone)]
pub struct WorkflowChanges {
    pub enabled: Option<bool>,
    pub threshold: Option<f64>,
    pub autonomy: Option<String>,
}

impl HitlClient {
    pub fn new(api: &str, user: &str) -> Self {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(15)).build().unwrap_or_default();
        Self { api: api.trim_end_matches('/').to_string(), user: user.to_string(), http }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, CliError> {
        let mut request =
            self.http.request(method, format!("{}{path}", self.api)).header("x-overseer-user", &self.user);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let unreachable =
            |e: reqwest::Error| CliError::Unreachable { api: self.api.clone(), detail: e.to_string() };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status().as_u16();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            Ok(value)
        } else {
            let detail = value["detail"].as_str().unwrap_or("the API refused the request").to_string();
            Err(CliError::Api { status, detail })
        }
    }

    /// One line per pending decision: id, workflow, confidence, deadline, summary.
    pub async fn pending(&self, workflow: Option<&str>, limit: usize) -> Result<String, CliError> {
        let mut path = format!("/api/hitl/pending?limit={limit}");
        if let Some(w) = workflow {
            path.push_str(&format!("&workflow={w}"));
        }
        let page = self.call(reqwest::Method::GET, &path, None).await?;
        let decisions = page["decisions"].as_array().cloned().unwrap_or_default();
        let mut out = format!("{} pending\n", decisions.len());
        for d in &decisions {
            let _ = writeln!(
                out,
                "{}\t{}\t{:.2}\texpires {}\t{}",
                d["decision_id"].as_str().unwrap_or("?"),
                d["workflow_id"].as_str().unwrap_or("?"),
                d["confidence"].as_f64().unwrap_or(0.0),
                d["expires_at"].as_str().unwrap_or("?"),
                d["decision_data"]["proposal"]["summary"].as_str().unwrap_or(""),
            );
        }
        Ok(out)
    }

    /// The whole decision, as pretty JSON.
    pub async fn show(&self, id: &str) -> Result<String, CliError> {
        let d = self.call(reqwest::Method::GET, &format!("/api/brain/hitl/decisions/{id}"), None).await?;
        Ok(serde_json::to_string_pretty(&d).unwrap_or_default())
    }

    /// Approves `id`, optionally with feedback and an edited proposal.
    pub async fn approve(
        &self,
        id: &str,
        feedback: Option<&str>,
        edited: Option<Value>,
    ) -> Result<String, CliError> {
        let mut body = json!({"feedback": feedback});
        if let Some(e) = edited {
            body["edited"] = e;
        }
        let answer = self
            .call(reqwest::Method::POST, &format!("/api/brain/hitl/decisions/{id}/approve"), Some(body))
            .await?;
        Ok(outcome_line(&answer))
    }

    pub async fn reject(&self, id: &str, feedback: &str) -> Result<String, CliError> {
        let body = json!({"feedback": feedback});
        let answer = self
            .call(reqwest::Method::POST, &format!("/api/brain/hitl/decisions/{id}/reject"), Some(body))
            .await?;
        Ok(outcome_line(&answer))
    }

    /// Lists the workflows, or applies `changes` to `id` and shows it.
    pub async fn workflows(&self, id: Option<&str>, changes: &WorkflowChanges) -> Result<String, CliError> {
        let Some(id) = id else {
            let all = self.call(reqwest::Method::GET, "/api/brain/hitl/workflows", None).await?;
            let mut out = String::new();
            for w in all["workflows"].as_array().cloned().unwrap_or_default() {
                out.push_str(&workflow_line(&w));
            }
            return Ok(out);
        };
        let base = format!("/api/brain/hitl/workflows/{id}");
        if let Some(enabled) = changes.enabled {
            self.call(reqwest::Method::POST, &format!("{base}/toggle?enabled={enabled}"), None).await?;
        }
        if let Some(t) = changes.threshold {
            self.call(reqwest::Method::PUT, &format!("{base}/confidence?threshold={t}"), None).await?;
        }
        if let Some(level) = &changes.autonomy {
            self.call(reqwest::Method::PUT, &format!("{base}/autonomy?level={level}"), None).await?;
        }
        Ok(workflow_line(&self.call(reqwest::Method::GET, &base, None).await?))
    }
}

fn outcome_line(answer: &Value) -> String {
    format!(
        "{}: {} ({})\n",
        answer["decision_id"].as_str().unwrap_or("?"),
        answer["status"].as_str().unwrap_or("?"),
        answer["message"].as_str().unwrap_or(""),
    )
}

fn workflow_line(w: &Value) -> String {
    format!(
        "{}\thitl {}\tthreshold {}\t{}\t{}\n",
        w["workflow_id"].as_str().unwrap_or("?"),
        if w["hitl_enabled"].as_bool().unwrap_or(false) { "on" } else { "off" },
        w["confidence_threshold"],
        w["autonomy_level"].as_str().unwrap_or("?"),
        w["last_updated"].as_str().unwrap_or(""),
    )
}
