//! PostgreSQL: the changes of one group that arrive together share one transaction.
//!
//! Every change of a group locks its row (`SELECT … FOR UPDATE`) and bumps its version, and
//! PostgreSQL holds that lock through the change's statements and its COMMIT, so concurrent
//! changes of one group — an identity provider pushing the members of a large group — queue
//! on that row one transaction at a time. Here a node gathers the changes of a group that
//! arrive while one of its transactions is open and writes them, up to [`MAX_BATCH`], in the
//! next transaction: the row is locked once, each change is applied in arrival order to the
//! state the previous one left (If-Match is checked against the exact version it would have
//! met alone, and each change bumps the version by one and answers its own), each gets its
//! own audit row, and one COMMIT acknowledges them all. A change is answered only after the
//! COMMIT that holds it returned. Nodes still take turns on the row, a batch each.
//!
//! The users a batch names are looked up in one statement, and plain adds and removes (the
//! identity providers' PATCHes) are folded into one INSERT and one DELETE, the last step for
//! each user deciding: a batch is some eight statements however many changes it holds.
//!
//! A change the batch refuses (If-Match, a member id that names no user) is refused before it
//! writes anything, so the others go on. If a statement fails, the transaction is rolled back
//! and its changes are written again one transaction each, so that only the change that fails
//! is refused.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use roster_core::group::GroupChange;
use roster_core::{Entity, Group};
use tokio::sync::oneshot;
use uuid::Uuid;

use super::{groups, insert_audit_rows, AuditRow, Write};
use crate::audit::Action;
use crate::db::{Backend, Exec};
use crate::{CommitGate, Result, StoreError, WriteCtx};

/// Most changes one transaction holds: bounds how long the row stays locked for the other
/// nodes and the wait of the batch's first change.
const MAX_BATCH: usize = 64;

/// A change bigger than this (member ids) is written in a transaction of its own: copying it
/// into the queue and holding the batch behind it would cost more than the lock it shares.
pub(super) const MAX_BATCHED_MEMBERS: usize = 100;

/// One change waiting for its group's next transaction.
pub(super) struct Pending {
    pub actor: String,
    pub request_id: Option<String>,
    pub gate: Option<CommitGate>,
    pub if_match: Option<i64>,
    pub change: GroupChange,
    pub reply: oneshot::Sender<Result<Group>>,
}

/// The groups with a batch in progress on this node, and the changes queued behind it.
#[derive(Default)]
pub(super) struct Queues(Mutex<HashMap<Uuid, VecDeque<Pending>>>);

impl Queues {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, VecDeque<Pending>>> {
        // A panic while holding this lock cannot leave the map inconsistent (every
        // operation on it is a single insert, push, drain or remove).
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Queues `p` behind the group's batch in progress, or starts one. `p.reply` gets the
/// change's outcome once the transaction holding it has ended; if it is dropped unanswered
/// (the batch's task died), nothing of the change was committed by it.
pub(super) fn submit<B: Backend>(db: &Arc<B>, queues: &Arc<Queues>, group: Uuid, p: Pending) {
    {
        let mut map = queues.lock();
        if let Some(q) = map.get_mut(&group) {
            q.push_back(p);
            return;
        }
        map.insert(group, VecDeque::from([p]));
    }
    // A task of its own: the batch must not end with the request that started it (its
    // client may go away; the other changes in it still get their answers).
    let (db, queues) = (db.clone(), queues.clone());
    tokio::spawn(async move { run(&*db, &queues, group).await });
}

/// Removes the group's queue if the runner ends other than by finding it empty (a panic): the
/// senders of the changes still queued are dropped with it, and their requests write them
/// alone.
struct Running<'a> {
    queues: &'a Queues,
    group: Uuid,
    done: bool,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.queues.lock().remove(&self.group);
        }
    }
}

/// Writes the group's queued changes, a batch per transaction, until none is left.
async fn run<B: Backend>(db: &B, queues: &Queues, group: Uuid) {
    let mut running = Running {
        queues,
        group,
        done: false,
    };
    loop {
        let batch: Vec<Pending> = {
            let mut map = queues.lock();
            let Some(q) = map.get_mut(&group).filter(|q| !q.is_empty()) else {
                // Under the same lock as the check: a change submitted after this starts a
                // new runner instead of waiting in a queue nobody takes from.
                map.remove(&group);
                running.done = true;
                return;
            };
            let n = q.len().min(MAX_BATCH);
            q.drain(..n).collect()
        };
        metrics::histogram!("roster_group_change_batch_size").record(batch.len() as f64);
        let outcomes = match write_batch(db, group, &batch).await {
            Ok(outcomes) => outcomes,
            // The transaction failed as a whole (nothing of it is stored): each change again
            // alone, in order, so that only the change that fails is refused.
            Err(_) => {
                let mut outcomes = Vec::with_capacity(batch.len());
                for p in &batch {
                    outcomes.push(write_alone(db, group, p).await);
                }
                outcomes
            }
        };
        for (p, outcome) in batch.into_iter().zip(outcomes) {
            let _ = p.reply.send(outcome);
        }
    }
}

/// Writes the memberships the plain changes left (see [`write_batch`]) and forgets them.
async fn write_plain(
    tx: &mut dyn Exec,
    group_seq: i64,
    plain: &mut BTreeMap<i64, bool>,
) -> Result<()> {
    let (add, remove): (Vec<i64>, Vec<i64>) = {
        let (a, r): (Vec<_>, Vec<_>) = plain.iter().partition(|(_, &member)| member);
        (
            a.into_iter().map(|(&s, _)| s).collect(),
            r.into_iter().map(|(&s, _)| s).collect(),
        )
    };
    groups::insert_plain(tx, group_seq, &add).await?;
    groups::delete_seqs(tx, group_seq, &remove).await?;
    plain.clear();
    Ok(())
}

fn audit_row<'a>(group: &'a str, p: &'a Pending, changes: &'a str) -> AuditRow<'a> {
    AuditRow {
        actor: &p.actor,
        action: Action::GroupUpdate,
        target: group,
        request_id: p.request_id.as_deref(),
        changes: Some(changes),
    }
}

/// One change in its own transaction.
async fn write_alone<B: Backend>(db: &B, group: Uuid, p: &Pending) -> Result<Group> {
    let ctx = WriteCtx {
        request_id: p.request_id.clone(),
        gate: p.gate.clone(),
    };
    let w = Write::begin(db, p.actor.clone(), ctx).await?;
    groups::modify_alone(w, db.dialect(), group, p.if_match, &p.change).await
}

/// The batch in one transaction: each change's outcome, or the error that failed the
/// transaction (then nothing of it is stored).
async fn write_batch<B: Backend>(
    db: &B,
    group: Uuid,
    batch: &[Pending],
) -> Result<Vec<Result<Group>>> {
    let mut tx = db.begin().await?;
    let Some(mut g) = groups::lock(&mut *tx, db.dialect(), group).await? else {
        return Ok(batch
            .iter()
            .map(|_| Err(StoreError::NotFound(Entity::Group(group))))
            .collect());
    };
    let from_version = g.meta.version;
    // Every user the batch names, looked up once.
    let mut ids: Vec<Uuid> = batch
        .iter()
        .flat_map(|p| groups::named_ids(&p.change))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let seqs = groups::known_seqs(&mut *tx, &ids).await?;
    // The memberships the plain changes so far leave, by user seq (true: a member), not yet
    // written: one INSERT and one DELETE for them all, before any other kind of change.
    let mut plain = BTreeMap::new();
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut applied = Vec::new();
    for p in batch {
        if p.if_match.is_some_and(|v| v != g.meta.version) {
            outcomes.push(Err(StoreError::VersionMismatch));
            continue;
        }
        // Refused before it wrote anything: the transaction goes on without it.
        if let Err(e) = groups::check_known(&groups::added_ids(&p.change), &seqs) {
            outcomes.push(Err(e));
            continue;
        }
        // The change's commit begins here: once its work is in the transaction, its request
        // waits for the COMMIT rather than time out with a wrong "nothing changed".
        if let Some(gate) = &p.gate {
            if let Err(e) = gate.begin_commit() {
                outcomes.push(Err(e));
                continue;
            }
        }
        match groups::plain_steps(&p.change) {
            Some(steps) => {
                for (id, member) in steps {
                    // Removing an id that names no user changes nothing.
                    if let Some(&seq) = seqs.get(&id) {
                        plain.insert(seq, member);
                    }
                }
                groups::touch(&mut g, &p.change);
            }
            None => {
                write_plain(&mut *tx, g.seq, &mut plain).await?;
                groups::apply(&mut *tx, &mut g, &p.change, &seqs).await?;
            }
        }
        outcomes.push(Ok(g.clone()));
        applied.push(p);
    }
    write_plain(&mut *tx, g.seq, &mut plain).await?;
    if applied.is_empty() {
        return Ok(outcomes);
    }
    groups::save(&mut *tx, &g, from_version).await?;
    let target = group.to_string();
    let changes: Vec<String> = applied
        .iter()
        .map(|p| groups::changed_names(&p.change).join(","))
        .collect();
    let rows: Vec<AuditRow> = applied
        .iter()
        .zip(&changes)
        .map(|(p, c)| audit_row(&target, p, c))
        .collect();
    insert_audit_rows(&mut *tx, &rows).await?;
    tx.commit().await?;
    Ok(outcomes)
}
