//! The headers overseer reads and writes on task messages.

use lapin::types::{AMQPValue, FieldTable, ShortString};

/// Which delivery of the task this is (1 for the first). Travels with retried messages.
pub const ATTEMPT: &str = "x-overseer-attempt";
/// Machine-readable reason of a dead letter (`not_json`, `invalid_output`, …).
pub const REASON: &str = "x-overseer-reason";
/// Human-readable detail of the last error.
pub const LAST_ERROR: &str = "x-overseer-last-error";
/// Attempts made before dead-lettering.
pub const ATTEMPTS: &str = "x-overseer-attempts";
/// The queue the task came from.
pub const ORIGINAL_QUEUE: &str = "x-overseer-original-queue";

/// The attempt number in `headers` (1 when absent or unreadable).
pub fn attempt(headers: Option<&FieldTable>) -> u32 {
    headers
        .and_then(|h| h.inner().get(&ShortString::from(ATTEMPT)))
        .and_then(|v| match v {
            AMQPValue::LongInt(n) => u32::try_from(*n).ok(),
            AMQPValue::LongLongInt(n) => u32::try_from(*n).ok(),
            AMQPValue::ShortInt(n) => u32::try_from(*n).ok(),
            AMQPValue::LongUInt(n) => Some(*n),
            _ => None,
        })
        .unwrap_or(1)
        .max(1)
}

/// A copy of `headers` with `set` applied.
pub fn with(headers: Option<&FieldTable>, set: &[(&str, AMQPValue)]) -> FieldTable {
    let mut table = headers.cloned().unwrap_or_default();
    for (key, value) in set {
        table.insert(ShortString::from(*key), value.clone());
    }
    table
}

/// A header text value, cut to a size brokers accept comfortably.
pub fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(value.chars().take(1000).collect::<String>().into())
}
