//! The topics of CONTRACT.md and the time format events carry; the events themselves are the
//! structs of [`super::contract`].

/// Topic names the runtime writes to (created by `overseer setup`).
pub mod topic {
    pub const COMPLETIONS: &str = "ai.completions";
    pub const DECISIONS: &str = "ai.decisions";
    pub const ERRORS: &str = "ai.errors";
    pub const HITL_REQUESTS: &str = "hitl.requests";
    pub const HITL_DECISIONS: &str = "hitl.decisions";
    pub const HITL_FEEDBACK: &str = "hitl.feedback";
    pub const AUDIT: &str = "audit.trail";
}

/// Now, as RFC 3339 with milliseconds.
pub fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}
