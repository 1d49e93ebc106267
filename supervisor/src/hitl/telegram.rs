//! Deciding from Telegram. A pending decision's Telegram message carries two inline buttons
//! (Approve, Reject) whose callback data names the decision and the first 16 hex digits of the
//! payload hash the message showed. Telegram posts each press to `POST /telegram/webhook`
//! with the secret given to `setWebhook` in `X-Telegram-Bot-Api-Secret-Token`: an update
//! without it is refused. The pressing Telegram user must be mapped to an approver subject
//! (`hitl.telegram.approvers`); that subject then decides through the HITL service exactly as
//! an approver's token would (approver lists, groups, M-of-N, the payload hash, the audit).
//! The press is answered (`answerCallbackQuery`) and the message edited to show the outcome
//! and who decided.

use super::notify::BUTTON_HASH_DIGITS as HASH_DIGITS;
use super::service::{DecideError, Decided, Decider, HitlService, Request, Verdict};
use crate::auth::{Principal, Role};
use crate::config::hitl::{TelegramApprover, TelegramConfig};
use crate::redact::Secret;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// A button press, as its callback data says.
#[derive(Debug, Clone, PartialEq)]
pub struct Press {
    pub verdict: Verdict,
    pub decision_id: String,
    pub hash_prefix: String,
}

impl Press {
    pub fn parse(data: &str) -> Option<Self> {
        let mut parts = data.splitn(3, ':');
        let verdict = match parts.next()? {
            "a" => Verdict::Approve,
            "r" => Verdict::Reject,
            _ => return None,
        };
        let decision_id = parts.next().filter(|id| !id.is_empty())?.to_string();
        let hash_prefix = parts.next().filter(|h| h.len() == HASH_DIGITS)?.to_string();
        Some(Self { verdict, decision_id, hash_prefix })
    }
}

/// The parts of a Telegram update a press needs.
#[derive(Debug, Deserialize)]
pub struct Update {
    #[serde(default)]
    callback_query: Option<CallbackQuery>,
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    id: String,
    from: User,
    #[serde(default)]
    message: Option<Message>,
    #[serde(default)]
    data: Option<String>,
}

#[derive(Debug, Deserialize)]
struct User {
    id: i64,
}

#[derive(Debug, Deserialize)]
struct Message {
    message_id: i64,
    chat: Chat,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Chat {
    id: i64,
}

/// What a press came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Pressed {
    /// Not a button press (another kind of update): nothing to do.
    Ignored,
    /// The decision changed (or an approval was counted) as `subject`.
    Decided { subject: String, decision_id: String, status: String },
    /// The Telegram user is not mapped to an approver.
    Unknown { user: i64 },
    /// The service refused (not on the list, already decided, payload changed, ...).
    Refused { subject: String, reason: String, forbidden: bool },
}

pub struct TelegramApprovals {
    client: reqwest::Client,
    api_base: String,
    token: Secret,
    webhook_secret: Secret,
    approvers: BTreeMap<String, TelegramApprover>,
}

fn secret_from(var: &str, what: &str) -> Result<Secret, String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(Secret(v)),
        _ => Err(format!(
            "hitl.telegram: the {what} must be in the environment variable `{var}` (missing or empty)"
        )),
    }
}

impl TelegramApprovals {
    /// Reads the bot token and the webhook secret from their variables (missing: an error).
    pub fn from_config(c: &TelegramConfig) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("the Telegram client could not be built: {e}"))?;
        Ok(Self {
            client,
            api_base: c.api_base.trim_end_matches('/').to_string(),
            token: secret_from(&c.bot_token_env, "bot token")?,
            webhook_secret: secret_from(&c.webhook_secret_env, "webhook secret")?,
            approvers: c.approvers.clone(),
        })
    }

    /// Whether `presented` is the webhook secret (compared in constant time).
    pub fn verify(&self, presented: Option<&str>) -> bool {
        presented.is_some_and(|p| bool::from(p.as_bytes().ct_eq(self.webhook_secret.0.as_bytes())))
    }

    /// The approver a Telegram user decides as.
    fn approver(&self, user: i64) -> Option<Principal> {
        self.approvers.get(&user.to_string()).map(|a| Principal {
            subject: a.subject.clone(),
            role: Role::Approver,
            groups: a.groups.clone(),
            workflows: None,
            expires_at: u64::MAX,
        })
    }

    /// Acts on one update (its secret already verified): decides through `hitl` as the mapped
    /// approver, then answers the press and edits the message.
    pub async fn handle(&self, hitl: &HitlService, update: Update) -> Pressed {
        let Some(query) = update.callback_query else { return Pressed::Ignored };
        let Some(press) = query.data.as_deref().and_then(Press::parse) else {
            self.answer(&query.id, "This button is not one of overseer's.").await;
            return Pressed::Ignored;
        };
        let Some(principal) = self.approver(query.from.id) else {
            self.answer(&query.id, "You are not an approver here.").await;
            return Pressed::Unknown { user: query.from.id };
        };
        let pressed = self.decide(hitl, &press, &principal).await;
        match &pressed {
            Pressed::Decided { subject, status, .. } => {
                let shown = match status.as_str() {
                    "approved" => "✅ Approved",
                    "rejected" => "❌ Rejected",
                    _ => "☑️ Approval counted",
                };
                self.answer(&query.id, shown).await;
                if let Some(message) = &query.message {
                    let text = format!(
                        "{}\n\n{shown} by {subject}.",
                        message.text.as_deref().unwrap_or(&press.decision_id)
                    );
                    self.edit(message, &text).await;
                }
            }
            Pressed::Refused { reason, .. } => self.answer(&query.id, reason).await,
            Pressed::Ignored | Pressed::Unknown { .. } => {}
        }
        pressed
    }

    async fn decide(&self, hitl: &HitlService, press: &Press, principal: &Principal) -> Pressed {
        let subject = principal.subject.clone();
        let refused = |reason: String, forbidden: bool| Pressed::Refused {
            subject: subject.clone(),
            reason,
            forbidden,
        };
        // The full hash of what the message showed: the stored one, if the button's digits
        // are its start; otherwise the payload changed since (or the button is forged).
        let stored = match hitl.store().get(&press.decision_id).await {
            Ok(Some(d)) => d.payload_hash,
            Ok(None) => return refused(format!("no decision `{}`", press.decision_id), false),
            Err(e) => return refused(e.to_string(), false),
        };
        let seen = if stored.starts_with(&press.hash_prefix) { stored } else { press.hash_prefix.clone() };
        let request = Request {
            feedback: Some("decided from Telegram".into()),
            edited: None,
            payload_hash: Some(seen),
        };
        let by = Decider { principal, from: Some("telegram".into()) };
        match hitl.decide(&press.decision_id, press.verdict, request, by).await {
            Ok(Decided::Counted { decision, .. } | Decided::Final(decision)) => Pressed::Decided {
                subject: subject.clone(),
                decision_id: decision.decision_id,
                status: decision.status,
            },
            Err(e) => {
                let forbidden = matches!(e, DecideError::Forbidden(_));
                refused(e.to_string(), forbidden)
            }
        }
    }

    async fn call(&self, method: &str, body: Value) {
        let url = format!("{}/bot{}/{method}", self.api_base, self.token.0);
        match self.client.post(url).json(&body).send().await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => tracing::warn!(method, status = %r.status(), "Telegram refused a call"),
            // `without_url`: the URL holds the token.
            Err(e) => tracing::warn!(method, error = %e.without_url(), "Telegram did not answer"),
        }
    }

    async fn answer(&self, callback_id: &str, text: &str) {
        self.call("answerCallbackQuery", json!({"callback_query_id": callback_id, "text": text})).await;
    }

    async fn edit(&self, message: &Message, text: &str) {
        let body = json!({"chat_id": message.chat.id, "message_id": message.message_id, "text": text});
        self.call("editMessageText", body).await;
    }
}

#[cfg(test)]
mod tests {
    use super::super::notify::telegram_buttons;
    use super::*;

    #[test]
    fn a_button_names_the_decision_and_the_hash_and_parses_back() {
        let hash = "ab".repeat(32);
        let b = telegram_buttons("dec_20251014_123456_a1b2c3", &hash);
        let approve = b["inline_keyboard"][0][0]["callback_data"].as_str().expect("data");
        assert!(approve.len() <= 64, "{approve}");
        let press = Press::parse(approve).expect("parses");
        assert_eq!(press.verdict, Verdict::Approve);
        assert_eq!(press.decision_id, "dec_20251014_123456_a1b2c3");
        assert!(hash.starts_with(&press.hash_prefix));
        let reject = b["inline_keyboard"][0][1]["callback_data"].as_str().expect("data");
        assert_eq!(Press::parse(reject).map(|p| p.verdict), Some(Verdict::Reject));
        for bad in ["", "x:dec:0123456789abcdef", "a::0123456789abcdef", "a:dec:short"] {
            assert_eq!(Press::parse(bad), None, "{bad}");
        }
    }
}
