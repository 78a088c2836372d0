//! Everyone's own account: the personal profile, the password (the current one required),
//! TOTP enrolment (a QR code, then a first code, then recovery codes shown once) and its
//! removal, one's own API tokens, and one's sessions. Every change goes through the
//! caller's self-service handles: the same limits as the APIs' self-service.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use roster_core::User;
use roster_store::SessionKind;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::users::{client_page, issue, token_rows, totp_state};
use super::{see_other, start_session, when, Form, Me};
use crate::app::AppState;
use crate::http::extract::QueryPairs;
use crate::http::limits::ClientIp;
use crate::http::ApiError;
use crate::totp;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(show))
        .routes(routes!(profile))
        .routes(routes!(password))
        .routes(routes!(totp_form, totp_begin))
        .routes(routes!(totp_confirm))
        .routes(routes!(totp_remove))
        .routes(routes!(issue_token))
        .routes(routes!(revoke_token))
        .routes(routes!(end_session))
        .routes(routes!(oauth_client))
}

fn flash(m: Option<&str>) -> Option<&'static str> {
    Some(match m? {
        "saved" => "Your profile was saved.",
        "password" => "Your password was changed. Your other sessions ended.",
        "totp-removed" => "Two-factor sign-in was removed.",
        "revoked" => "The token was revoked.",
        "ended" => "The session was ended.",
        _ => return None,
    })
}

async fn own(me: &Me) -> Result<User, ApiError> {
    let p = me.caller.principal();
    me.caller
        .store()
        .get_user(&p.self_service().reader(), p.user_id)
        .await?
        .ok_or_else(|| ApiError::not_found(roster_core::Entity::User(p.user_id)))
}

async fn me_page(
    state: &AppState,
    me: &Me,
    extra: Value,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let p = me.caller.principal();
    let store = me.caller.store();
    let u = own(me).await?;
    let tokens = store
        .list_tokens(&p.self_service().token_admin(), &u.user_name)
        .await?;
    let totp = store.totp(u.seq).await?;
    let credentials =
        super::credentials::rows(state, me, &p.self_service().token_admin(), u.id).await?;
    let sessions: Vec<Value> = store
        .sessions_of(u.seq)
        .await?
        .iter()
        .map(|s| {
            json!({
                "seq": s.seq,
                "kind": if s.kind == SessionKind::Console.as_str() { "Console" } else { "CVAT login" },
                "created": when(s.created_at),
                "last_seen": when(s.last_seen_at.max(s.created_at)),
                "expires": when(s.expires_at),
                "current": s.seq == me.session_seq,
            })
        })
        .collect();
    let ctx = json!({
        "user": {
            "user_name": u.user_name.as_str(),
            "display_name": u.display_name,
            "given_name": u.given_name,
            "family_name": u.family_name,
            "email": u.primary_email(),
            "email_verified": u.email_verified(),
            "permissions": p.permissions.iter().map(|x| x.as_str()).collect::<Vec<_>>(),
        },
        "tokens": token_rows(&tokens),
        "credentials": credentials,
        "token_base": "/console/me",
        "totp": totp_state(totp.as_ref()),
        "totp_asked": u.totp,
        "sessions": sessions,
    });
    let ctx = super::merge(ctx, extra);
    Ok(me.page_status(status, "me", "me.html", ctx))
}

#[utoipa::path(get, path = "/me",
    description = "One's own account: profile, password, two-factor sign-in, API tokens, sessions.",
    responses((status = 200, description = "The page", content_type = "text/html", body = String)))]
async fn show(State(state): State<AppState>, me: Me, q: QueryPairs) -> Result<Response, ApiError> {
    me_page(
        &state,
        &me,
        json!({"message": flash(q.get("m"))}),
        StatusCode::OK,
    )
    .await
}

#[utoipa::path(post, path = "/me/profile",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`display_name`, `given_name`, `family_name`, `csrf`"),
    description = "Saves one's personal profile (names; the login and addresses are the administrators').",
    responses((status = 303, description = "Saved")))]
async fn profile(State(state): State<AppState>, me: Me, form: Form) -> Result<Response, ApiError> {
    let p = me.caller.principal();
    let display = form.text("display_name").map(str::to_owned);
    let given = form.text("given_name").map(str::to_owned);
    let family = form.text("family_name").map(str::to_owned);
    let edit = move |u: &mut User| {
        u.display_name = display.clone();
        u.given_name = given.clone();
        u.family_name = family.clone();
        Ok(())
    };
    match me
        .caller
        .store()
        .update_user(
            &p.self_service().editor(),
            &me.caller.ctx(),
            p.user_id,
            None,
            &edit,
        )
        .await
    {
        Ok(_) => Ok(see_other("/console/me?m=saved")),
        Err(e) => {
            let e = ApiError::from(e);
            if e.status().is_client_error() {
                me_page(
                    &state,
                    &me,
                    json!({"errors": {"profile": e.detail()}}),
                    StatusCode::BAD_REQUEST,
                )
                .await
            } else {
                Err(e)
            }
        }
    }
}

/// Whether `password` (blank counts as wrong) is the caller's (argon2id through the bounded
/// pool), under the same password rate limits as a sign-in, a wrong one counted as a failed
/// password: a stolen session must not become a guessing oracle.
async fn current_password_ok(
    state: &AppState,
    ip: Option<std::net::IpAddr>,
    me: &Me,
    password: &str,
) -> Result<bool, ApiError> {
    let p = me.caller.principal();
    let ok = if password.is_empty() {
        false
    } else {
        if let Some(ip) = ip {
            state
                .limits
                .limits
                .before_password(ip, Some(p.user_seq))
                .await?;
        }
        match state
            .store
            .login(&p.user_name)
            .await?
            .and_then(|l| l.password_hash)
        {
            Some(hash) => state.passwords.verify(password.to_owned(), hash).await?,
            None => false,
        }
    };
    if !ok {
        state.limits.limits.after_password(p.user_seq, false).await;
    }
    Ok(ok)
}

#[utoipa::path(post, path = "/me/password",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`current`, `password`, `password2`, `csrf`"),
    description = "Changes one's password (the current one required). Every session of the account ends; this browser gets a new one.",
    responses((status = 303, description = "Changed"), (status = 400, description = "The page again, with what was wrong", content_type = "text/html", body = String)))]
async fn password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    me: Me,
    form: Form,
) -> Result<Response, ApiError> {
    let again = |field: &'static str, error: String| {
        let (state, me) = (&state, &me);
        async move {
            me_page(
                state,
                me,
                json!({"errors": {field: error}}),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    };
    let current = form.get("current").unwrap_or("");
    let new = form.get("password").unwrap_or("");
    if !current_password_ok(&state, ip, &me, current).await? {
        return again("current", "This is not your current password.".into()).await;
    }
    let u = own(&me).await?;
    if let Err(e) = state
        .passwords
        .policy()
        .check(new, u.user_name.as_str(), &u.emails)
    {
        return again("password", e.to_string()).await;
    }
    if form.get("password2") != Some(new) {
        return again("password2", "The two new passwords differ.".into()).await;
    }
    let hash = state.passwords.hash(new.to_owned()).await?;
    let p = me.caller.principal();
    let edit = move |u: &mut User| {
        u.set_password_hash = Some(Some(hash.clone()));
        Ok(())
    };
    me.caller
        .store()
        .update_user(
            &p.self_service().editor(),
            &me.caller.ctx(),
            p.user_id,
            None,
            &edit,
        )
        .await?;
    // The change ended every session (their password stamp is the old one); this browser,
    // which just proved the password, gets a new one.
    let Some(login) = state.store.login(&p.user_name).await? else {
        return Ok(see_other("/console/sign-in?m=password"));
    };
    start_session(&state, &login, "/console/me?m=password").await
}

/// The secret of a pending enrolment.
fn pending_secret(state: &AppState, user_seq: i64, sealed: &str) -> Result<String, ApiError> {
    totp::open(state.tokens.server_key(), user_seq, sealed).ok_or_else(|| {
        ApiError::internal(std::io::Error::other(
            "the server key does not open a TOTP secret",
        ))
    })
}

#[utoipa::path(get, path = "/me/totp",
    description = "The enrolment in progress: the QR code and the secret, and the field for the first code.",
    responses((status = 200, description = "The page", content_type = "text/html", body = String)))]
async fn totp_form(State(state): State<AppState>, me: Me) -> Result<Response, ApiError> {
    totp_page(&state, &me, None, StatusCode::OK).await
}

async fn totp_page(
    state: &AppState,
    me: &Me,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let p = me.caller.principal();
    let record = state.store.totp(p.user_seq).await?;
    let Some(t) = record.filter(|t| t.enrolled_at.is_none()) else {
        return Ok(see_other("/console/me"));
    };
    let secret_b32 = pending_secret(state, p.user_seq, &t.secret_sealed)?;
    let uri = totp::uri(&secret_b32, &state.tenant, &p.user_name);
    let qr = totp::qr_svg(&uri).map(|svg| match svg.find("<svg") {
        Some(i) => svg[i..].replacen(
            "<svg",
            "<svg role=\"img\" aria-label=\"QR code of the TOTP secret\"",
            1,
        ),
        None => svg,
    });
    Ok(me.page_status(
        status,
        "me",
        "totp.html",
        json!({
            "secret": secret_b32,
            "uri": uri,
            "qr": qr,
            "errors": {"code": error},
        }),
    ))
}

#[utoipa::path(post, path = "/me/totp",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`"),
    description = "Starts a TOTP enrolment (a new secret; nothing changes at sign-in until its first code is confirmed).",
    responses((status = 303, description = "The enrolment page")))]
async fn totp_begin(
    State(state): State<AppState>,
    me: Me,
    _form: Form,
) -> Result<Response, ApiError> {
    let p = me.caller.principal();
    let secret_b32 = totp::new_secret();
    let sealed = totp::seal(state.tokens.server_key(), p.user_seq, &secret_b32);
    me.caller
        .store()
        .begin_totp(&p.self_service().token_admin(), p.user_id, &sealed)
        .await?;
    Ok(see_other("/console/me/totp"))
}

#[utoipa::path(post, path = "/me/totp/confirm",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`code`, `csrf`"),
    description = "Completes the enrolment with the app's first code; answers the recovery codes, shown once.",
    responses((status = 200, description = "The recovery codes", content_type = "text/html", body = String),
              (status = 400, description = "The enrolment page again: the code was wrong", content_type = "text/html", body = String)))]
async fn totp_confirm(
    State(state): State<AppState>,
    me: Me,
    form: Form,
) -> Result<Response, ApiError> {
    let p = me.caller.principal();
    let Some(t) = state
        .store
        .totp(p.user_seq)
        .await?
        .filter(|t| t.enrolled_at.is_none())
    else {
        return Ok(see_other("/console/me"));
    };
    let secret_b32 = pending_secret(&state, p.user_seq, &t.secret_sealed)?;
    let code = form.text("code").unwrap_or("");
    let Some(step) = totp::check(&secret_b32, code, totp::now_secs()) else {
        return totp_page(
            &state,
            &me,
            Some("That code is not right: enter the 6 digits the app shows now."),
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let (codes, hashes) = totp::recovery_codes();
    let done = me
        .caller
        .store()
        .confirm_totp(
            &p.self_service().token_admin(),
            &me.caller.ctx(),
            p.user_id,
            &t.secret_sealed,
            step,
            &hashes,
        )
        .await?;
    if !done {
        return Ok(see_other("/console/me/totp"));
    }
    Ok(me.page(
        "me",
        "secret.html",
        json!({
            "title": "Two-factor sign-in is on",
            "intro": "From now on every sign-in with your password also asks for the app's code: here, OAuth's password grant (totp) and CVAT's login (totp). HTTP Basic no longer works for this account: use an API token. If you lose the phone, each of these recovery codes works once instead of a code. They are shown once: keep them somewhere safe.",
            "codes": codes,
            "back": "/console/me",
            "back_label": "Done",
        }),
    ))
}

#[utoipa::path(post, path = "/me/totp/remove",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`current` (the password), `csrf`"),
    description = "Removes one's TOTP (the password required).",
    responses((status = 303, description = "Removed")))]
async fn totp_remove(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    me: Me,
    form: Form,
) -> Result<Response, ApiError> {
    let current = form.get("current").unwrap_or("");
    if !current_password_ok(&state, ip, &me, current).await? {
        return me_page(
            &state,
            &me,
            json!({"errors": {"totp": "This is not your current password."}}),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let p = me.caller.principal();
    me.caller
        .store()
        .reset_totp(&p.self_service().token_admin(), &me.caller.ctx(), p.user_id)
        .await?;
    Ok(see_other("/console/me?m=totp-removed"))
}

#[utoipa::path(post, path = "/me/tokens",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`name`, `expires_days` (optional), `csrf`"),
    description = "Issues an API token of one's own, shown once.",
    responses((status = 200, description = "The token, shown once", content_type = "text/html", body = String)))]
async fn issue_token(me: Me, form: Form) -> Result<Response, ApiError> {
    let u = own(&me).await?;
    let by = me.caller.principal().self_service().token_admin();
    issue(&me, &by, &u.user_name, &form, "/console/me").await
}

#[utoipa::path(post, path = "/me/tokens/revoke",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`name`, `csrf`"),
    description = "Revokes one's token of that name.",
    responses((status = 303, description = "Revoked")))]
async fn revoke_token(me: Me, form: Form) -> Result<Response, ApiError> {
    let u = own(&me).await?;
    let name = form
        .text("name")
        .ok_or_else(|| ApiError::invalid_value("which token: its name is missing"))?;
    let ask = super::users::revoke_question(name);
    let action = "/console/me/tokens/revoke";
    if let Some(page) = super::unconfirmed(&me, &form, action, ask, "/console/me") {
        return Ok(page);
    }
    let by = me.caller.principal().self_service().token_admin();
    me.caller
        .store()
        .revoke_tokens(&by, &me.caller.ctx(), &u.user_name, Some(name))
        .await?;
    Ok(see_other("/console/me?m=revoked"))
}

#[utoipa::path(post, path = "/me/sessions/end",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`seq` of the session, `csrf`"),
    description = "Ends one of one's sessions (on another device, say).",
    responses((status = 303, description = "Ended")))]
async fn end_session(me: Me, form: Form) -> Result<Response, ApiError> {
    let seq = form
        .text("seq")
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| ApiError::invalid_value("which session: seq is missing"))?;
    me.caller
        .store()
        .end_sessions_of(me.caller.principal().user_seq, Some(seq))
        .await?;
    if seq == me.session_seq {
        return Ok(see_other("/console/sign-in?m=signed-out"));
    }
    Ok(see_other("/console/me?m=ended"))
}

#[utoipa::path(post, path = "/me/oauth-client",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`action`: show or rotate; `csrf`"),
    description = "Shows one's OAuth client and secret, or rotates the secret.",
    responses((status = 200, description = "The client id and secret", content_type = "text/html", body = String)))]
async fn oauth_client(
    State(state): State<AppState>,
    me: Me,
    form: Form,
) -> Result<Response, ApiError> {
    let u = own(&me).await?;
    let by = me.caller.principal().self_service().token_admin();
    client_page(&state, &me, &by, &u.user_name, &form, "/console/me").await
}
