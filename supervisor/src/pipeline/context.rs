//! What a consumer knows about its queue, shared by every step of the pipeline.

/// What a consumer knows about its queue.
#[derive(Debug, Clone)]
pub struct QueueContext {
    pub queue: String,
    pub agent: String,
    /// The workflow for tasks that name none.
    pub workflow: String,
    /// Workflows a task may name besides those at least as strict as `workflow`.
    pub allowed_workflows: Vec<String>,
}
