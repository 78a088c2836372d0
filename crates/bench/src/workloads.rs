//! The timed workloads. Each is a request generator (pure: no I/O) run by `concurrency`
//! workers, one keep-alive connection each, for a warm-up and then a measured window.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::client::{Auth, Conn, Req, Target};
use crate::seed::{members_patch, user_body, Manifest, PATCH_OP};
use crate::stats::{Row, WorkerStats};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// GET /Users/{id} of a random seeded user.
    Get,
    /// `filter=userName eq "..."` of a random seeded user.
    Filter,
    /// A page of 100 at a deep startIndex.
    Page,
    /// `filter=emails.value co "..."`: a substring search over every email.
    Co,
    /// GET /Groups/{id}?excludedAttributes=members, one row per group size.
    Group,
    /// POST /Users (no password).
    Post,
    /// PATCH replace displayName of a random seeded user.
    Patch,
    /// PATCH add then remove one member, answered without the member list, per group size.
    Member,
    /// The same, answered with the whole member list (the SCIM default).
    MemberFull,
    /// The costliest requests an account may make, beside ordinary GETs (see `abuse.rs`).
    Abuse,
    /// POST /oauth/token, client-credentials grant (a signed JWT per request).
    Grant,
    /// GET /Users/{id} as `Get`, authenticated with an OAuth access token (JWT).
    GetJwt,
    /// Contabo's GET /v1/users/{id} of a random seeded user (the same user as `Get`).
    ContaboGet,
    /// Contabo's page of 100 users at the same deep position as `Page`.
    ContaboPage,
    /// CVAT's GET /api/users/self, with the API token and with HTTP Basic (the bench
    /// admin's password, verified once and then remembered by the server).
    CvatSelf,
    /// CVAT's `search=` (a substring of username, first or last name) matching one user.
    CvatSearch,
    /// The web console's pages as an administrator's browser asks for them (session cookie):
    /// the user list at the deep position of `Page`, and the first page of members of each
    /// sized group.
    Console,
}

impl Kind {
    /// Run order: reads first, then the writes that grow the data.
    pub const ORDER: [Kind; 17] = [
        Kind::Get,
        Kind::ContaboGet,
        Kind::CvatSelf,
        Kind::GetJwt,
        Kind::Grant,
        Kind::Filter,
        Kind::Page,
        Kind::ContaboPage,
        Kind::Co,
        Kind::CvatSearch,
        Kind::Console,
        Kind::Group,
        Kind::Post,
        Kind::Patch,
        Kind::Member,
        Kind::MemberFull,
        Kind::Abuse,
    ];
    /// What `--workloads all` means.
    pub const ALL_DEFAULT: [Kind; 14] = [
        Kind::Get,
        Kind::ContaboGet,
        Kind::CvatSelf,
        Kind::GetJwt,
        Kind::Grant,
        Kind::Filter,
        Kind::Page,
        Kind::ContaboPage,
        Kind::Co,
        Kind::CvatSearch,
        Kind::Group,
        Kind::Post,
        Kind::Patch,
        Kind::Member,
    ];

    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "get" => Kind::Get,
            "filter" => Kind::Filter,
            "page" => Kind::Page,
            "co" => Kind::Co,
            "group" => Kind::Group,
            "post" => Kind::Post,
            "patch" => Kind::Patch,
            "member" => Kind::Member,
            "member-full" => Kind::MemberFull,
            "abuse" => Kind::Abuse,
            "grant" => Kind::Grant,
            "get-jwt" => Kind::GetJwt,
            "contabo-get" => Kind::ContaboGet,
            "contabo-page" => Kind::ContaboPage,
            "cvat-self" => Kind::CvatSelf,
            "cvat-search" => Kind::CvatSearch,
            "console" => Kind::Console,
            _ => return None,
        })
    }
}

type Gen = dyn Fn(&mut StdRng, usize, u64) -> Req + Send + Sync;

/// A named request generator: `(rng, worker, iteration) -> request`.
pub struct Workload {
    pub name: String,
    gen: Arc<Gen>,
}

pub fn workload(
    name: impl Into<String>,
    gen: impl Fn(&mut StdRng, usize, u64) -> Req + Send + Sync + 'static,
) -> Workload {
    Workload {
        name: name.into(),
        gen: Arc::new(gen),
    }
}

/// The bench admin's OAuth client and an access token from it (the OAuth workloads).
#[derive(Debug, Clone)]
pub struct OAuth {
    pub client_id: String,
    pub client_secret: String,
    pub jwt: String,
}

/// What authenticates the workloads beyond the target's token, as far as known.
#[derive(Debug, Clone, Default)]
pub struct Extra {
    /// The bench admin's OAuth client and a JWT (the OAuth kinds).
    pub oauth: Option<OAuth>,
    /// The admin's `Authorization: Basic` value (the Basic row of `CvatSelf`).
    pub basic: Option<String>,
    /// A console session's `Cookie` header (`Console`).
    pub console: Option<http::HeaderValue>,
}

/// Builds the concrete workloads for `kind` over the seeded data (several for the
/// per-group-size kinds); the kinds that need something in `extra` yield none without it.
pub fn build(kind: Kind, m: &Arc<Manifest>, page_start: usize, extra: &Extra) -> Vec<Workload> {
    let (oauth, basic) = (extra.oauth.as_ref(), extra.basic.as_deref());
    let n = m.users.len().max(1);
    let nonce = crate::server::random_hex(3);
    match kind {
        Kind::Get => {
            let m = m.clone();
            vec![workload("get /Users/{id}", move |rng, _, _| {
                let id = &m.users[rng.gen_range(0..n)];
                Req::get(format!("/scim/v2/Users/{id}"))
            })]
        }
        Kind::ContaboGet => {
            let m = m.clone();
            vec![workload("contabo get /v1/users/{id}", move |rng, _, _| {
                let id = &m.users[rng.gen_range(0..n)];
                Req::get(format!("/v1/users/{id}"))
                    .with_request_id()
                    .containing("\"userId\"")
            })]
        }
        Kind::CvatSelf => {
            let mut out = vec![workload("cvat get /api/users/self (token)", |_, _, _| {
                Req::get("/api/users/self".into()).containing("\"is_superuser\":true")
            })];
            if let Some(h) = basic.and_then(|b| http::HeaderValue::from_str(b).ok()) {
                out.push(workload(
                    "cvat get /api/users/self (Basic)",
                    move |_, _, _| {
                        Req::get("/api/users/self".into())
                            .auth(Auth::Header(h.clone()))
                            .containing("\"is_superuser\":true")
                    },
                ));
            }
            out
        }
        Kind::CvatSearch => {
            let m = m.clone();
            vec![workload("cvat search= (one match)", move |rng, _, _| {
                let name = m.user_name(rng.gen_range(0..n));
                let needle = name.rsplit('-').next().unwrap_or_default().to_owned();
                Req::get(format!("/api/users?search=-{needle}&page_size=10"))
                    .containing(format!("\"username\":\"{name}\""))
            })]
        }
        Kind::ContaboPage => {
            // Contabo pages are 1-based pages of `size`: the page holding entry page_start.
            let page = page_start.saturating_sub(1) / 100 + 1;
            vec![workload(
                format!("contabo page of 100 @ {}", (page - 1) * 100 + 1),
                move |_, _, _| {
                    Req::get(format!("/v1/users?size=100&page={page}"))
                        .with_request_id()
                        .containing("\"size\":100")
                },
            )]
        }
        Kind::Filter => {
            let m = m.clone();
            vec![workload("filter userName eq", move |rng, _, _| {
                let name = m.user_name(rng.gen_range(0..n));
                Req::get(format!(
                    "/scim/v2/Users?filter=userName%20eq%20%22{name}%22"
                ))
                .containing(format!("\"userName\":\"{name}\""))
            })]
        }
        Kind::Page => vec![workload(
            format!("page of 100 @ {page_start}"),
            move |_, _, _| {
                Req::get(format!("/scim/v2/Users?startIndex={page_start}&count=100"))
                    .containing("\"itemsPerPage\":100")
            },
        )],
        Kind::Co => {
            let m = m.clone();
            vec![workload("filter emails.value co", move |rng, _, _| {
                let name = m.user_name(rng.gen_range(0..n));
                // The index part and the '@': a substring matching exactly this user.
                let needle = name.rsplit('-').next().unwrap_or_default();
                Req::get(format!(
                    "/scim/v2/Users?filter=emails.value%20co%20%22-{needle}%40%22"
                ))
                .containing(format!("{name}@example.com"))
            })]
        }
        Kind::Group => m
            .sized
            .iter()
            .map(|(size, id)| {
                let path = format!("/scim/v2/Groups/{id}?excludedAttributes=members");
                workload(format!("group get S={size}"), move |_, _, _| {
                    Req::get(path.clone())
                })
            })
            .collect(),
        Kind::Post => {
            let tag = m.tag.clone();
            vec![workload("post /Users", move |_, w, i| {
                let name = format!("bench-{tag}-post-{nonce}-{w}-{i}");
                Req::with_body(
                    Method::POST,
                    "/scim/v2/Users".into(),
                    user_body(&name, "Posted User"),
                    StatusCode::CREATED,
                )
            })]
        }
        Kind::Patch => {
            let m = m.clone();
            vec![workload("patch replace displayName", move |rng, w, i| {
                let id = &m.users[rng.gen_range(0..n)];
                let body = json!({
                    "schemas": [PATCH_OP],
                    "Operations": [{"op": "replace", "path": "displayName", "value": format!("Renamed {w}-{i}")}],
                });
                Req::with_body(
                    Method::PATCH,
                    format!("/scim/v2/Users/{id}"),
                    body.to_string().into_bytes(),
                    StatusCode::OK,
                )
            })]
        }
        Kind::Console => {
            let Some(cookie) = extra.console.clone() else {
                return Vec::new();
            };
            // Pages of 50: the page holding entry page_start.
            let page = page_start.saturating_sub(1) / 50 + 1;
            let c = cookie.clone();
            let mut out = vec![workload(
                format!("console users page @ {}", (page - 1) * 50 + 1),
                move |_, _, _| {
                    Req::get(format!("/console/users?page={page}"))
                        .auth(Auth::Cookie(c.clone()))
                        .containing(format!(", page {page} of"))
                },
            )];
            for (size, id) in &m.sized {
                let (c, path) = (cookie.clone(), format!("/console/groups/{id}"));
                out.push(workload(
                    format!("console members S={size}"),
                    move |_, _, _| {
                        Req::get(path.clone())
                            .auth(Auth::Cookie(c.clone()))
                            .containing(" members")
                    },
                ));
            }
            out
        }
        // Run by `abuse::run`, several workloads at once.
        Kind::Abuse => Vec::new(),
        Kind::Grant => oauth
            .into_iter()
            .map(|o| {
                let body = format!(
                    "grant_type=client_credentials&client_id={}&client_secret={}",
                    o.client_id, o.client_secret
                );
                workload("oauth client_credentials grant", move |_, _, _| {
                    Req::with_body(
                        Method::POST,
                        "/oauth/token".into(),
                        body.clone().into_bytes(),
                        StatusCode::OK,
                    )
                    .form()
                    .auth(Auth::None)
                    .containing("\"access_token\"")
                })
            })
            .collect(),
        Kind::GetJwt => oauth
            .into_iter()
            .map(|o| {
                let m = m.clone();
                let auth = Auth::Header(
                    http::HeaderValue::from_str(&format!("Bearer {}", o.jwt))
                        .unwrap_or(http::HeaderValue::from_static("")),
                );
                workload("get /Users/{id} (JWT)", move |rng, _, _| {
                    let id = &m.users[rng.gen_range(0..n)];
                    Req::get(format!("/scim/v2/Users/{id}")).auth(auth.clone())
                })
            })
            .collect(),
        Kind::Member | Kind::MemberFull => {
            let full = kind == Kind::MemberFull;
            m.sized
                .iter()
                .map(|(size, id)| member_workload(m, *size, id, full))
                .collect()
        }
    }
}

/// Each worker adds its own spare user, then removes it, and so on: the group stays at
/// its size (within the concurrency) however long the run.
fn member_workload(m: &Arc<Manifest>, size: usize, group: &str, full: bool) -> Workload {
    let spares = Arc::new(m.spares.clone());
    let path = if full {
        format!("/scim/v2/Groups/{group}")
    } else {
        format!("/scim/v2/Groups/{group}?excludedAttributes=members")
    };
    let name = if full {
        format!("member add/rm S={size} full")
    } else {
        format!("member add/rm S={size}")
    };
    workload(name, move |_, w, i| {
        let user = &spares[w % spares.len().max(1)];
        let body = if i % 2 == 0 {
            members_patch("add", &[user])
        } else {
            json!({
                "schemas": [PATCH_OP],
                "Operations": [{"op": "remove", "path": format!("members[value eq \"{user}\"]")}],
            })
            .to_string()
            .into_bytes()
        };
        Req::with_body(Method::PATCH, path.clone(), body, StatusCode::OK)
    })
}

/// Runs one workload: `warmup` unmeasured, then `duration` measured. Requests started in
/// the window are timed; throughput divides by the time until the last of them finished.
pub async fn run(
    target: &Arc<Target>,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
    wl: &Workload,
) -> Row {
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let (target, gen) = (target.clone(), wl.gen.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(target);
            let mut rng = StdRng::seed_from_u64(w as u64 + 1);
            let mut stats = WorkerStats::new();
            let mut last = measure_from;
            let mut i = 0u64;
            loop {
                let req = gen(&mut rng, w, i);
                i += 1;
                let t = Instant::now();
                if t >= end {
                    break;
                }
                let outcome = conn.call(&req).await.map(|_| ());
                let done = Instant::now();
                if t >= measure_from {
                    stats.record(done - t, outcome);
                    last = last.max(done);
                }
            }
            (stats, last)
        }));
    }
    let mut workers = Vec::new();
    let mut last = measure_from;
    for t in tasks {
        if let Ok((s, l)) = t.await {
            workers.push(s);
            last = last.max(l);
        }
    }
    Row::from_workers(
        &wl.name,
        last.saturating_duration_since(measure_from),
        workers,
    )
}
