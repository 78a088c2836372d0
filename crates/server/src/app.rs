//! The axum application: shared state, every dialect mounted under its prefix, the
//! server-wide layers, `/healthz` and `/openapi.json`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use roster_store::Store;
use tower::util::MapRequestLayer;
use tower::ServiceBuilder;
use tower_http::request_id::PropagateRequestIdLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::account::Account;
use crate::account_api::AccountApi;
use crate::audit_api::Audit;
use crate::console::Console;
use crate::contabo::Contabo;
use crate::cvat::Cvat;
use crate::http::connection::Timeouts;
use crate::http::dialect::{mount, Renderer, Renderers};
use crate::http::envelope::EnvelopeLayer;
use crate::http::limits::RateLimits;
use crate::http::listener::ServeOptions;
use crate::http::{request_id, ApiError};
use crate::oauth::{Keycloak, OAuth, WellKnown};
use crate::odm::Odm;
use crate::passwords::Passwords;
use crate::sailpoint::{SailPointV1, SailPointV3};
use crate::scim::Scim;
use crate::tokens::TokenService;

/// What every handler may reach; cheap to clone (requests clone it).
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// The base of every link Roster writes (`meta.location`, `$ref`, `Location`), without
    /// a trailing slash; never taken from the request's `Host` header.
    pub public_url: Arc<str>,
    pub passwords: Arc<Passwords>,
    /// OAuth access tokens: signing keys, issuance, verification.
    pub tokens: Arc<TokenService>,
    /// API tokens' principals, used once the authentication data is known not to have moved.
    pub principals: Arc<crate::http::principals::PrincipalCache>,
    /// The organization's short name (SailPoint's `tenant`): ROSTER_TENANT.
    pub tenant: Arc<str>,
    /// The organization's ids as Contabo shows them: ROSTER_TENANT_ID, ROSTER_CUSTOMER_ID.
    pub tenant_id: Arc<str>,
    pub customer_id: Arc<str>,
    /// Rate limits (off unless set: `roster serve` sets them from its settings).
    pub limits: Arc<RateLimits>,
    /// Reset and verification mail (into `.eml` files under the temp dir unless set:
    /// `roster serve` sets it from its settings).
    pub mail: Arc<crate::mail::Mail>,
    /// Password sign-ins: Basic credentials and sessions.
    pub signin: Arc<crate::signin::SignIn>,
    /// The first-run setup code of this process (none once the directory has a user).
    pub setup: Arc<crate::console::SetupCode>,
    /// The serialised OpenAPI document, set once the router is built.
    openapi: Arc<std::sync::OnceLock<Vec<u8>>>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        public_url: &str,
        passwords: Passwords,
        tokens: TokenService,
    ) -> Self {
        Self {
            store,
            public_url: public_url.trim_end_matches('/').into(),
            passwords: Arc::new(passwords),
            tokens: Arc::new(tokens),
            principals: Arc::default(),
            tenant: "roster".into(),
            tenant_id: "roster".into(),
            customer_id: "1".into(),
            limits: RateLimits::off(),
            mail: crate::mail::Mail::new(
                crate::mail::MailSettings::files(std::env::temp_dir().join("roster-mail")),
                public_url,
            ),
            signin: Arc::new(crate::signin::SignIn::new(Duration::from_secs(14 * 86_400))),
            setup: Arc::default(),
            openapi: Arc::default(),
        }
    }
}

pub struct AppOptions {
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    /// A connection with no request for this long is closed.
    pub idle_timeout: Duration,
    /// A request head must arrive completely within this of its first byte.
    pub header_timeout: Duration,
    pub max_connections: usize,
    /// One `roster::access` log line per request (ROSTER_ACCESS_LOG).
    pub access_log: bool,
    /// Record request metrics (a recorder is installed: ROSTER_METRICS_LISTEN).
    pub metrics: bool,
    /// Serve HTTPS with this certificate (ROSTER_TLS_CERT_FILE / ROSTER_TLS_KEY_FILE).
    pub tls: Option<std::sync::Arc<crate::http::tls::Tls>>,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            max_body_bytes: 2 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
            header_timeout: Duration::from_secs(10),
            max_connections: 1024,
            access_log: true,
            metrics: false,
            tls: None,
        }
    }
}

/// Serves the app on `listener` until `shutdown` resolves (then lets requests finish).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    opts: &AppOptions,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let (app, renderers) = build(state, opts);
    let serve_opts = ServeOptions {
        timeouts: Timeouts {
            idle: opts.idle_timeout,
            header: opts.header_timeout,
        },
        max_connections: opts.max_connections,
        tls: match &opts.tls {
            Some(t) => match t.acceptor() {
                Ok(a) => Some(a),
                Err(e) => {
                    tracing::error!(
                        error = format!("{e:#}"),
                        "TLS could not be set up; not serving"
                    );
                    return;
                }
            },
            None => None,
        },
    };
    crate::http::listener::serve(listener, app, renderers, serve_opts, shutdown).await;
}

#[utoipa::path(get, path = "/healthz", tag = "Roster", security(()),
    description = "200 once the server and its database answer; no authentication.",
    responses((status = 200, description = "ok", content_type = "text/plain", body = String),
              (status = 503, description = "The database does not answer")))]
async fn healthz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state.store.ping().await?;
    Ok("ok")
}

#[utoipa::path(get, path = "/openapi.json", tag = "Roster", security(()),
    description = "This OpenAPI 3.1 document, generated from the code; no authentication.",
    responses((status = 200, description = "The document", content_type = "application/json", body = serde_json::Value)))]
async fn openapi(State(state): State<AppState>) -> Response {
    let doc = state.openapi.get().cloned().unwrap_or_default();
    let mut res = (StatusCode::OK, doc).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // Public and the same for everyone: the one answer that may be cached.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    res
}

async fn no_route() -> ApiError {
    ApiError::no_route()
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

/// The OpenAPI 3.1 document: every dialect's routes (added as each is mounted) and the
/// server's own.
fn base_document() -> utoipa::openapi::OpenApi {
    use utoipa::openapi::security::{
        ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
    };
    use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApiBuilder};
    let components = ComponentsBuilder::new()
        .security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token (`roster token issue`) or an OAuth access token (a JWT from /oauth/token)",
                    ))
                    .build(),
            ),
        )
        .security_scheme(
            "oauth_client",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "A user's OAuth client (`roster client show`): HTTP Basic, or client_id and client_secret in the form body",
                    ))
                    .build(),
            ),
        )
        .security_scheme(
            "genestack_api_token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("Genestack-API-Token"))),
        )
        .security_scheme(
            "password",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some("A user's userName (or email) and password"))
                    .build(),
            ),
        )
        .security_scheme(
            "login_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`Token <key>`: the key a login (/api/auth/login) answered with",
            ))),
        )
        .security_scheme(
            "console_session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "roster_console",
                "The web console's session cookie (SameSite=Strict); every form also carries its csrf field",
            ))),
        )
        .security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "sessionid",
                "The session cookie of a login; unsafe methods also need X-CSRFToken (the csrftoken cookie) and a matching Origin",
            ))),
        )
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Roster")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "A user and group directory: SCIM 2.0 and vendor dialects over one model.",
                ))
                .build(),
        )
        .components(Some(components))
        .build()
}

/// The whole app as one router (what [`serve`] serves).
pub fn router(state: AppState, opts: &AppOptions) -> Router {
    build(state, opts).0
}

fn build(state: AppState, opts: &AppOptions) -> (Router, Renderers) {
    let (own, mut doc) = OpenApiRouter::with_openapi(base_document())
        .routes(routes!(healthz))
        .routes(routes!(openapi))
        .split_for_parts();
    let own = own.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        crate::http::limits::anonymous_layer,
    ));
    let scim = mount::<Scim>(crate::scim::routes(), &state, &mut doc);
    let odm = mount::<Odm>(crate::odm::routes(), &state, &mut doc);
    let oauth = mount::<OAuth>(crate::oauth::routes(), &state, &mut doc);
    let keycloak = mount::<Keycloak>(crate::oauth::keycloak_routes(), &state, &mut doc);
    let well_known = mount::<WellKnown>(crate::oauth::well_known_routes(), &state, &mut doc);
    let sailpoint_v3 = mount::<SailPointV3>(crate::sailpoint::routes(), &state, &mut doc);
    let sailpoint_v1 = mount::<SailPointV1>(crate::sailpoint::routes(), &state, &mut doc);
    let audit = mount::<Audit>(crate::audit_api::routes(), &state, &mut doc);
    let contabo = mount::<Contabo>(crate::contabo::routes(), &state, &mut doc);
    let cvat = mount::<Cvat>(crate::cvat::routes(&state), &state, &mut doc);
    let accounts = mount::<AccountApi>(crate::account_api::routes(), &state, &mut doc);
    let account = mount::<Account>(crate::account::routes(), &state, &mut doc);
    let console = mount::<Console>(crate::console::routes(), &state, &mut doc);
    let renderers = Renderers::new(vec![
        Renderer::of::<Scim>(),
        Renderer::of::<Odm>(),
        Renderer::of::<OAuth>(),
        Renderer::of::<Keycloak>(),
        Renderer::of::<WellKnown>(),
        Renderer::of::<SailPointV3>(),
        Renderer::of::<SailPointV1>(),
        Renderer::of::<Audit>(),
        Renderer::of::<Contabo>(),
        Renderer::of::<Cvat>(),
        Renderer::of::<AccountApi>(),
        Renderer::of::<Account>(),
        Renderer::of::<Console>(),
    ]);
    let _ = state
        .openapi
        .set(serde_json::to_vec(&doc).unwrap_or_default());
    let app = own
        .merge(scim)
        .merge(odm)
        .merge(oauth)
        .merge(keycloak)
        .merge(well_known)
        .merge(sailpoint_v3)
        .merge(sailpoint_v1)
        .merge(audit)
        .merge(contabo)
        .merge(cvat)
        .merge(accounts)
        .merge(account)
        .merge(console)
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        // One stack, outermost first: every layer given to Router::layer on its own would
        // box and clone its service again for every request.
        .layer(
            ServiceBuilder::new()
                .layer(MapRequestLayer::new(request_id::ensure))
                .layer(
                    TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                        let id = request_id::of(req.headers()).unwrap_or("-");
                        // No raw path: the access line names the route template (paths carry ids
                        // and, in some dialects, more), joined to this span by the request id.
                        tracing::info_span!("request", request_id = %id, method = %req.method())
                    }),
                )
                .layer(PropagateRequestIdLayer::new(request_id::HEADER))
                // Answers carry personal data and credentials: nothing is cached or sniffed
                // (outside the error layer, which replaces error answers whole).
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("no-store"),
                ))
                .layer(EnvelopeLayer::new(
                    renderers.clone(),
                    opts.request_timeout,
                    opts.access_log,
                    opts.metrics,
                ))
                .layer(DefaultBodyLimit::max(opts.max_body_bytes)),
        )
        .with_state(state);
    (app, renderers)
}
