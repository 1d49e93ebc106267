//! The live actor tree of a replica, as the supervisor API and `overseer ctl tree` show it:
//! walked from the root actor's cell at the moment of asking, so each actor's state is the
//! actor system's own (starting, running, stopping...). Supervisors note what each child is
//! (`QueueSupervisor(auto_orders)`) when they start it, and count its restarts by that name,
//! so a restarted child keeps its history.

use ractor::{ActorCell, ActorId};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

#[derive(Default)]
pub struct ActorTree {
    root: OnceLock<ActorCell>,
    names: Mutex<Names>,
}

#[derive(Default)]
struct Names {
    by_id: HashMap<ActorId, String>,
    restarts: HashMap<String, u32>,
}

/// One actor as shown.
#[derive(Debug, Clone, Serialize)]
pub struct ActorView {
    pub actor: String,
    pub id: String,
    /// The actor system's state: Starting, Running, Stopping, ...
    pub state: String,
    pub restarts: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ActorView>,
}

impl ActorTree {
    /// The root, once it runs.
    pub fn set_root(&self, root: ActorCell) {
        let _ = self.root.set(root);
    }

    /// The root's cell, once it runs.
    pub fn root(&self) -> Option<&ActorCell> {
        self.root.get()
    }

    /// Names a started actor.
    pub fn started(&self, cell: &ActorCell, name: impl Into<String>) {
        self.with(|n| n.by_id.insert(cell.get_id(), name.into()));
    }

    /// Counts a restart of the actor named `name` (the new one is named by [`Self::started`]).
    pub fn restarted(&self, name: &str) {
        self.with(|n| *n.restarts.entry(name.to_string()).or_default() += 1);
    }

    /// Forgets a stopped actor's id (its name's restarts stay).
    pub fn stopped(&self, id: ActorId) {
        self.with(|n| n.by_id.remove(&id));
    }

    /// The tree now, from the root (None before the root runs).
    pub fn view(&self) -> Option<ActorView> {
        let root = self.root.get()?;
        Some(self.with(|n| view_of(n, root, "RootSupervisor")))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Names) -> T) -> T {
        f(&mut self.names.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

fn view_of(names: &Names, cell: &ActorCell, fallback: &str) -> ActorView {
    let actor = names.by_id.get(&cell.get_id()).cloned().unwrap_or_else(|| fallback.to_string());
    let mut children: Vec<ActorView> =
        cell.get_children().iter().map(|c| view_of(names, c, "actor")).collect();
    children.sort_by(|a, b| a.actor.cmp(&b.actor));
    ActorView {
        restarts: names.restarts.get(&actor).copied().unwrap_or(0),
        id: cell.get_id().to_string(),
        state: format!("{:?}", cell.get_status()),
        actor,
        children,
    }
}
