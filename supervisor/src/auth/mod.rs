//! Who a caller is and what they may do. Every HTTP caller is unknown until its bearer token
//! (or the dashboard's session cookie holding one) is verified here; the verified subject and
//! role, never a name the client sends, decide what it may do and are what the audit records.
//!
//! - [`keys`]: verifying tokens (pinned algorithms, HS256 secret or public keys / JWKS).
//! - [`issue`]: minting HS256 tokens (`overseer token issue`).
//! - [`csrf`]: the signed double-submit token of browser sessions.
//! - [`limits`]: rate limits per subject and per client address.

pub mod csrf;
pub mod issue;
pub mod keys;
pub mod limits;

use serde::{Deserialize, Serialize};

/// What a caller may do; each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads decisions, workflows, metrics and history.
    Viewer,
    /// Decides (approve, edit, reject) and submits onboarding leads.
    Approver,
    /// Changes workflows, controls the supervisor, reads the audit log.
    Admin,
}

impl Role {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "viewer" => Some(Self::Viewer),
            "approver" => Some(Self::Approver),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Approver => "approver",
            Self::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's `sub`.
    pub subject: String,
    pub role: Role,
    /// The token's `groups` (matched by `group:<name>` entries of approver lists).
    pub groups: Vec<String>,
    /// The token's `workflows`: when present, the only workflows this caller may decide.
    pub workflows: Option<Vec<String>>,
    /// The token's `exp` (Unix seconds).
    pub expires_at: u64,
}

impl Principal {
    /// Whether this caller's token lets it decide `workflow` (its role aside).
    pub fn may_decide_in(&self, workflow: &str) -> bool {
        self.workflows.as_ref().is_none_or(|w| w.iter().any(|x| x == workflow))
    }

    /// Whether an approver list lets this caller decide: an entry names the subject, or a
    /// group as `group:<name>`; an empty list lets any approver decide.
    pub fn on_list(&self, approvers: &[String]) -> bool {
        approvers.is_empty()
            || approvers.iter().any(|entry| match entry.strip_prefix("group:") {
                Some(group) => self.groups.iter().any(|g| g == group),
                None => *entry == self.subject,
            })
    }
}

/// Whether `subject` is one overseer writes as itself (`overseer`, `overseer-adaptive`, ...)
/// or otherwise not a person's name: no token may claim it.
pub fn reserved_subject(subject: &str) -> bool {
    let lower = subject.to_ascii_lowercase();
    lower.starts_with("overseer") || matches!(lower.as_str(), "system" | "anonymous" | "root")
}

/// A subject is 1..128 printable characters without spaces (it lands in logs and audit
/// entries verbatim).
pub fn valid_subject(subject: &str) -> bool {
    (1..=128).contains(&subject.len())
        && subject.chars().all(|c| c.is_ascii_graphic() || (!c.is_ascii() && !c.is_control()))
}

/// Why a token was refused. The message names the rule, never the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no credentials: send `Authorization: Bearer <token>`")]
    Missing,
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's algorithm is not accepted here")]
    Algorithm,
    #[error("the token's signature does not verify")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token is for another audience")]
    Audience,
    #[error("the token is from another issuer")]
    Issuer,
    #[error("the token's claims are not valid: {0}")]
    Claims(String),
    #[error("the subject `{0}` is reserved for overseer itself")]
    Reserved(String),
}

impl AuthError {
    /// A short code for metrics and the audit log.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed => "malformed",
            Self::Algorithm => "algorithm",
            Self::Signature => "signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::Audience => "audience",
            Self::Issuer => "issuer",
            Self::Claims(_) => "claims",
            Self::Reserved(_) => "reserved_subject",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(subject: &str, groups: &[&str]) -> Principal {
        Principal {
            subject: subject.into(),
            role: Role::Approver,
            groups: groups.iter().map(|g| g.to_string()).collect(),
            workflows: None,
            expires_at: 0,
        }
    }

    #[test]
    fn approver_lists_match_the_subject_or_a_group() {
        let list = vec!["ada".to_string(), "group:finance".to_string()];
        assert!(who("ada", &[]).on_list(&list));
        assert!(who("bob", &["finance"]).on_list(&list));
        assert!(!who("bob", &["sales"]).on_list(&list));
        assert!(!who("finance", &[]).on_list(&list), "a subject is not a group");
        assert!(who("bob", &[]).on_list(&[]));
    }

    #[test]
    fn system_subjects_are_reserved() {
        for s in ["overseer", "overseer-adaptive", "Overseer", "system", "anonymous"] {
            assert!(reserved_subject(s), "{s}");
        }
        assert!(!reserved_subject("ada"));
        assert!(!valid_subject("ada lovelace"));
        assert!(!valid_subject("ada\n"));
        assert!(valid_subject("ada@example.com"));
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Admin > Role::Approver && Role::Approver > Role::Viewer);
        assert_eq!(Role::parse("admin"), Some(Role::Admin));
        assert_eq!(Role::parse("root"), None);
    }
}
