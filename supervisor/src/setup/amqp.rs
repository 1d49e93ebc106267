//! RabbitMQ side of setup. Inspecting changes nothing: a passive declare tells whether an
//! object exists, and re-declaring an existing one with the configured arguments is a no-op
//! when they match and a PRECONDITION_FAILED (which closes only that channel) when they do not.
//! Only once no conflict is found anywhere are the missing objects created.

use super::desired::{show_args, Arg, Args, Desired, ExchangeSpec, ExchangeType, QueueSpec};
use super::management;
use super::plan::{Action, Kind, Step};
use crate::config::AmqpConfig;
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, ErrorKind, ExchangeKind};

const NOT_FOUND: u16 = 404;
const PRECONDITION_FAILED: u16 = 406;

/// How a declare went.
enum Declared {
    Ok,
    NotFound,
    Inequivalent(String),
}

pub(super) async fn inspect(
    conn: &Connection,
    config: &AmqpConfig,
    desired: &Desired,
) -> Result<Vec<Step>, lapin::Error> {
    let mut steps = Vec::new();
    for exchange in &desired.exchanges {
        let settings = format!("{}, durable", exchange.kind.as_str());
        let action = match declare_exchange(conn, exchange, true).await? {
            Declared::NotFound => Action::Create,
            _ => match declare_exchange(conn, exchange, false).await? {
                Declared::Inequivalent(msg) => Action::Conflict(msg),
                _ => Action::Keep,
            },
        };
        steps.push(Step { kind: Kind::Exchange, name: exchange.name.clone(), settings, action });
    }
    for queue in &desired.queues {
        let action = match declare_queue(conn, queue, true).await? {
            Declared::NotFound => Action::Create,
            _ => match declare_queue(conn, queue, false).await? {
                Declared::Inequivalent(msg) => Action::Conflict(conflict_detail(config, queue, msg).await),
                _ => Action::Keep,
            },
        };
        steps.push(Step {
            kind: Kind::Queue,
            name: queue.name.clone(),
            settings: format!("durable, arguments {}", show_args(&queue.args)),
            action,
        });
    }
    Ok(steps)
}

/// Both argument sets when the management API can tell the existing ones, else the broker's
/// own message beside the configured set.
async fn conflict_detail(config: &AmqpConfig, queue: &QueueSpec, broker_says: String) -> String {
    let wanted = show_args(&queue.args);
    match &config.management_url {
        Some(mgmt) => match management::queue_arguments(mgmt, &config.url, &queue.name).await {
            Ok(existing) => {
                format!("exists with arguments {}, the configuration wants {wanted}", show_args(&existing))
            }
            Err(e) => {
                format!("{broker_says}; the configuration wants {wanted} (existing arguments unknown: {e})")
            }
        },
        None => format!("{broker_says}; the configuration wants {wanted}"),
    }
}

/// Creates what the steps mark for creation, then makes sure every binding exists.
pub(super) async fn apply(
    conn: &Connection,
    desired: &Desired,
    steps: &[Step],
    mut progress: impl FnMut(&Step),
) -> Result<(), lapin::Error> {
    let create = |kind: Kind, name: &str| {
        steps.iter().find(|s| s.kind == kind && s.name == name).filter(|s| s.action == Action::Create)
    };
    for exchange in &desired.exchanges {
        if let Some(step) = create(Kind::Exchange, &exchange.name) {
            expect_ok(declare_exchange(conn, exchange, false).await?, &exchange.name)?;
            progress(step);
        }
    }
    for queue in &desired.queues {
        if let Some(step) = create(Kind::Queue, &queue.name) {
            expect_ok(declare_queue(conn, queue, false).await?, &queue.name)?;
            progress(step);
        }
    }
    let channel = conn.create_channel().await?;
    for queue in &desired.queues {
        for (exchange, key) in &queue.bindings {
            channel
                .queue_bind(
                    queue.name.as_str().into(),
                    exchange.as_str().into(),
                    key.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
    }
    let _ = channel.close(200, "setup done".into()).await;
    Ok(())
}

fn expect_ok(declared: Declared, name: &str) -> Result<(), lapin::Error> {
    match declared {
        Declared::Ok => Ok(()),
        // Someone changed the broker between inspection and apply.
        Declared::NotFound | Declared::Inequivalent(_) => Err(lapin::Error::from(std::io::Error::other(
            format!("`{name}` changed on the broker while setup ran; run setup again"),
        ))),
    }
}

/// Each declare gets its own channel, since a refused one is closed by the broker.
async fn fresh_channel(conn: &Connection) -> Result<Channel, lapin::Error> {
    conn.create_channel().await
}

async fn declare_exchange(
    conn: &Connection,
    exchange: &ExchangeSpec,
    passive: bool,
) -> Result<Declared, lapin::Error> {
    let channel = fresh_channel(conn).await?;
    let kind = match exchange.kind {
        ExchangeType::Direct => ExchangeKind::Direct,
        ExchangeType::Fanout => ExchangeKind::Fanout,
    };
    let options = ExchangeDeclareOptions { passive, durable: true, ..Default::default() };
    let result =
        channel.exchange_declare(exchange.name.as_str().into(), kind, options, FieldTable::default()).await;
    classify(channel, result.map(|_| ())).await
}

async fn declare_queue(
    conn: &Connection,
    queue: &QueueSpec,
    passive: bool,
) -> Result<Declared, lapin::Error> {
    let channel = fresh_channel(conn).await?;
    let options = QueueDeclareOptions { passive, durable: true, ..Default::default() };
    let args = if passive { FieldTable::default() } else { field_table(&queue.args) };
    let result = channel.queue_declare(queue.name.as_str().into(), options, args).await;
    classify(channel, result.map(|_| ())).await
}

async fn classify(channel: Channel, result: Result<(), lapin::Error>) -> Result<Declared, lapin::Error> {
    match result {
        Ok(()) => {
            let _ = channel.close(200, "ok".into()).await;
            Ok(Declared::Ok)
        }
        Err(e) => match e.kind() {
            ErrorKind::ProtocolError(amqp) if amqp.get_id() == NOT_FOUND => Ok(Declared::NotFound),
            ErrorKind::ProtocolError(amqp) if amqp.get_id() == PRECONDITION_FAILED => {
                Ok(Declared::Inequivalent(amqp.get_message().to_string()))
            }
            _ => Err(e),
        },
    }
}

/// Integers go as signed 32-bit where they fit (what most clients send), else 64-bit.
pub(super) fn field_table(args: &Args) -> FieldTable {
    let mut table = FieldTable::default();
    for (key, value) in args {
        let value = match value {
            Arg::Int(n) => match i32::try_from(*n) {
                Ok(small) => AMQPValue::LongInt(small),
                Err(_) => AMQPValue::LongLongInt(*n),
            },
            Arg::Str(s) => AMQPValue::LongString(s.as_str().into()),
        };
        table.insert(key.as_str().into(), value);
    }
    table
}
