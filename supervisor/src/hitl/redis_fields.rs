//! A decision's Redis hash and the decision it holds: `doc` (the decision as parked, JSON) with
//! the live fields the state change writes over it (docs/hitl.md lists them).

use super::{PendingDecision, StoreError};
use std::collections::HashMap;

/// When the decision was created, in Unix ms (the per-workflow index's score).
pub(super) fn created_ms(d: &PendingDecision) -> u64 {
    humantime::parse_rfc3339(&d.created_at).map(super::decision::unix_ms).unwrap_or(0)
}

/// A decision from its hash: the document as parked, with the live fields over it.
pub(super) fn decode(fields: &HashMap<String, String>) -> Result<Option<PendingDecision>, StoreError> {
    let Some(doc) = fields.get("doc") else { return Ok(None) };
    let mut decision: PendingDecision =
        serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    if let Some(status) = fields.get("status") {
        decision.status = status.clone();
    }
    decision.decided_at = fields.get("decided_at").cloned();
    decision.decided_by = fields.get("decided_by").cloned();
    decision.decided_from = fields.get("decided_from").cloned();
    decision.feedback = fields.get("feedback").cloned();
    decision.edited = fields.get("edited").and_then(|e| serde_json::from_str(e).ok());
    decision.approvals = fields
        .get("approvals")
        .map(|a| a.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect())
        .unwrap_or_default();
    decision.effects_done = fields.keys().filter_map(|k| k.strip_prefix("fx:")).map(str::to_string).collect();
    decision.effects_done.sort();
    decision.notified = fields
        .iter()
        .filter_map(|(k, at)| {
            let (event, via) = k.strip_prefix("nt:")?.split_once('|')?;
            Some(super::decision::Notified { event: event.into(), via: via.into(), at: at.clone() })
        })
        .collect();
    decision.notified.sort_by(|a, b| a.at.cmp(&b.at));
    Ok(Some(decision))
}
