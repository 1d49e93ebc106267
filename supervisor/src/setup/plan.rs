//! The setup plan: for every broker object, whether it is already as configured, will be
//! created, or conflicts with what the broker holds.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Exchange,
    Queue,
    Topic,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Exchange => "exchange",
            Self::Queue => "queue",
            Self::Topic => "topic",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Exists exactly as configured: nothing to do.
    Keep,
    /// Missing: will be created.
    Create,
    /// Exists with other settings: setup stops before changing anything.
    Conflict(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub kind: Kind,
    pub name: String,
    /// The configured settings, for printing.
    pub settings: String,
    pub action: Action,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Things setup adapts to and says so (replication capped at the broker count).
    pub warnings: Vec<String>,
}

impl Plan {
    pub fn conflicts(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| matches!(s.action, Action::Conflict(_)))
    }

    pub fn creates(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.action == Action::Create)
    }

    pub fn has_conflicts(&self) -> bool {
        self.conflicts().next().is_some()
    }
}
