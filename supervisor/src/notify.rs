//! Telling people that a decision waits for them: webhooks (a JSON POST, signed with
//! HMAC-SHA256 in `X-Overseer-Signature: sha256=<hex>` when the target has a secret) and the
//! Telegram Bot API (`sendMessage`), for new pending decisions and escalations
//! (`hitl.notifications`). Best effort by design: a decision is durable and listed whether or
//! not anyone was told, so notifications are queued in memory (bounded; overflow is dropped,
//! logged and counted), sent in the background, and retried with exponential backoff on network
//! errors, 429 and 5xx (`hitl.notify_attempts`). Secrets (the HMAC key, the bot token, which
//! Telegram puts in the URL) come from environment variables and never reach a log line.

use crate::config::hitl::{NotificationTarget, NotifyEvent, NotifyKind};
use crate::hitl::PendingDecision;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

/// Notifications waiting to be sent at most; more are dropped (and counted).
const QUEUE: usize = 1024;
/// Sends in flight at most.
const PARALLEL: usize = 32;
/// Longest wait between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The header carrying the body's signature.
pub const SIGNATURE_HEADER: &str = "x-overseer-signature";

/// One thing to tell people.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub event: NotifyEvent,
    pub body: Value,
}

impl Notification {
    pub fn about(event: NotifyEvent, d: &PendingDecision) -> Self {
        let name = match event {
            NotifyEvent::Pending => "hitl.pending",
            NotifyEvent::Escalated => "hitl.escalated",
        };
        let body = json!({
            "event": name,
            "decision_id": d.decision_id,
            "task_id": d.task_id,
            "workflow": d.workflow_id,
            "agent": d.agent,
            "confidence": d.confidence,
            "reasons": d.reasons,
            "summary": d.decision_data["proposal"]["summary"],
            "expires_at": d.expires_at,
            "sent_at": crate::events::event::now(),
        });
        Self { event, body }
    }

    fn text(&self) -> String {
        let b = &self.body;
        let what = match self.event {
            NotifyEvent::Pending => "waits for a decision",
            NotifyEvent::Escalated => "expired and was escalated",
        };
        format!(
            "overseer: {} ({}) {what}.\nConfidence {:.2}. {}\nExpires {}.",
            b["decision_id"].as_str().unwrap_or("?"),
            b["workflow"].as_str().unwrap_or("?"),
            b["confidence"].as_f64().unwrap_or(0.0),
            b["summary"].as_str().unwrap_or(""),
            b["expires_at"].as_str().unwrap_or("?"),
        )
    }
}

/// A handle that queues notifications for the background sender (cheap to clone).
#[derive(Clone, Default)]
pub struct Notifier {
    tx: Option<mpsc::Sender<Notification>>,
}

/// The running sender: cancel it at shutdown, then await it (in-flight sends get a moment).
pub struct NotifierTask {
    pub stop: CancellationToken,
    pub done: JoinHandle<()>,
}

impl Notifier {
    /// A notifier that tells nobody (no targets configured, tests).
    pub fn disabled() -> Self {
        Self { tx: None }
    }

    /// Starts the background sender for `targets`.
    pub fn start(targets: Vec<NotificationTarget>, attempts: u32) -> (Self, Option<NotifierTask>) {
        if targets.is_empty() {
            return (Self::disabled(), None);
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        let stop = CancellationToken::new();
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default();
        let done = tokio::spawn(run(rx, Arc::new(targets), attempts.max(1), client, stop.clone()));
        (Self { tx: Some(tx) }, Some(NotifierTask { stop, done }))
    }

    /// Whether anyone is told at all (callers skip building notifications otherwise).
    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    /// Queues `n` for every target that wants its event; never waits.
    pub fn notify(&self, n: Notification) {
        let Some(tx) = &self.tx else { return };
        if tx.try_send(n).is_err() {
            tracing::warn!("notification queue full or closed; a notification was dropped");
            metrics::counter!(crate::metrics::NOTIFICATIONS, "kind" => "any", "outcome" => "dropped")
                .increment(1);
        }
    }
}

async fn run(
    mut rx: mpsc::Receiver<Notification>,
    targets: Arc<Vec<NotificationTarget>>,
    attempts: u32,
    client: reqwest::Client,
    stop: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(PARALLEL));
    let mut sends = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            Some(_) = sends.join_next(), if !sends.is_empty() => {}
            next = rx.recv() => match next {
                Some(n) => {
                    for target in targets.iter().filter(|t| t.events.contains(&n.event)) {
                        let (target, n, client, permits) = (target.clone(), n.clone(), client.clone(), permits.clone());
                        sends.spawn(async move {
                            let Ok(_permit) = permits.acquire_owned().await else { return };
                            deliver(&client, &target, &n, attempts).await;
                        });
                    }
                }
                None => break,
            },
        }
    }
    // Shutting down: in-flight sends get a few seconds.
    let _ =
        tokio::time::timeout(Duration::from_secs(5), async { while sends.join_next().await.is_some() {} })
            .await;
}

/// Why one attempt failed, and whether another may succeed.
struct Failure {
    detail: String,
    retry: bool,
}

async fn deliver(client: &reqwest::Client, target: &NotificationTarget, n: &Notification, attempts: u32) {
    let kind = match target.kind {
        NotifyKind::Webhook => "webhook",
        NotifyKind::Telegram => "telegram",
    };
    let mut delay = Duration::from_millis(500);
    for attempt in 1..=attempts {
        match attempt_once(client, target, n).await {
            Ok(()) => {
                metrics::counter!(crate::metrics::NOTIFICATIONS, "kind" => kind, "outcome" => "sent")
                    .increment(1);
                return;
            }
            Err(f) if f.retry && attempt < attempts => {
                tracing::debug!(kind, attempt, detail = %f.detail, "notification failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_BACKOFF);
            }
            Err(f) => {
                tracing::warn!(kind, attempt, detail = %f.detail, decision_id = %n.body["decision_id"], "notification not delivered");
                break;
            }
        }
    }
    metrics::counter!(crate::metrics::NOTIFICATIONS, "kind" => kind, "outcome" => "failed").increment(1);
}

async fn attempt_once(
    client: &reqwest::Client,
    target: &NotificationTarget,
    n: &Notification,
) -> Result<(), Failure> {
    let request = match target.kind {
        NotifyKind::Webhook => {
            let url = target.url.as_deref().unwrap_or_default();
            let body = serde_json::to_vec(&n.body).unwrap_or_default();
            let mut request = client
                .post(url)
                .header("content-type", "application/json")
                .header("x-overseer-event", n.body["event"].as_str().unwrap_or_default());
            if let Some(secret) = target.secret_env.as_deref().and_then(|v| std::env::var(v).ok()) {
                request =
                    request.header(SIGNATURE_HEADER, format!("sha256={}", sign(secret.as_bytes(), &body)));
            }
            request.body(body)
        }
        NotifyKind::Telegram => {
            let token =
                std::env::var(&target.bot_token_env).ok().filter(|t| !t.is_empty()).ok_or_else(|| {
                    Failure { detail: format!("no bot token in {}", target.bot_token_env), retry: false }
                })?;
            let url = format!("{}/bot{token}/sendMessage", target.api_base.trim_end_matches('/'));
            client.post(url).json(&json!({"chat_id": target.chat_id, "text": n.text()}))
        }
    };
    // `without_url`: Telegram's URL holds the token.
    let response =
        request.send().await.map_err(|e| Failure { detail: e.without_url().to_string(), retry: true })?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        let retry = status.is_server_error() || status.as_u16() == 429;
        Err(Failure { detail: format!("answered {status}"), retry })
    }
}

/// HMAC-SHA256 of `body` under `key`, hex.
pub fn sign(key: &[u8], body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else { return String::new() };
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::sign;

    #[test]
    fn signatures_match_the_rfc_4231_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
