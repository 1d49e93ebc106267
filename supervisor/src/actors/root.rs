//! RootSupervisor: starts the EventPublisher and the HitlActor, builds the pipeline around
//! handles to them, and starts one queue supervisor per consumed queue. On drain it stops
//! consumption first (queue supervisors drain their consumers), then flushes the publisher,
//! so every event of a finished task is delivered before the process exits. Queue supervisors
//! handle their consumers' failures; if a child of the root fails, the root starts it again.

use super::consumer::ConsumerArgs;
use super::control_listener::ListenerArgs;
use super::control_watcher::ControlWatcherArgs;
use super::event_publisher::{EventPublisher, PublisherHandle, PublisherMessage};
use super::expiry_sweeper::SweeperArgs;
use super::helpers::Helper;
use super::hitl::{HitlActor, HitlHandle, HitlMessage};
use super::queue_monitor::QueueMonitorArgs;
use super::queue_supervisor::{QueueSupervisor, QueueSupervisorArgs, QueueSupervisorMessage};
use super::workflow_watcher::WatcherArgs;
use crate::control::remembered::Override;
use crate::control::{Controls, QueueControl};
use crate::events::EventSink;
use crate::health::Health;
use crate::hitl::service::HitlService;
use crate::ledger::Ledger;
use crate::pipeline::{Pipeline, PipelineParts, QueueContext};
use crate::transport::link::AmqpLink;
use crate::transport::plan::RetryPolicy;
use crate::transport::Transport;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub struct RootSupervisor;

/// One consumed queue, as the root starts it.
#[derive(Clone)]
pub struct QueuePlan {
    pub ctx: QueueContext,
    /// Paused or not, concurrency and prefetch (configured, then as operators change them).
    pub control: Arc<QueueControl>,
    pub consumer_priority: i32,
    pub retry: RetryPolicy,
}

/// Everything the tree is built from.
pub struct RootArgs {
    pub parts: PipelineParts,
    /// The real sink (Kafka); the EventPublisher owns it.
    pub sink: Arc<dyn EventSink>,
    /// Parks (the HitlActor), expires and drains the outbox (the ExpirySweeper).
    pub hitl: Arc<HitlService>,
    /// Outcomes by task_id (Redis).
    pub ledger: Arc<dyn Ledger>,
    pub queues: Vec<QueuePlan>,
    /// Where the queues' tasks come from and settle.
    pub transport: Arc<dyn Transport>,
    /// RabbitMQ, when the transport is RabbitMQ: the ControlListener and the QueueMonitor use it.
    pub link: Option<Arc<AmqpLink>>,
    pub health: Arc<Health>,
    pub max_restarts: u32,
    pub restart_window: Duration,
    /// How often the ExpirySweeper looks for expired decisions.
    pub sweep_interval: Duration,
    /// How long the sweeper leaves a decision's effects to whoever decided it.
    pub outbox_settle: Duration,
    /// How often the WorkflowWatcher checks for workflow changes.
    pub workflow_poll: Duration,
    /// The queues' control; with a remembered store, the ControlWatcher follows the cluster's.
    pub controls: Arc<Controls>,
    pub control_poll: Duration,
    /// The cluster records applied at start.
    pub control_seen: BTreeMap<String, Override>,
    /// How often the QueueMonitor samples the backlog.
    pub backlog_poll: Duration,
    /// The RabbitMQ management API (base URL, AMQP URL naming the vhost), for unacked counts.
    pub management: Option<(String, String)>,
}

pub enum RootMessage {
    /// Drain every queue within `grace`, flush events, then stop.
    Drain { grace: Duration, reply: RpcReplyPort<()> },
    /// Start the helper at this index again (it failed).
    Restart(usize),
}

/// How long a failed helper waits before it starts again.
const HELPER_RESTART: Duration = Duration::from_secs(1);

/// How long a draining replica waits for each helper to stop (the control listener closes its
/// channel within 2 s).
const HELPER_STOP: Duration = Duration::from_secs(3);

pub struct RootState {
    publisher: ActorRef<PublisherMessage>,
    hitl: ActorRef<HitlMessage>,
    /// The helpers with their arguments, and the running one (None while it waits to restart).
    helpers: Vec<(Helper, Option<ActorCell>)>,
    listener_stop: CancellationToken,
    controls: Arc<Controls>,
    queues: Vec<(QueueSupervisorArgs, ActorRef<QueueSupervisorMessage>)>,
    draining: bool,
}

/// How long a consumer waits for the publisher or the HITL actor before requeueing a task.
const CALL_TIMEOUT: Duration = Duration::from_secs(35);

impl Actor for RootSupervisor {
    type Msg = RootMessage;
    type State = RootState;
    type Arguments = RootArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: RootArgs,
    ) -> Result<RootState, ActorProcessingErr> {
        let tree = args.controls.tree().clone();
        tree.set_root(myself.get_cell());
        let (publisher, _) =
            Actor::spawn_linked(None, EventPublisher, args.sink.clone(), myself.get_cell()).await?;
        tree.started(&publisher.get_cell(), "EventPublisher");
        let handle: Arc<dyn EventSink> = Arc::new(PublisherHandle {
            actor: publisher.clone(),
            sink: args.sink.clone(),
            timeout: CALL_TIMEOUT,
        });
        let (hitl, _) = Actor::spawn_linked(None, HitlActor, args.hitl.clone(), myself.get_cell()).await?;
        tree.started(&hitl.get_cell(), "HitlActor");
        let listener_stop = CancellationToken::new();
        let mut helpers = vec![
            Helper::Sweeper(SweeperArgs {
                hitl: args.hitl.clone(),
                workflows: args.parts.workflows.clone(),
                interval: args.sweep_interval,
                history: args.parts.history,
                settle: args.outbox_settle,
            }),
            Helper::Workflows(WatcherArgs {
                registry: args.parts.workflows.clone(),
                interval: args.workflow_poll,
            }),
        ];
        // The control exchange and the backlog are RabbitMQ's.
        if let Some(link) = &args.link {
            helpers.push(Helper::Listener(ListenerArgs {
                stop: listener_stop.clone(),
                link: link.clone(),
                controls: args.controls.clone(),
                replica: args.controls.replica(),
                registry: args.controls.remembered().cloned(),
            }));
            helpers.push(Helper::Monitor(QueueMonitorArgs {
                controls: args.controls.clone(),
                link: link.clone(),
                management: args.management,
                interval: args.backlog_poll,
            }));
        }
        if let Some(remembered) = args.controls.remembered() {
            helpers.push(Helper::Control(ControlWatcherArgs {
                controls: args.controls.clone(),
                remembered: remembered.clone(),
                interval: args.control_poll,
                seen: args.control_seen,
            }));
        }
        let mut running = Vec::new();
        for helper in helpers {
            let cell = helper.spawn(myself.get_cell()).await?;
            tree.started(&cell, helper.name());
            running.push((helper, Some(cell)));
        }
        let pipeline = Arc::new(Pipeline {
            parts: args.parts,
            sink: handle.clone(),
            hitl: Arc::new(HitlHandle { actor: hitl.clone(), timeout: CALL_TIMEOUT }),
            ledger: args.ledger,
            meters: Default::default(),
        });
        let mut queues = Vec::new();
        for plan in args.queues {
            let qargs = QueueSupervisorArgs {
                consumer: ConsumerArgs {
                    ctx: plan.ctx,
                    transport: args.transport.clone(),
                    pipeline: pipeline.clone(),
                    control: plan.control,
                    consumer_priority: plan.consumer_priority,
                    retry: plan.retry,
                    health: args.health.clone(),
                },
                max_restarts: args.max_restarts,
                window: args.restart_window,
                tree: tree.clone(),
            };
            let (child, _) =
                Actor::spawn_linked(None, QueueSupervisor, qargs.clone(), myself.get_cell()).await?;
            tree.started(&child.get_cell(), queue_supervisor_name(&qargs));
            queues.push((qargs, child));
        }
        Ok(RootState {
            publisher,
            hitl,
            helpers: running,
            listener_stop,
            controls: args.controls,
            queues,
            draining: false,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: RootMessage,
        state: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            RootMessage::Drain { grace, reply } => {
                state.draining = true;
                let drains = state.queues.iter().map(|(_, child)| {
                    child.call(
                        |r| QueueSupervisorMessage::Drain { grace, reply: r },
                        Some(grace + Duration::from_secs(10)),
                    )
                });
                futures_util::future::join_all(drains).await;
                let flush = state
                    .publisher
                    .call(
                        |r| PublisherMessage::Flush { timeout: Duration::from_secs(5), reply: r },
                        Some(Duration::from_secs(6)),
                    )
                    .await;
                if !matches!(flush, Ok(ractor::rpc::CallResult::Success(Ok(())))) {
                    tracing::warn!("events may not all be flushed");
                }
                state.listener_stop.cancel();
                // The helpers hold channels on the replica's connection: each has closed its
                // own before the reply lets the runtime close the connection (a channel close
                // still in flight then is reported by lapin as a connection error).
                let stops = state
                    .helpers
                    .iter()
                    .filter_map(|(_, cell)| cell.as_ref())
                    .map(|cell| cell.stop_and_wait(None, Some(HELPER_STOP)));
                futures_util::future::join_all(stops).await;
                state.hitl.stop(None);
                state.publisher.stop(None);
                let _ = reply.send(());
                myself.stop(Some("drained".into()));
            }
            RootMessage::Restart(_) if state.draining => {}
            RootMessage::Restart(index) => {
                if let Some((helper, slot)) = state.helpers.get_mut(index) {
                    match helper.spawn(myself.get_cell()).await {
                        Ok(cell) => {
                            let tree = state.controls.tree();
                            tree.restarted(helper.name());
                            tree.started(&cell, helper.name());
                            *slot = Some(cell);
                        }
                        Err(e) => {
                            tracing::error!(actor = helper.name(), error = %e, "did not start again; retrying");
                            myself.send_after(HELPER_RESTART, move || RootMessage::Restart(index));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        if state.draining {
            return Ok(());
        }
        let gone = match &event {
            SupervisionEvent::ActorFailed(cell, _) | SupervisionEvent::ActorTerminated(cell, _, _) => {
                cell.get_id()
            }
            _ => return Ok(()),
        };
        // Without the publisher nothing flushes the events on drain, without the HITL actor no
        // decision is parked: either one stopping stops the tree and the process exits
        // non-zero, for the orchestrator to restart it.
        if gone == state.publisher.get_id() || gone == state.hitl.get_id() {
            tracing::error!("event publisher or HITL actor stopped; stopping the tree");
            myself.stop(Some("core actor failed".into()));
            return Ok(());
        }
        let tree = state.controls.tree();
        tree.stopped(gone);
        let failed_helper =
            state.helpers.iter().position(|(_, c)| c.as_ref().is_some_and(|c| c.get_id() == gone));
        if let Some(index) = failed_helper {
            let name = state.helpers[index].0.name();
            tracing::error!(actor = name, "helper stopped; starting it again shortly");
            state.helpers[index].1 = None;
            myself.send_after(HELPER_RESTART, move || RootMessage::Restart(index));
            return Ok(());
        }
        if let Some(index) = state.queues.iter().position(|(_, c)| c.get_id() == gone) {
            let args = state.queues[index].0.clone();
            tracing::error!(queue = %args.consumer.ctx.queue, "queue supervisor stopped; starting it again");
            let (child, _) =
                Actor::spawn_linked(None, QueueSupervisor, args.clone(), myself.get_cell()).await?;
            let name = queue_supervisor_name(&args);
            tree.restarted(&name);
            tree.started(&child.get_cell(), name);
            state.queues[index] = (args, child);
        }
        Ok(())
    }
}

fn queue_supervisor_name(args: &QueueSupervisorArgs) -> String {
    format!("QueueSupervisor({})", args.consumer.ctx.queue)
}
