//! Settings of the human-in-the-loop service (per-workflow settings live in `[workflows]`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HitlConfig {
    /// How often each replica looks for pending decisions past their deadline. Every replica
    /// sweeps; the atomic state change makes each expiry happen once.
    #[serde(default = "default_sweep", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub sweep_interval: Duration,
    /// How long a decided decision stays readable (history) after its pending TTL.
    #[serde(default = "default_history", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub history: Duration,
    /// How often each replica checks whether a workflow was changed (on any replica); a change
    /// reaches every replica within this interval.
    #[serde(default = "default_workflow_poll", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub workflow_poll: Duration,
    /// Where people are told about new pending decisions and escalations.
    #[serde(default)]
    pub notifications: Vec<NotificationTarget>,
    /// Attempts per notification (retried with backoff on network errors, 429 and 5xx).
    #[serde(default = "default_notify_attempts")]
    pub notify_attempts: u32,
    /// How long a runner of a decided decision's effects holds it without renewing; a live
    /// runner renews every third of this, so only a runner that stalled this long is replaced.
    #[serde(default = "default_outbox_lease", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub outbox_lease: Duration,
    /// How long a decision's effects are left to whoever decided it before the sweepers run
    /// what is missing.
    #[serde(default = "default_outbox_settle", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub outbox_settle: Duration,
    /// Deciding from Telegram: the buttons on pending-decision messages and the webhook
    /// (`POST /telegram/webhook`) their presses arrive at. Off when absent.
    #[serde(default)]
    pub telegram: Option<TelegramConfig>,
}

/// Approving from Telegram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    /// The variable holding the secret Telegram sends in `X-Telegram-Bot-Api-Secret-Token`
    /// (the `secret_token` given to `setWebhook`); an update without it is refused.
    #[serde(default = "default_webhook_secret_env")]
    pub webhook_secret_env: String,
    /// The variable holding the bot token (to answer presses and edit the message).
    #[serde(default = "default_token_env")]
    pub bot_token_env: String,
    /// The Bot API base URL.
    #[serde(default = "default_telegram_api")]
    pub api_base: String,
    /// Telegram user id → the approver that user decides as; presses from anyone else are
    /// refused and audited.
    #[serde(default)]
    pub approvers: std::collections::BTreeMap<String, TelegramApprover>,
}

/// Who a Telegram user decides as: a subject (matched against approver lists and counted for
/// M-of-N like a token's) and its groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TelegramApprover {
    /// The approver subject the user's presses count as (like a token's `sub`).
    pub subject: String,
    /// Groups matched by `group:<name>` entries of approver lists.
    #[serde(default)]
    pub groups: Vec<String>,
}

fn default_webhook_secret_env() -> String {
    "OVERSEER_TELEGRAM_WEBHOOK_SECRET".into()
}

/// What is notified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    /// A decision was parked for a person.
    Pending,
    /// A decision expired and was escalated to `hitl_exceptions`.
    Escalated,
}

/// How a target is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotifyKind {
    /// JSON POST to `url`, signed with HMAC-SHA256 (key from `secret_env`).
    Webhook,
    /// A message through the Telegram Bot API to `chat_id`.
    Telegram,
}

/// One notification target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationTarget {
    pub kind: NotifyKind,
    /// Webhook: where to POST.
    #[serde(default)]
    pub url: Option<String>,
    /// Webhook: the environment variable holding the HMAC key (required; the key never sits in
    /// config).
    #[serde(default)]
    pub secret_env: Option<String>,
    /// Telegram: the chat to write to.
    #[serde(default)]
    pub chat_id: Option<String>,
    /// Telegram: the environment variable holding the bot token.
    #[serde(default = "default_token_env")]
    pub bot_token_env: String,
    /// Telegram: the Bot API base URL.
    #[serde(default = "default_telegram_api")]
    pub api_base: String,
    /// Which events go to this target.
    #[serde(default = "all_events")]
    pub events: Vec<NotifyEvent>,
}

impl NotificationTarget {
    /// Problems with this target, as messages; empty when valid.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let http = |u: &str| u.starts_with("http://") || u.starts_with("https://");
        match self.kind {
            NotifyKind::Webhook if !self.url.as_deref().is_some_and(http) => {
                out.push("a webhook needs an http(s) `url`".to_string())
            }
            NotifyKind::Webhook if self.secret_env.as_deref().is_none_or(|v| v.trim().is_empty()) => {
                out.push("a webhook needs `secret_env` (webhooks are always signed)".to_string())
            }
            NotifyKind::Telegram if self.chat_id.as_deref().is_none_or(|c| c.trim().is_empty()) => {
                out.push("a telegram target needs a `chat_id`".to_string())
            }
            NotifyKind::Telegram if !http(&self.api_base) => {
                out.push("`api_base` must be an http(s) URL".into())
            }
            _ => {}
        }
        out
    }
}

fn default_token_env() -> String {
    "OVERSEER_TELEGRAM_BOT_TOKEN".into()
}
fn default_telegram_api() -> String {
    "https://api.telegram.org".into()
}
fn all_events() -> Vec<NotifyEvent> {
    vec![NotifyEvent::Pending, NotifyEvent::Escalated]
}
fn default_notify_attempts() -> u32 {
    5
}

impl Default for HitlConfig {
    fn default() -> Self {
        Self {
            sweep_interval: default_sweep(),
            history: default_history(),
            workflow_poll: default_workflow_poll(),
            notifications: Vec::new(),
            notify_attempts: default_notify_attempts(),
            outbox_lease: default_outbox_lease(),
            outbox_settle: default_outbox_settle(),
            telegram: None,
        }
    }
}

fn default_outbox_lease() -> Duration {
    Duration::from_secs(60)
}
fn default_outbox_settle() -> Duration {
    Duration::from_secs(5)
}
fn default_sweep() -> Duration {
    Duration::from_secs(1)
}
fn default_history() -> Duration {
    Duration::from_secs(24 * 3600)
}
fn default_workflow_poll() -> Duration {
    Duration::from_millis(250)
}
