//! Seeding through the public API only (no SQL), so the same seed works against any
//! backend and its speed is itself a measurement: concurrent `POST /Users`, then groups
//! created empty and filled with `PATCH add members` batches.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::client::{Conn, Req, Target};
use crate::stats::SeedReport;

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Everything the workloads need to know about the seeded data; saved with --manifest so
/// a second run against the same database can skip seeding.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Distinguishes this seed's names from any other data on the server.
    pub tag: String,
    /// User ids; user `i` is named [`Manifest::user_name`]`(i)`.
    pub users: Vec<String>,
    /// Users in no sized group: the member workloads add and remove these.
    pub spares: Vec<String>,
    pub groups: Vec<String>,
    /// (member count, group id) for each `--group-sizes` entry.
    pub sized: Vec<(usize, String)>,
    /// The bootstrap token of a server the tool spawned: a restart on the same database
    /// skips the bootstrap, so the old token is the only one that works. A throw-away
    /// benchmark secret, kept next to throw-away data.
    #[serde(default)]
    pub token: Option<String>,
}

impl Manifest {
    pub fn user_name(&self, i: usize) -> String {
        user_name(&self.tag, i)
    }

    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Ok(serde_json::from_slice(&text)?)
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, serde_json::to_vec(self)?)
            .with_context(|| format!("writing {}", path.display()))
    }
}

pub fn user_name(tag: &str, i: usize) -> String {
    format!("bench-{tag}-{i:07}")
}

/// A realistic user: names, one work email (the `co` workload searches these).
pub fn user_body(user_name: &str, display: &str) -> Vec<u8> {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "displayName": display,
        "name": {"givenName": "Bench", "familyName": display},
        "active": true,
        "emails": [{"value": format!("{user_name}@example.com"), "type": "work", "primary": true}],
    })
    .to_string()
    .into_bytes()
}

pub fn members_patch(op: &str, ids: &[&str]) -> Vec<u8> {
    let value: Vec<_> = ids.iter().map(|id| json!({"value": id})).collect();
    json!({
        "schemas": [PATCH_OP],
        "Operations": [{"op": op, "path": "members", "value": value}],
    })
    .to_string()
    .into_bytes()
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

fn parse_id(body: &Bytes) -> Result<String, String> {
    serde_json::from_slice::<IdOnly>(body)
        .map(|r| r.id)
        .map_err(|e| format!("answer has no id: {e}"))
}

/// Outcome of a batch of requests run by [`pool`].
struct Pooled<T> {
    results: Vec<Option<T>>,
    errors: u64,
    samples: Vec<String>,
}

/// Sends `n` requests built by `make(i)` with `conc` in flight, keeping `parse(answer)`
/// for each; prints progress every few seconds on long runs.
async fn pool<T, M, P>(
    target: &Arc<Target>,
    conc: usize,
    n: usize,
    label: &str,
    make: M,
    parse: P,
) -> Pooled<T>
where
    T: Send + 'static,
    M: Fn(usize) -> Req + Send + Sync + 'static,
    P: Fn(&Bytes) -> Result<T, String> + Send + Sync + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let make = Arc::new(make);
    let parse = Arc::new(parse);
    let ticker = {
        let (done, label, started) = (done.clone(), label.to_owned(), Instant::now());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            tick.tick().await;
            loop {
                tick.tick().await;
                let d = done.load(Ordering::Relaxed);
                let rate = d as f64 / started.elapsed().as_secs_f64();
                eprintln!("  {label}: {d}/{n} ({rate:.0}/s)");
            }
        })
    };
    let mut tasks = Vec::new();
    for _ in 0..conc.min(n.max(1)) {
        let (target, next, done) = (target.clone(), next.clone(), done.clone());
        let (make, parse) = (make.clone(), parse.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(target);
            let mut out = Vec::new();
            let mut errors = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let req = make(i);
                match conn.call(&req).await.and_then(|r| parse(&r.body)) {
                    Ok(v) => out.push((i, v)),
                    Err(e) => errors.push(e),
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            (out, errors)
        }));
    }
    let mut pooled = Pooled {
        results: (0..n).map(|_| None).collect(),
        errors: 0,
        samples: Vec::new(),
    };
    for t in tasks {
        match t.await {
            Ok((out, errors)) => {
                for (i, v) in out {
                    if let Some(slot) = pooled.results.get_mut(i) {
                        *slot = Some(v);
                    }
                }
                pooled.errors += errors.len() as u64;
                pooled.samples.extend(errors.into_iter().take(3));
            }
            Err(e) => {
                pooled.errors += 1;
                pooled.samples.push(format!("seeding task failed: {e}"));
            }
        }
    }
    ticker.abort();
    pooled
}

/// Fails the seed when any request failed: measuring a partial data set would mislead.
fn complete<T>(what: &str, p: Pooled<T>) -> anyhow::Result<Vec<T>> {
    if p.errors > 0 {
        bail!(
            "{} of the {what} requests failed while seeding, e.g.:\n  {}",
            p.errors,
            p.samples.join("\n  ")
        );
    }
    p.results
        .into_iter()
        .map(|r| r.ok_or_else(|| anyhow::anyhow!("a {what} request left no result")))
        .collect()
}

async fn create_users(
    target: &Arc<Target>,
    conc: usize,
    tag: &str,
    n: usize,
    spare: bool,
) -> anyhow::Result<Vec<String>> {
    let tag = tag.to_owned();
    let label = if spare { "spare users" } else { "users" };
    let p = pool(
        target,
        conc,
        n,
        label,
        move |i| {
            let name = if spare {
                format!("bench-{tag}-spare-{i:04}")
            } else {
                user_name(&tag, i)
            };
            let body = user_body(&name, &format!("Bench User {i}"));
            Req::with_body(
                Method::POST,
                "/scim/v2/Users".into(),
                body,
                StatusCode::CREATED,
            )
        },
        parse_id,
    )
    .await;
    complete(label, p)
}

async fn create_groups(
    target: &Arc<Target>,
    conc: usize,
    names: Vec<String>,
) -> anyhow::Result<Vec<String>> {
    let names = Arc::new(names);
    let n = names.len();
    let p = pool(
        target,
        conc,
        n,
        "groups",
        move |i| {
            let body = json!({"schemas": [GROUP_SCHEMA], "displayName": names[i]});
            Req::with_body(
                Method::POST,
                "/scim/v2/Groups".into(),
                body.to_string().into_bytes(),
                StatusCode::CREATED,
            )
        },
        parse_id,
    )
    .await;
    complete("group", p)
}

/// One `PATCH add members` request: a group and the user indices it adds.
struct Batch {
    group: String,
    members: Vec<usize>,
}

async fn add_members(
    target: &Arc<Target>,
    conc: usize,
    users: &Arc<Vec<String>>,
    batches: Vec<Batch>,
) -> anyhow::Result<()> {
    let batches = Arc::new(batches);
    let users = users.clone();
    let p = pool(
        target,
        conc,
        batches.len(),
        "member batches",
        move |i| {
            let b = &batches[i];
            let ids: Vec<&str> = b.members.iter().map(|&u| users[u].as_str()).collect();
            Req::with_body(
                Method::PATCH,
                format!("/scim/v2/Groups/{}?excludedAttributes=members", b.group),
                members_patch("add", &ids),
                StatusCode::OK,
            )
        },
        |_| Ok(()),
    )
    .await;
    complete("member batch", p)?;
    Ok(())
}

pub struct SeedPlan {
    pub users: usize,
    pub spares: usize,
    pub groups: usize,
    pub members: usize,
    pub sizes: Vec<usize>,
    pub batch: usize,
    pub concurrency: usize,
}

/// Seeds users, spare users, ordinary groups and the sized groups, timing each phase.
pub async fn seed(
    target: &Arc<Target>,
    plan: &SeedPlan,
    tag: &str,
) -> anyhow::Result<(Manifest, SeedReport)> {
    let conc = plan.concurrency;
    let t0 = Instant::now();
    let users = Arc::new(create_users(target, conc, tag, plan.users, false).await?);
    let user_secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "seeded {} users in {user_secs:.1} s ({:.0}/s)",
        plan.users,
        plan.users as f64 / user_secs
    );
    let spares = create_users(target, conc, tag, plan.spares, true).await?;

    let t1 = Instant::now();
    let mut names: Vec<String> = (0..plan.groups)
        .map(|j| format!("bench-{tag}-group-{j:06}"))
        .collect();
    names.extend(plan.sizes.iter().map(|s| format!("bench-{tag}-size-{s}")));
    let mut ids = create_groups(target, conc, names).await?;
    let sized_ids = ids.split_off(plan.groups);
    let members = plan.members.min(plan.users);
    let mut batches = Vec::new();
    for (j, g) in ids.iter().enumerate() {
        let all: Vec<usize> = (0..members)
            .map(|k| (j * members + k) % plan.users)
            .collect();
        push_batches(&mut batches, g, all, plan.batch);
    }
    for (s, g) in plan.sizes.iter().zip(&sized_ids) {
        push_batches(&mut batches, g, (0..*s).collect(), plan.batch);
    }
    add_members(target, conc, &users, batches).await?;
    let group_secs = t1.elapsed().as_secs_f64();
    let memberships = plan.groups * members + plan.sizes.iter().sum::<usize>();
    eprintln!(
        "seeded {} groups with {memberships} memberships in {group_secs:.1} s",
        plan.groups + plan.sizes.len()
    );
    let report = SeedReport {
        users: plan.users,
        user_seconds: user_secs,
        users_per_second: plan.users as f64 / user_secs,
        groups: plan.groups + plan.sizes.len(),
        memberships,
        group_seconds: group_secs,
        memberships_per_second: memberships as f64 / group_secs,
        errors: 0,
        reused_manifest: false,
    };
    let manifest = Manifest {
        tag: tag.to_owned(),
        users: Arc::try_unwrap(users).unwrap_or_else(|a| (*a).clone()),
        spares,
        groups: ids,
        sized: plan.sizes.iter().copied().zip(sized_ids).collect(),
        token: None,
    };
    Ok((manifest, report))
}

fn push_batches(out: &mut Vec<Batch>, group: &str, members: Vec<usize>, batch: usize) {
    for chunk in members.chunks(batch) {
        out.push(Batch {
            group: group.to_owned(),
            members: chunk.to_vec(),
        });
    }
}
