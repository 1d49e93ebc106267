//! What every store (decisions, ledger, workflows, audit) answers when Redis (or the memory
//! store) fails: one error type below all of them, so no store imports another.

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    #[error("decision store unavailable: {0}")]
    Unavailable(String),
    #[error("stored decision is unreadable: {0}")]
    Corrupt(String),
}
