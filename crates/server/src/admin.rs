//! The operator's commands (`roster token|user|client|keys|secrets ...`): they act on the database
//! directly, as the [`Operator`], and work while servers run on it.

use std::time::Duration;

use anyhow::Context;
use roster_core::policy::Operator;
use roster_core::sealed::ServerKey;
use roster_core::{format_micros, secret, Permission, UserName};
use roster_store::{OAuthClient, Store, WriteCtx};

use crate::cli::{
    ClientCommand, DbArgs, KeysCommand, MailCommand, OrgCommand, RoleArgs, RoleCommand,
    SecretsCommand, StorageCommand, TokenCommand, UserCommand,
};
use crate::secrets::{self, KeySource};
use crate::tokens;

pub async fn token(store: &dyn Store, cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Issue {
            user,
            name,
            expires_in,
        } => {
            let token = secret::generate_token();
            let expires_at = expires_in.map(|d: Duration| {
                roster_core::now_micros()
                    .saturating_add(i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
            });
            store
                .create_token(
                    &Operator::local("cli:token-issue").token_admin(),
                    &WriteCtx::default(),
                    &UserName::parse(&user)?,
                    name.as_deref(),
                    &token,
                    expires_at,
                )
                .await
                .with_context(|| format!("cannot issue a token for {user:?}"))?;
            println!("{}", token.secret);
            eprintln!("issued {} to {user}", token.public_id);
        }
        TokenCommand::List { user } => {
            let tokens = store
                .list_tokens(
                    &Operator::local("cli:token-list").token_admin(),
                    &UserName::parse(&user)?,
                )
                .await
                .with_context(|| format!("cannot list the tokens of {user:?}"))?;
            let when = |t: Option<i64>| t.map_or_else(|| "-".to_owned(), format_micros);
            println!("NAME\tID\tCREATED\tLAST USED\tEXPIRES\tREVOKED");
            for t in tokens {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    t.name.as_deref().unwrap_or("-"),
                    t.public_id,
                    format_micros(t.created_at),
                    when(t.last_used_at),
                    when(t.expires_at),
                    when(t.revoked_at)
                );
            }
        }
        TokenCommand::Revoke { user, name } => {
            let n = store
                .revoke_tokens(
                    &Operator::local("cli:token-revoke").token_admin(),
                    &WriteCtx::default(),
                    &UserName::parse(&user)?,
                    name.as_deref(),
                )
                .await
                .with_context(|| format!("cannot revoke the tokens of {user:?}"))?;
            if n == 0 && name.is_some() {
                anyhow::bail!(
                    "{user} has no live token named {:?}",
                    name.unwrap_or_default()
                );
            }
            eprintln!("revoked {n} token(s) of {user}");
        }
    }
    Ok(())
}

pub async fn user(store: &dyn Store, cmd: UserCommand) -> anyhow::Result<()> {
    let (username, permission, granted) = match cmd {
        UserCommand::Grant {
            username,
            permission,
        } => (username, permission, true),
        UserCommand::Revoke {
            username,
            permission,
        } => (username, permission, false),
    };
    let p: Permission = permission.parse().map_err(anyhow::Error::msg)?;
    store
        .set_permission(
            &Operator::local("cli:user-permission").user_admin(),
            &WriteCtx::default(),
            &UserName::parse(&username)?,
            p,
            granted,
        )
        .await
        .with_context(|| format!("cannot change the permissions of {username:?}"))?;
    eprintln!(
        "{} {p} {} {username}",
        if granted { "granted" } else { "revoked" },
        if granted { "to" } else { "from" }
    );
    Ok(())
}

/// The client's id and current secret, as `roster client show|rotate` print them.
fn client_json(key: &ServerKey, c: &OAuthClient) -> anyhow::Result<String> {
    let plain = key
        .open(&roster_store::client_record(&c.client_id), &c.secret_sealed)
        .map_err(|e| anyhow::anyhow!("cannot open the client secret of {}: {e}", c.client_id))?;
    let secret = String::from_utf8(plain)?;
    Ok(serde_json::json!({"client_id": c.client_id, "client_secret": secret}).to_string())
}

pub async fn client(store: &dyn Store, key: &ServerKey, cmd: ClientCommand) -> anyhow::Result<()> {
    let make = |id: &str| {
        tokens::seal_client_secret(key, id, &tokens::new_secret(tokens::CLIENT_SECRET_PREFIX))
    };
    let new_id = tokens::new_client_id();
    let c = match &cmd {
        ClientCommand::Show { user } => store
            .ensure_client(
                &Operator::local("cli:client-show").token_admin(),
                &WriteCtx::default(),
                &UserName::parse(user)?,
                &new_id,
                &make,
            )
            .await
            .with_context(|| format!("cannot show the OAuth client of {user:?}"))?,
        ClientCommand::Rotate { user } => store
            .rotate_client_secret(
                &Operator::local("cli:client-rotate").token_admin(),
                &WriteCtx::default(),
                &UserName::parse(user)?,
                &new_id,
                &make,
            )
            .await
            .with_context(|| format!("cannot rotate the OAuth client secret of {user:?}"))?,
    };
    println!("{}", client_json(key, &c)?);
    Ok(())
}

pub async fn keys(
    store: &dyn Store,
    key: &ServerKey,
    cmd: KeysCommand,
    access_ttl: Duration,
) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Rotate => {
            let kid = tokens::add_signing_key(
                store,
                &Operator::local("cli:keys-rotate"),
                key,
                access_ttl,
            )
            .await?;
            println!("{kid}");
            eprintln!(
                "signing key {kid} signs from now on (every node within 10 s); older keys keep verifying"
            );
        }
    }
    Ok(())
}

pub async fn secrets(store: &dyn Store, db: &DbArgs, cmd: SecretsCommand) -> anyhow::Result<()> {
    match cmd {
        SecretsCommand::Generate => println!("{}", ServerKey::generate().1),
        SecretsCommand::Rekey { new_key_file } => {
            let (old, source) = secrets::server_key(db, store, false).await?;
            let (new, new_text) = match &new_key_file {
                Some(p) => (secrets::read_key_file(p)?, None),
                None => {
                    let KeySource::DataDir { .. } = source else {
                        anyhow::bail!(
                            "the current key comes from {source}: pass --new-key-file with the new key \
                             (`roster secrets generate`), then configure every node with it"
                        );
                    };
                    let (k, text) = ServerKey::generate();
                    (k, Some(text))
                }
            };
            anyhow::ensure!(
                new.fingerprint() != old.fingerprint(),
                "the new key is the current key"
            );
            // The new key is on disk before anything is sealed with it.
            let staged = match (&source, &new_text) {
                (KeySource::DataDir { path, .. }, Some(text)) => {
                    let staged = path.with_extension("key.new");
                    let _ = std::fs::remove_file(&staged);
                    secrets::write_key_file(&staged, text)?;
                    Some((staged, path.clone()))
                }
                _ => None,
            };
            let n = secrets::rekey(store, &old, &new).await?;
            if let Some((staged, path)) = staged {
                std::fs::rename(&staged, &path).with_context(|| {
                    format!(
                        "the secrets are sealed with the new key in {}, which could not replace {}",
                        staged.display(),
                        path.display()
                    )
                })?;
                eprintln!(
                    "re-encrypted {n} secrets; the new key is in {}",
                    path.display()
                );
            } else {
                eprintln!(
                    "re-encrypted {n} secrets under the key with fingerprint {}; configure every node with it now",
                    new.fingerprint()
                );
            }
        }
    }
    Ok(())
}

pub async fn mail(store: &dyn Store, cmd: MailCommand) -> anyhow::Result<()> {
    let operator = Operator::local("cli:mail");
    match cmd {
        MailCommand::List { status, limit } => {
            let rows = store
                .list_mail(&operator, status.as_deref(), limit.clamp(1, 10_000))
                .await?;
            println!(
                "id\tstatus\tattempts\tkind\trecipient\tcreated\tnext_attempt\tsent\tlast_error"
            );
            for m in rows {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    m.id,
                    m.status,
                    m.attempts,
                    m.kind,
                    m.recipient,
                    format_micros(m.created_at),
                    if m.status == "queued" {
                        format_micros(m.next_attempt_at)
                    } else {
                        "-".into()
                    },
                    m.sent_at.map_or_else(|| "-".into(), format_micros),
                    m.last_error
                        .as_deref()
                        .unwrap_or("-")
                        .replace(['\t', '\n', '\r'], " "),
                );
            }
            Ok(())
        }
        MailCommand::Retry { id } => {
            let done = store
                .retry_mail(&Operator::local("cli:mail-retry"), &WriteCtx::default(), id)
                .await?;
            anyhow::ensure!(
                done,
                "no mail {id} waiting or failed (sent mails are not sent again)"
            );
            eprintln!("mail {id} queued again; a running server sends it within seconds");
            Ok(())
        }
    }
}

fn role_of(args: RoleArgs) -> anyhow::Result<roster_core::role::NewRole> {
    let permissions = serde_json::from_str(&args.permissions)
        .context("--permissions must be a JSON list of {apiName, actions, resources}")?;
    let role = roster_core::role::NewRole {
        name: args.name,
        admin: args.admin,
        access_all_resources: args.access_all_resources,
        kind: roster_core::role::RoleKind::Custom,
        permissions,
    };
    role.validate()?;
    Ok(role)
}

fn role_json(r: &roster_core::role::OrgRole) -> String {
    serde_json::json!({
        "roleId": r.id, "name": r.role.name, "admin": r.role.admin,
        "accessAllResources": r.role.access_all_resources, "type": r.role.kind.as_str(),
        "permissions": r.role.permissions,
    })
    .to_string()
}

pub async fn role(store: &dyn Store, cmd: RoleCommand) -> anyhow::Result<()> {
    let by = Operator::local("cli:role").user_admin();
    let ctx = WriteCtx::default();
    match cmd {
        RoleCommand::Create(args) => {
            let r = store.create_role(&by, &ctx, &role_of(args)?).await?;
            println!("{}", role_json(&r));
        }
        RoleCommand::List => {
            let mut start_index = 1;
            loop {
                let page = store
                    .list_roles(&roster_core::PageRequest {
                        start_index,
                        count: 1000,
                    })
                    .await?;
                for r in &page.items {
                    println!("{}", role_json(r));
                }
                if page.items.len() < 1000 {
                    break;
                }
                start_index += 1000;
            }
        }
        RoleCommand::Update { id, role } => {
            let r = store.update_role(&by, &ctx, id, &role_of(role)?).await?;
            println!("{}", role_json(&r));
        }
        RoleCommand::Delete { id } => {
            store.delete_role(&by, &ctx, id).await?;
            eprintln!("deleted role {id}");
        }
    }
    Ok(())
}

pub async fn export(
    store: &dyn Store,
    db: &DbArgs,
    output: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    // The store is open: migrations ran, so the export is at this roster's schema.
    let _ = store.schema_version().await?;
    let url = db.url()?;
    let mut out: Box<dyn std::io::Write + Send> = match &output {
        Some(p) => {
            use std::os::unix::fs::OpenOptionsExt;
            // It holds password hashes and sealed secrets: private, and never over a file.
            let f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(p)
                .with_context(|| format!("cannot create {}", p.display()))?;
            Box::new(std::io::BufWriter::with_capacity(1 << 20, f))
        }
        None => Box::new(std::io::BufWriter::with_capacity(
            1 << 20,
            std::io::stdout(),
        )),
    };
    let counts = roster_store::transfer::export(&url, &mut *out).await?;
    drop(out);
    for (t, n) in &counts.0 {
        eprintln!("{t}: {n}");
    }
    eprintln!("exported {} rows", counts.total());
    Ok(())
}

pub async fn import(store: &dyn Store, file: &std::path::Path, merge: bool) -> anyhow::Result<()> {
    let schema = store.schema_version().await?;
    let input: Box<dyn std::io::BufRead + Send> = if file.as_os_str() == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        let f =
            std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
        Box::new(std::io::BufReader::with_capacity(1 << 20, f))
    };
    let mut rows = roster_store::transfer::read_export(input, schema)?;
    let counts = store
        .import(&Operator::local("cli:import"), &mut rows, merge)
        .await?;
    for (t, n) in &counts.0 {
        eprintln!("{t}: {n}");
    }
    eprintln!("imported {} rows", counts.total());
    if merge {
        eprintln!("{} rows were there already", counts.1);
    }
    Ok(())
}

pub async fn org(store: &dyn Store, cmd: OrgCommand) -> anyhow::Result<()> {
    let by = Operator::local("cli:org").group_manager();
    let ctx = WriteCtx::default();
    match cmd {
        OrgCommand::Create { slug, name } => {
            let name = name.unwrap_or_else(|| slug.clone());
            let o = store.create_org(&by, &ctx, &slug, &name).await?;
            println!("{}", o.id);
        }
        OrgCommand::List => {
            for o in store.list_orgs().await? {
                println!("{}\t{}\t{}\t{}", o.slug, o.seq, o.id, o.display_name);
            }
        }
        OrgCommand::Delete { slug } => {
            if !store.delete_org(&by, &ctx, &slug).await? {
                anyhow::bail!("no organization has the slug {slug:?}");
            }
            eprintln!("deleted organization {slug}");
        }
    }
    Ok(())
}

pub async fn storage(store: &dyn Store, cmd: StorageCommand) -> anyhow::Result<()> {
    match cmd {
        StorageCommand::Add { name, region } => {
            let s = store
                .add_storage(
                    &Operator::local("cli:storage-add").user_admin(),
                    &WriteCtx::default(),
                    &name,
                    &region,
                )
                .await?;
            println!("{}\t{}\t{}", s.id, s.display_name, s.region);
        }
        StorageCommand::List => {
            for s in store.list_storages().await? {
                println!("{}\t{}\t{}", s.id, s.display_name, s.region);
            }
        }
        StorageCommand::Remove { id } => {
            store
                .remove_storage(
                    &Operator::local("cli:storage-remove").user_admin(),
                    &WriteCtx::default(),
                    id,
                )
                .await?;
            eprintln!("removed object storage {id} and its credentials");
        }
    }
    Ok(())
}
