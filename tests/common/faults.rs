//! The tests' fault hooks: a task payload field `"__overseer_panic"` makes processing panic:
//! `"task_always"` / `"task_once"` inside the task (contained: retried, then dead-lettered),
//! `"consumer_always"` / `"consumer_once"` in the consumer's own loop (the consumer crashes and
//! is restarted). `_once` panics only on the first delivery of that task to this replica.
//! Every replica a test starts in-process has them (TestEnv::start); no `overseer` process does.

use overseer_agents::task::Task;
use overseer_supervisor::faults::FaultHooks;
use std::collections::HashSet;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct PayloadPanics {
    seen: Mutex<HashSet<String>>,
}

impl PayloadPanics {
    fn should_panic(&self, mode: &str, task_id: &str, place: &str) -> bool {
        match mode.strip_prefix(place) {
            Some("_always") => true,
            Some("_once") => self.seen.lock().is_ok_and(|mut seen| seen.insert(format!("{place}:{task_id}"))),
            _ => false,
        }
    }
}

impl FaultHooks for PayloadPanics {
    fn delivery(&self, body: &[u8]) {
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
            return;
        };
        let (Some(mode), Some(id)) =
            (value["payload"]["__overseer_panic"].as_str(), value["task_id"].as_str())
        else {
            return;
        };
        if self.should_panic(mode, id, "consumer") {
            panic!("fault injection: the consumer of task {id} panics");
        }
    }

    fn task(&self, task: &Task) {
        let payload: serde_json::Value = serde_json::from_str(task.payload.get()).unwrap_or_default();
        if let Some(mode) = payload["__overseer_panic"].as_str() {
            if self.should_panic(mode, &task.task_id, "task") {
                panic!("fault injection: task {} panics", task.task_id);
            }
        }
    }
}
