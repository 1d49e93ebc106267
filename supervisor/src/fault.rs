//! Test-only fault hooks, compiled with the `fault-injection` feature (never in release
//! builds). A task payload field `"__overseer_panic"` makes processing panic:
//! `"task_always"` / `"task_once"` inside the task (contained: retried, then dead-lettered),
//! `"consumer_always"` / `"consumer_once"` in the consumer's own loop (the consumer crashes and
//! is restarted). `_once` panics only on the first delivery of that task in this process.

use overseer_agents::task::Task;
use std::collections::HashSet;
use std::sync::Mutex;

static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);

fn first_time(key: String) -> bool {
    SEEN.lock().map(|mut seen| seen.get_or_insert_with(HashSet::new).insert(key)).unwrap_or(false)
}

fn should_panic(mode: &str, task_id: &str, place: &str) -> bool {
    match mode.strip_prefix(place) {
        Some("_always") => true,
        Some("_once") => first_time(format!("{place}:{task_id}")),
        _ => false,
    }
}

pub(crate) fn task_hook(task: &Task) {
    if let Some(mode) = task.payload.get("__overseer_panic").and_then(serde_json::Value::as_str) {
        if should_panic(mode, &task.task_id, "task") {
            panic!("fault injection: task {} panics", task.task_id);
        }
    }
}

pub(crate) fn consumer_hook(body: &[u8]) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    let (Some(mode), Some(id)) = (value["payload"]["__overseer_panic"].as_str(), value["task_id"].as_str())
    else {
        return;
    };
    if should_panic(mode, id, "consumer") {
        panic!("fault injection: the consumer of task {id} panics");
    }
}
