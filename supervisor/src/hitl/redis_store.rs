//! Decisions in Redis. Parking is one Lua script (atomic; redis-rs reloads it after NOSCRIPT,
//! e.g. after a Redis restart): the task's decision pointer, the decision document and its
//! entries in the pending indexes (sorted sets scored by deadline) are written together, or
//! not at all when the task already has a decision. The scripts are in `redis_scripts.rs`; the
//! outbox's lease and marks are in `redis_outbox.rs`.
//!
//! Keys (with the configured prefix): `decision:<id>` (a hash: `doc`, the decision as JSON when
//! parked, never rewritten; and the live fields `status`, `expires_at_ms`, `expires_at`,
//! `payload_hash`, `decided_at`, `decided_by`, `feedback`, `edited`), `task:<task_id>:decision`
//! (id), `pending` (sorted set of ids by expires_at_ms), `pending:wf:<workflow>` (the same per
//! workflow), `history` (sorted set of decided ids by
//! decision time, trimmed to `hitl.history`), `outbox` (sorted set of decided ids by
//! decision time, until their effects are durable; `outbox:lease:<id>` guards one run at a
//! time). State changes are a Lua compare-and-set on `status` that never re-encodes JSON and
//! puts the decision in the outbox in the same step. Approvals so far (M-of-N) are the
//! comma-separated `approvals` field (user names cannot contain commas); effects already
//! durable are `fx:<effect>` fields.

use super::redis_fields::{created_ms, decode};
use super::redis_scripts::{PARK, TRANSITION};
use super::{
    DecisionIndexes, DecisionStats, Decisions, Parked, PendingDecision, StoreError, Transition,
    TransitionError, WorkflowStats,
};
use async_trait::async_trait;
use redis::aio::ConnectionManager;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

pub struct RedisStore {
    pub(super) conn: ConnectionManager,
    prefix: String,
    park: redis::Script,
    transition: redis::Script,
    pub(super) renew: redis::Script,
    pub(super) release: redis::Script,
    pub(super) mark: redis::Script,
    pub(super) done: redis::Script,
}

pub(super) fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl RedisStore {
    pub async fn connect(url: &str, prefix: &str, timeout: Duration) -> Result<Self, StoreError> {
        Self::connect_with_ca(url, None, prefix, timeout).await
    }

    /// As [`connect`](Self::connect); for `rediss://` servers whose certificate a private CA
    /// (`ca_pem`, PEM) signed.
    pub async fn connect_with_ca(
        url: &str,
        ca_pem: Option<Vec<u8>>,
        prefix: &str,
        timeout: Duration,
    ) -> Result<Self, StoreError> {
        crate::connect::install_tls_provider();
        let client = match ca_pem {
            Some(root_cert) => redis::Client::build_with_tls(
                url,
                redis::TlsCertificates { client_tls: None, root_cert: Some(root_cert) },
            ),
            None => redis::Client::open(url),
        }
        .map_err(unavailable)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        let conn = tokio::time::timeout(timeout, ConnectionManager::new_with_config(client, config))
            .await
            .map_err(|_| StoreError::Unavailable(format!("no answer within {timeout:?}")))?
            .map_err(unavailable)?;
        Ok(Self {
            conn,
            prefix: prefix.to_string(),
            park: redis::Script::new(PARK),
            transition: redis::Script::new(TRANSITION),
            renew: redis::Script::new(super::redis_scripts::LEASE_RENEW),
            release: redis::Script::new(super::redis_scripts::LEASE_RELEASE),
            mark: redis::Script::new(super::redis_scripts::MARK_EFFECT),
            done: redis::Script::new(super::redis_scripts::OUTBOX_DONE),
        })
    }

    /// The multiplexed connection (it reconnects by itself), for other Redis users to share.
    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// One parking attempt; `None` when the decision id is taken.
    async fn park_once(
        &self,
        decision: &PendingDecision,
        retention: Duration,
    ) -> Result<Option<Parked>, StoreError> {
        let json = serde_json::to_string(decision).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut conn = self.conn.clone();
        let (created, id): (i64, String) = self
            .park
            .key(self.key(&format!("task:{}:decision", decision.task_id)))
            .key(self.key(&format!("decision:{}", decision.decision_id)))
            .key(self.key("pending"))
            .key(self.key(&format!("pending:wf:{}", decision.workflow_id)))
            .arg(&decision.decision_id)
            .arg(json)
            .arg(retention.as_secs().max(1))
            .arg(decision.expires_at_ms)
            .arg(&decision.expires_at)
            .arg(&decision.payload_hash)
            .arg(&decision.workflow_id)
            .arg(created_ms(decision))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(match created {
            1 => Some(Parked::New(id)),
            0 => Some(Parked::Existing(id)),
            _ => None,
        })
    }

    /// The outbox lease of a decision: its runner's token, with a TTL.
    pub(super) fn lease_key(&self, decision_id: &str) -> String {
        self.key(&format!("outbox:lease:{decision_id}"))
    }

    pub(super) fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }

    /// A page of the sorted set `set` past the cursor `from` (a (score, id) position): lowest
    /// score first, or highest first when `newest_first`. Entries sharing the cursor's score
    /// are read again and skipped by id, so a little more than asked is read.
    async fn scored_page(
        &self,
        set: &str,
        from: Option<(u64, String)>,
        limit: usize,
        newest_first: bool,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        let mut conn = self.conn.clone();
        let start = from.as_ref().map(|(score, _)| score.to_string());
        let (command, start, end) = match newest_first {
            false => ("ZRANGEBYSCORE", start.unwrap_or_else(|| "-inf".into()), "+inf"),
            true => ("ZREVRANGEBYSCORE", start.unwrap_or_else(|| "+inf".into()), "-inf"),
        };
        let raw: Vec<(String, f64)> = redis::cmd(command)
            .arg(self.key(set))
            .arg(start)
            .arg(end)
            .arg("WITHSCORES")
            .arg("LIMIT")
            .arg(0)
            .arg(limit + 64)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let mut page: Vec<(u64, String)> = raw.into_iter().map(|(id, score)| (score as u64, id)).collect();
        page.sort();
        if newest_first {
            page.reverse();
        }
        let past = |p: &(u64, String)| match (&from, newest_first) {
            (None, _) => true,
            (Some(c), false) => p > c,
            (Some(c), true) => p < c,
        };
        Ok(page.into_iter().filter(past).take(limit).collect())
    }

    /// Up to `limit` members of the sorted set `set` scored at most `max`, lowest first.
    pub(super) async fn scored_up_to(
        &self,
        set: &str,
        max: u64,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("ZRANGEBYSCORE")
            .arg(self.key(set))
            .arg("-inf")
            .arg(max)
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)
    }

    /// The decision's workflow (its per-workflow keys are named in the state change's script).
    async fn workflow_of(&self, decision_id: &str) -> Result<String, TransitionError> {
        let mut conn = self.conn.clone();
        let workflow: Option<String> = redis::cmd("HGET")
            .arg(self.key(&format!("decision:{decision_id}")))
            .arg("workflow")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        match workflow {
            Some(w) => Ok(w),
            // Parked before the field existed: read it from the document.
            None => match self.get(decision_id).await? {
                Some(d) => Ok(d.workflow_id),
                None => {
                    // Gone (its history expired): drop it from the deadline index too.
                    redis::cmd("ZREM")
                        .arg(self.key("pending"))
                        .arg(decision_id)
                        .query_async::<i64>(&mut conn)
                        .await
                        .map_err(unavailable)?;
                    Err(TransitionError::NotFound(decision_id.to_string()))
                }
            },
        }
    }
}

#[async_trait]
impl Decisions for RedisStore {
    async fn park(&self, decision: &PendingDecision, retention: Duration) -> Result<Parked, StoreError> {
        // The seed's id format leaves six hex digits of randomness per second: at thousands of
        // decisions a second two can draw the same id. The script refuses a taken id (code 2)
        // and the decision is parked again under a fresh one.
        let mut renamed;
        let mut decision = decision;
        for _ in 0..8 {
            match self.park_once(decision, retention).await? {
                Some(parked) => return Ok(parked),
                None => {
                    renamed = decision.renamed();
                    decision = &renamed;
                }
            }
        }
        Err(StoreError::Unavailable("no free decision id after 8 attempts".into()))
    }

    async fn get(&self, decision_id: &str) -> Result<Option<PendingDecision>, StoreError> {
        let mut conn = self.conn.clone();
        let fields: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.key(&format!("decision:{decision_id}")))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        decode(&fields)
    }

    async fn get_many(&self, ids: &[String]) -> Result<Vec<PendingDecision>, StoreError> {
        // redis-rs refuses an empty pipeline ("empty command").
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.cmd("HGETALL").arg(self.key(&format!("decision:{id}")));
        }
        let all: Vec<HashMap<String, String>> = pipe.query_async(&mut conn).await.map_err(unavailable)?;
        let mut out = Vec::with_capacity(all.len());
        for fields in &all {
            if let Some(decision) = decode(fields)? {
                out.push(decision);
            }
        }
        Ok(out)
    }

    async fn transition(
        &self,
        decision_id: &str,
        t: &Transition,
    ) -> Result<PendingDecision, TransitionError> {
        let mut conn = self.conn.clone();
        let edited = t.edited.as_ref().map(|e| e.to_string()).unwrap_or_default();
        let workflow = match &t.workflow {
            Some(w) => w.clone(),
            None => self.workflow_of(decision_id).await?,
        };
        let (answer, detail, fields): (String, String, Vec<String>) = self
            .transition
            .key(self.key(&format!("decision:{decision_id}")))
            .key(self.key("pending"))
            .key(self.key("outbox"))
            .key(self.key("history"))
            .key(self.key(&format!("pending:wf:{workflow}")))
            .key(self.key(&format!("stats:{workflow}")))
            .key(self.key(&format!("ttd:{workflow}")))
            .arg(decision_id)
            .arg(t.to.as_str())
            .arg(&t.by)
            .arg(t.feedback.as_deref().unwrap_or_default())
            .arg(t.seen_hash.as_deref().unwrap_or_default())
            .arg(edited)
            .arg(&t.at)
            .arg(t.now_ms)
            .arg(t.required_approvals.max(1))
            .arg(t.from.as_deref().unwrap_or_default())
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        match answer.as_str() {
            // The script answers with the decision as changed: no second read.
            "ok" | "partial" => {
                let fields: HashMap<String, String> =
                    fields.chunks_exact(2).map(|kv| (kv[0].clone(), kv[1].clone())).collect();
                decode(&fields)?.ok_or_else(|| TransitionError::NotFound(decision_id.to_string()))
            }
            "not_found" => Err(TransitionError::NotFound(decision_id.to_string())),
            "already" => Err(TransitionError::AlreadyDecided(detail)),
            "expired" => Err(TransitionError::Expired(detail)),
            "approver" => Err(TransitionError::AlreadyApprovedBy(detail)),
            "busy" => Err(TransitionError::Busy),
            "not_due" => Err(TransitionError::NotDue(detail)),
            _ => Err(TransitionError::Stale),
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("PING").query_async::<String>(&mut conn).await.map(|_| ()).map_err(unavailable)
    }

    async fn note_notified(
        &self,
        decision_id: &str,
        notified: &super::decision::Notified,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        // `nt:<event>|<via>` = when; only while the decision's hash exists (no stray hash).
        redis::Script::new("if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end return 1")
            .key(self.key(&format!("decision:{decision_id}")))
            .arg(format!("nt:{}|{}", notified.event, notified.via))
            .arg(&notified.at)
            .invoke_async::<i64>(&mut conn)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}

#[async_trait]
impl DecisionIndexes for RedisStore {
    async fn pending_page(
        &self,
        workflow: Option<&str>,
        after: Option<(u64, String)>,
        limit: usize,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        let index = match workflow {
            Some(w) => format!("pending:wf:{w}"),
            None => "pending".to_string(),
        };
        self.scored_page(&index, after, limit, false).await
    }

    async fn history_page(
        &self,
        before: Option<(u64, String)>,
        limit: usize,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        self.scored_page("history", before, limit, true).await
    }

    async fn trim_history(&self, before_ms: u64) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("ZREMRANGEBYSCORE")
            .arg(self.key("history"))
            .arg("-inf")
            .arg(format!("({before_ms}"))
            .query_async::<i64>(&mut conn)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn due_ids(&self, now_ms: u64, limit: usize) -> Result<Vec<String>, StoreError> {
        self.scored_up_to("pending", now_ms, limit).await
    }
}

#[async_trait]
impl DecisionStats for RedisStore {
    async fn stats(
        &self,
        workflows: &[String],
        samples: bool,
    ) -> Result<BTreeMap<String, WorkflowStats>, StoreError> {
        if workflows.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        for w in workflows {
            pipe.cmd("ZCARD").arg(self.key(&format!("pending:wf:{w}")));
            pipe.cmd("ZRANGE").arg(self.key(&format!("pending:wf:{w}"))).arg(0).arg(0).arg("WITHSCORES");
            pipe.cmd("HGETALL").arg(self.key(&format!("stats:{w}")));
            // Without samples the range is empty (start after stop).
            let (start, stop) = if samples { (0, -1) } else { (1, 0) };
            pipe.cmd("LRANGE").arg(self.key(&format!("ttd:{w}"))).arg(start).arg(stop);
        }
        type Row = (u64, Vec<(String, f64)>, HashMap<String, u64>, Vec<f64>);
        let rows: Vec<Row> = {
            let flat: Vec<redis::Value> = pipe.query_async(&mut conn).await.map_err(unavailable)?;
            flat.chunks(4)
                .map(|c| {
                    let parse = || -> redis::RedisResult<Row> {
                        Ok((
                            redis::from_redis_value_ref(&c[0])?,
                            redis::from_redis_value_ref(&c[1])?,
                            redis::from_redis_value_ref(&c[2])?,
                            redis::from_redis_value_ref(&c[3])?,
                        ))
                    };
                    parse()
                })
                .collect::<redis::RedisResult<_>>()
                .map_err(unavailable)?
        };
        // The index is by deadline: the soonest deadline's decision is the oldest (a workflow's
        // TTL is the same for all its decisions); its creation time is read in a second round.
        let soonest: Vec<Option<&str>> =
            rows.iter().map(|(_, s, _, _)| s.first().map(|(id, _)| id.as_str())).collect();
        let mut created = redis::pipe();
        for id in soonest.iter().flatten() {
            created.cmd("HGET").arg(self.key(&format!("decision:{id}"))).arg("created_ms");
        }
        let mut read: std::vec::IntoIter<Option<u64>> = if created.is_empty() {
            Vec::new().into_iter()
        } else {
            created.query_async::<Vec<Option<u64>>>(&mut conn).await.map_err(unavailable)?.into_iter()
        };
        // One creation time per workflow with a pending decision, in order; none for the others.
        let created: Vec<Option<u64>> =
            soonest.iter().map(|id| id.and_then(|_| read.next().flatten())).collect();
        Ok(workflows
            .iter()
            .zip(rows)
            .zip(created)
            .map(|((w, (pending, _, decided, ttd)), created)| {
                let stats = WorkflowStats {
                    pending,
                    oldest_pending_ms: if pending > 0 { created } else { None },
                    decided: decided.into_iter().collect(),
                    decision_seconds: if samples {
                        ttd.into_iter().map(|ms| ms / 1000.0).collect()
                    } else {
                        Vec::new()
                    },
                };
                (w.clone(), stats)
            })
            .collect())
    }
}
