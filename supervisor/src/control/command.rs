//! Control commands broadcast to every replica through the `overseer.control` fanout exchange
//! (`overseer ctl`), and each replica's reply. A command names what to do, optionally one
//! queue and one replica; replies carry the command's id as correlation id, so two
//! operators' commands never mix.

use super::remembered::Change;
use super::Controls;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// What `overseer ctl` asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verb {
    Tree,
    Pause,
    Resume,
    Scale,
    Prefetch,
    /// Back to the configuration (and, for the cluster, the remembered state cleared).
    Clear,
    /// With a queue: stop taking its work, let in-flight tasks finish. Without: the replica
    /// drains and exits, as on SIGTERM.
    Drain,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Command {
    /// Unique per command; the replies' correlation id.
    pub id: String,
    pub verb: Verb,
    /// One queue (default: every queue the replica consumes).
    #[serde(default)]
    pub queue: Option<String>,
    /// Scale's concurrency, prefetch's prefetch.
    #[serde(default)]
    pub value: Option<u64>,
    /// Only this replica answers and acts (default: all).
    #[serde(default)]
    pub replica: Option<String>,
}

/// Who a replica is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replica {
    pub id: String,
    pub host: String,
    pub pid: u32,
}

impl Replica {
    /// A replica of this process: `host:pid:<4 random hex>` (a process may run more than one
    /// runtime, as the tests do).
    pub fn fresh() -> Self {
        let host = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_string()))
            .unwrap_or_else(|| "localhost".into());
        let pid = std::process::id();
        let tag = &uuid::Uuid::new_v4().simple().to_string()[..4];
        Self { id: format!("{host}:{pid}:{tag}"), host, pid }
    }
}

/// A replica's answer to a command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub replica: Replica,
    /// `ok` or `error`.
    pub outcome: String,
    pub result: Value,
}

impl Command {
    /// A command with a fresh id.
    pub fn new(verb: Verb, queue: Option<String>, value: Option<u64>, replica: Option<String>) -> Self {
        Self { id: uuid::Uuid::new_v4().to_string(), verb, queue, value, replica }
    }

    /// Whether `replica` is addressed.
    pub fn addresses(&self, replica: &Replica) -> bool {
        self.replica.as_deref().is_none_or(|r| r == replica.id || r == replica.host)
    }

    /// The change this command makes to a queue, if it makes one.
    pub fn change(&self) -> Result<Option<Change>, String> {
        let value = || self.value.ok_or_else(|| format!("{:?} needs a value", self.verb));
        Ok(match self.verb {
            Verb::Pause => Some(Change::Paused(true)),
            Verb::Resume => Some(Change::Paused(false)),
            Verb::Scale => Some(Change::concurrency(value()?)?),
            Verb::Prefetch => Some(Change::prefetch(value()?)?),
            Verb::Tree | Verb::Clear | Verb::Drain => None,
        })
    }
}

/// Carries out `command` on this replica's queues; the reply's result.
pub fn execute(controls: &Controls, command: &Command) -> Result<Value, String> {
    let queues: Vec<String> = match &command.queue {
        Some(q) if controls.queue(q).is_none() => return Err(format!("`{q}` is not consumed here")),
        Some(q) => vec![q.clone()],
        None => controls.queues().map(|(q, _)| q.clone()).collect(),
    };
    let change = command.change()?;
    for c in queues.iter().filter_map(|q| controls.queue(q)) {
        match (command.verb, change) {
            (_, Some(change)) => {
                c.change(|d| change.apply(d));
            }
            (Verb::Clear, _) => {
                c.reset();
            }
            (Verb::Drain, _) if command.queue.is_some() => {
                c.change(|d| d.paused = true);
            }
            _ => {}
        }
    }
    let draining = command.verb == Verb::Drain && command.queue.is_none();
    if draining {
        controls.request_drain();
    }
    let status: serde_json::Map<String, Value> =
        queues.iter().filter_map(|q| controls.queue(q).map(|c| (q.clone(), json!(c.status())))).collect();
    let mut result = json!({"queues": status, "draining": draining});
    if command.verb == Verb::Tree {
        result["actors"] = json!(controls.tree().view());
    }
    Ok(result)
}
