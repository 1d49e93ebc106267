//! The root's helper actors (not on a task's path): the ExpirySweeper, the two watchers, the
//! ControlListener and the QueueMonitor. Each is kept with its arguments so the root can start
//! it again when it fails: a panic in a sweep must not end expiries for the replica's life.

use super::control_listener::{ControlListener, ListenerArgs};
use super::control_watcher::{ControlWatcher, ControlWatcherArgs};
use super::expiry_sweeper::{ExpirySweeper, SweeperArgs};
use super::queue_monitor::{QueueMonitor, QueueMonitorArgs};
use super::workflow_watcher::{WatcherArgs, WorkflowWatcher};
use ractor::{Actor, ActorCell, SpawnErr};

#[derive(Clone)]
pub enum Helper {
    Sweeper(SweeperArgs),
    Workflows(WatcherArgs),
    Control(ControlWatcherArgs),
    Listener(ListenerArgs),
    Monitor(QueueMonitorArgs),
}

impl Helper {
    /// Its name in the tree.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sweeper(_) => "ExpirySweeper",
            Self::Workflows(_) => "WorkflowWatcher",
            Self::Control(_) => "ControlWatcher",
            Self::Listener(_) => "ControlListener",
            Self::Monitor(_) => "QueueMonitor",
        }
    }

    /// Starts it, linked to `supervisor`.
    pub async fn spawn(&self, supervisor: ActorCell) -> Result<ActorCell, SpawnErr> {
        Ok(match self.clone() {
            Self::Sweeper(a) => Actor::spawn_linked(None, ExpirySweeper, a, supervisor).await?.0.get_cell(),
            Self::Workflows(a) => {
                Actor::spawn_linked(None, WorkflowWatcher, a, supervisor).await?.0.get_cell()
            }
            Self::Control(a) => Actor::spawn_linked(None, ControlWatcher, a, supervisor).await?.0.get_cell(),
            Self::Listener(a) => {
                Actor::spawn_linked(None, ControlListener, a, supervisor).await?.0.get_cell()
            }
            Self::Monitor(a) => Actor::spawn_linked(None, QueueMonitor, a, supervisor).await?.0.get_cell(),
        })
    }
}
