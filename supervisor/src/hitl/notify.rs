//! Telling people that a decision waits for them: webhooks (a JSON POST, always signed:
//! `X-Overseer-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, so a
//! receiver checks the body and rejects replays older than its window, 5 minutes suggested) and the
//! Telegram Bot API (`sendMessage`; a pending decision's message carries Approve and Reject
//! buttons, see [`super::telegram`]), for new pending decisions and escalations
//! (`hitl.notifications`). Best effort by design: a decision is durable and listed whether or
//! not anyone was told, so notifications are queued in memory (bounded; overflow is dropped,
//! logged and counted), sent in the background, and retried with exponential backoff on network
//! errors, 429 and 5xx (`hitl.notify_attempts`). Secrets (the HMAC key, the bot token, which
//! Telegram puts in the URL) come from environment variables, are read once at start (a
//! target whose variable is missing or empty is a startup error: no unsigned webhooks), and
//! never reach a log line. Redirects are not followed (a redirect could carry the signed body
//! elsewhere).

use crate::config::hitl::{NotificationTarget, NotifyEvent, NotifyKind};
use crate::hitl::PendingDecision;
use crate::redact::Secret;
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
/// Digits of the payload hash a Telegram button carries (callback data is at most 64 bytes).
pub const BUTTON_HASH_DIGITS: usize = 16;

/// The two buttons of a pending decision's Telegram message (pressed: `super::telegram`).
pub fn telegram_buttons(decision_id: &str, payload_hash: &str) -> Value {
    let hash = &payload_hash[..payload_hash.len().min(BUTTON_HASH_DIGITS)];
    json!({"inline_keyboard": [[
        {"text": "Approve", "callback_data": format!("a:{decision_id}:{hash}")},
        {"text": "Reject", "callback_data": format!("r:{decision_id}:{hash}")},
    ]]})
}

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
            "payload_hash": d.payload_hash,
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

    /// Starts the background sender for `targets`; refuses a target whose secret is missing.
    /// Each notification that gets through is noted on its decision in `record` (the
    /// decision's timeline shows it).
    pub fn start(
        targets: Vec<NotificationTarget>,
        attempts: u32,
        record: Option<Arc<dyn super::DecisionStore>>,
    ) -> Result<(Self, Option<NotifierTask>), String> {
        if targets.is_empty() {
            return Ok((Self::disabled(), None));
        }
        let targets = targets.into_iter().map(Armed::arm).collect::<Result<Vec<_>, _>>()?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let stop = CancellationToken::new();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("the notification client could not be built: {e}"))?;
        let done = tokio::spawn(run(rx, Arc::new(targets), attempts.max(1), client, stop.clone(), record));
        Ok((Self { tx: Some(tx) }, Some(NotifierTask { stop, done })))
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

/// A target with its secret (the webhook's HMAC key, the bot token).
#[derive(Debug, Clone)]
struct Armed {
    target: NotificationTarget,
    secret: Secret,
}

impl Armed {
    fn arm(target: NotificationTarget) -> Result<Self, String> {
        let var = match target.kind {
            NotifyKind::Webhook => target.secret_env.clone().unwrap_or_default(),
            NotifyKind::Telegram => target.bot_token_env.clone(),
        };
        match std::env::var(&var) {
            Ok(secret) if !secret.trim().is_empty() => Ok(Self { target, secret: Secret(secret) }),
            _ => Err(format!(
                "hitl.notifications: the {} target needs its secret in the environment variable `{var}` (missing or empty)",
                match target.kind {
                    NotifyKind::Webhook => "webhook",
                    NotifyKind::Telegram => "telegram",
                }
            )),
        }
    }
}

async fn run(
    mut rx: mpsc::Receiver<Notification>,
    targets: Arc<Vec<Armed>>,
    attempts: u32,
    client: reqwest::Client,
    stop: CancellationToken,
    record: Option<Arc<dyn super::DecisionStore>>,
) {
    let permits = Arc::new(Semaphore::new(PARALLEL));
    let mut sends = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            Some(_) = sends.join_next(), if !sends.is_empty() => {}
            next = rx.recv() => match next {
                Some(n) => {
                    for target in targets.iter().filter(|t| t.target.events.contains(&n.event)) {
                        let (target, n, client, permits) = (target.clone(), n.clone(), client.clone(), permits.clone());
                        let record = record.clone();
                        sends.spawn(async move {
                            let Ok(_permit) = permits.acquire_owned().await else { return };
                            let Some(via) = deliver(&client, &target, &n, attempts).await else { return };
                            if let (Some(store), Some(id)) = (record, n.body["decision_id"].as_str()) {
                                let notified = super::decision::Notified {
                                    event: n.body["event"].as_str().unwrap_or("hitl.pending").to_string(),
                                    via: via.to_string(),
                                    at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
                                };
                                if let Err(e) = store.note_notified(id, &notified).await {
                                    tracing::debug!(decision_id = id, error = %e, "a delivered notification was not noted on its decision");
                                }
                            }
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

/// Delivers `n` to `target` (retrying); the kind of target when it got through.
async fn deliver(
    client: &reqwest::Client,
    target: &Armed,
    n: &Notification,
    attempts: u32,
) -> Option<&'static str> {
    let kind = match target.target.kind {
        NotifyKind::Webhook => "webhook",
        NotifyKind::Telegram => "telegram",
    };
    let mut delay = Duration::from_millis(500);
    for attempt in 1..=attempts {
        match attempt_once(client, target, n).await {
            Ok(()) => {
                metrics::counter!(crate::metrics::NOTIFICATIONS, "kind" => kind, "outcome" => "sent")
                    .increment(1);
                return Some(kind);
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
    None
}

async fn attempt_once(client: &reqwest::Client, armed: &Armed, n: &Notification) -> Result<(), Failure> {
    let target = &armed.target;
    let request = match target.kind {
        NotifyKind::Webhook => {
            let url = target.url.as_deref().unwrap_or_default();
            let body = serde_json::to_vec(&n.body).unwrap_or_default();
            let t =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            client
                .post(url)
                .header("content-type", "application/json")
                .header("x-overseer-event", n.body["event"].as_str().unwrap_or_default())
                .header(SIGNATURE_HEADER, signature(armed.secret.0.as_bytes(), t, &body))
                .body(body)
        }
        NotifyKind::Telegram => {
            let token = &armed.secret.0;
            let url = format!("{}/bot{token}/sendMessage", target.api_base.trim_end_matches('/'));
            let mut message = json!({"chat_id": target.chat_id, "text": n.text()});
            if n.event == NotifyEvent::Pending {
                // Approve and Reject, answered at POST /telegram/webhook (hitl/telegram.rs).
                message["reply_markup"] = telegram_buttons(
                    n.body["decision_id"].as_str().unwrap_or_default(),
                    n.body["payload_hash"].as_str().unwrap_or_default(),
                );
            }
            client.post(url).json(&message)
        }
    };
    // `without_url`: Telegram's URL holds the token.
    let response =
        request.send().await.map_err(|e| Failure { detail: e.without_url().to_string(), retry: true })?;
    let status = response.status();
    if status.is_redirection() {
        return Err(Failure {
            detail: format!("answered {status}; redirects are not followed"),
            retry: false,
        });
    }
    if status.is_success() {
        Ok(())
    } else {
        let retry = status.is_server_error() || status.as_u16() == 429;
        Err(Failure { detail: format!("answered {status}"), retry })
    }
}

/// The signature header's value for `body` sent at `t` (Unix seconds): `t=<t>,v1=<hex>`, the
/// HMAC covering `"<t>.<body>"`.
pub fn signature(key: &[u8], t: u64, body: &[u8]) -> String {
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    format!("t={t},v1={}", sign(key, &signed))
}

/// HMAC-SHA256 of `body` under `key`, hex.
pub fn sign(key: &[u8], body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else { return String::new() };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::{sign, signature, Notifier};
    use crate::config::hitl::NotificationTarget;

    #[test]
    fn a_target_without_its_secret_stops_the_start() {
        let targets: Vec<NotificationTarget> = [
            r#"kind = "webhook"
url = "http://127.0.0.1:1/hook"
secret_env = "OVERSEER_TEST_UNSET_WEBHOOK_SECRET""#,
            r#"kind = "telegram"
chat_id = "1"
bot_token_env = "OVERSEER_TEST_UNSET_BOT_TOKEN""#,
        ]
        .iter()
        .map(|t| toml::from_str(t).expect("target"))
        .collect();
        for target in targets {
            let err = Notifier::start(vec![target], 1, None).err().expect("refused");
            assert!(err.contains("OVERSEER_TEST_UNSET_"), "{err}");
        }
    }

    #[test]
    fn the_signature_covers_the_time() {
        let a = signature(b"k", 100, b"{}");
        assert!(a.starts_with("t=100,v1="), "{a}");
        assert_eq!(a.trim_start_matches("t=100,v1="), sign(b"k", b"100.{}"));
        assert_ne!(signature(b"k", 101, b"{}").split("v1=").nth(1), a.split("v1=").nth(1));
    }

    #[test]
    fn signatures_match_the_rfc_4231_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
