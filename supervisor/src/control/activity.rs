//! What became of a queue's tasks on this replica since it started: a count per outcome and
//! the latest few tasks of each (executed, sent to a person, dead-lettered), for the tree
//! (`GET /api/supervisor/tree`) and the demo's progress line. Recorded once per settled
//! delivery: one short lock, the task id and detail copied for the kept kinds; timestamps are
//! formatted only when the view is read.

use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::SystemTime;

/// How many tasks of each outcome are kept.
pub const RECENT: usize = 10;

/// One settled task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recent {
    pub task_id: String,
    /// The execution mode of an executed task, the decision id of one sent to a person, the
    /// reason code of a dead letter.
    pub detail: String,
    pub at: String,
}

/// The final word on a delivery, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled<'a> {
    Executed {
        mode: &'a str,
    },
    Parked {
        decision_id: &'a str,
    },
    DeadLettered {
        code: &'a str,
    },
    /// Retried later, requeued, deferred, a duplicate: counted, not kept.
    Other(&'static str),
}

impl Settled<'_> {
    /// The outcome label (as the `overseer_tasks_total` metric names it) and the detail kept.
    fn parts(&self) -> (&'static str, Option<&str>) {
        match *self {
            Self::Executed { mode } => ("executed", Some(mode)),
            Self::Parked { decision_id } => ("hitl", Some(decision_id)),
            Self::DeadLettered { code } => ("dead_lettered", Some(code)),
            Self::Other(label) => (label, None),
        }
    }
}

/// A kept task as recorded (its time formatted when viewed).
#[derive(Debug)]
struct Kept {
    task_id: String,
    detail: String,
    at: SystemTime,
}

#[derive(Debug, Default)]
struct Log {
    counts: BTreeMap<&'static str, u64>,
    recent: BTreeMap<&'static str, VecDeque<Kept>>,
}

/// A queue's activity (see the module documentation).
#[derive(Debug, Default)]
pub struct Activity(Mutex<Log>);

/// A snapshot for the API.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ActivityView {
    pub counts: BTreeMap<&'static str, u64>,
    /// Newest first.
    pub recent: BTreeMap<&'static str, Vec<Recent>>,
}

impl Activity {
    pub fn record(&self, task_id: &str, settled: Settled<'_>) {
        let (label, detail) = settled.parts();
        let Ok(mut log) = self.0.lock() else { return };
        *log.counts.entry(label).or_default() += 1;
        if let Some(detail) = detail {
            let kept = log.recent.entry(label).or_default();
            if kept.len() == RECENT {
                kept.pop_back();
            }
            kept.push_front(Kept {
                task_id: task_id.to_string(),
                detail: detail.to_string(),
                at: SystemTime::now(),
            });
        }
    }

    /// Tasks recorded with this outcome label.
    pub fn count(&self, label: &str) -> u64 {
        self.0.lock().map(|log| log.counts.get(label).copied().unwrap_or(0)).unwrap_or(0)
    }

    pub fn view(&self) -> ActivityView {
        let Ok(log) = self.0.lock() else { return ActivityView::default() };
        ActivityView {
            counts: log.counts.clone(),
            recent: log
                .recent
                .iter()
                .map(|(kind, kept)| {
                    let shown = kept
                        .iter()
                        .map(|k| Recent {
                            task_id: k.task_id.clone(),
                            detail: k.detail.clone(),
                            at: humantime::format_rfc3339_millis(k.at).to_string(),
                        })
                        .collect();
                    (*kind, shown)
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_outcome_and_keeps_the_latest_of_each_kind() {
        let a = Activity::default();
        for n in 0..RECENT + 3 {
            a.record(&format!("t{n}"), Settled::Executed { mode: "autonomous" });
        }
        a.record("p", Settled::Parked { decision_id: "d-1" });
        a.record("x", Settled::DeadLettered { code: "bad_payload" });
        a.record("r", Settled::Other("retried"));
        let v = a.view();
        assert_eq!(v.counts["executed"], (RECENT + 3) as u64);
        assert_eq!(v.counts["retried"], 1);
        assert_eq!(a.count("hitl"), 1);
        let executed = &v.recent["executed"];
        assert_eq!(executed.len(), RECENT);
        assert_eq!(executed[0].task_id, format!("t{}", RECENT + 2));
        assert_eq!(executed[RECENT - 1].task_id, "t3");
        assert_eq!(v.recent["hitl"][0].detail, "d-1");
        assert_eq!(v.recent["dead_lettered"][0].detail, "bad_payload");
        assert!(!v.recent.contains_key("retried"));
    }
}
