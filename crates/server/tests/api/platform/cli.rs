//! The `roster` binary itself: bootstrap from the environment, the token and permission
//! commands against a running server's database, graceful shutdown, restart.

use reqwest::StatusCode;

use super::process::{run, run_with, start, start_with, stop, BOOT_TOKEN};

async fn get_status(base: &str, path: &str, token: &str) -> StatusCode {
    reqwest::Client::new()
        .get(format!("{base}{path}"))
        .header("Genestack-API-Token", token)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn bootstrap_tokens_permissions_shutdown_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::helpers::fresh_database_url(&dir.path().join("sub")).await;
    let p = start(&db, true).await;
    assert_eq!(
        get_status(&p.base, "/api/v1/scim/Users", BOOT_TOKEN).await,
        StatusCode::OK
    );

    // Create a user through the API, then issue a token for it with the CLI while serving.
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/scim/Users", p.base))
        .header("Genestack-API-Token", BOOT_TOKEN)
        .header("Content-Type", "application/json")
        .body(r#"{"userName":"ops","displayName":"Ops","active":true,"emails":[]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let (ok, token, err) = run(&db, &["token", "issue", "--user", "OPS", "--name", "ci"]);
    assert!(ok, "{err}");
    let token = token.trim().to_owned();
    assert!(
        token.starts_with("rst_") && token.len() > 40 && !token.contains(char::is_whitespace),
        "{token:?}"
    );
    assert_eq!(
        get_status(&p.base, "/api/v1/scim/Users", &token).await,
        StatusCode::FORBIDDEN
    );
    let (ok, _, err) = run(&db, &["user", "grant", "ops", "manage-organization"]);
    assert!(ok, "{err}");
    assert_eq!(
        get_status(&p.base, "/api/v1/scim/Users", &token).await,
        StatusCode::OK
    );
    let (ok, _, _) = run(&db, &["user", "revoke", "ops", "manage-organization"]);
    assert!(ok);
    assert_eq!(
        get_status(&p.base, "/api/v1/scim/Users", &token).await,
        StatusCode::FORBIDDEN
    );
    let (ok, _, err) = run(&db, &["user", "grant", "ops", "fly"]);
    assert!(!ok && err.contains("manage-organization"), "{err}");
    let (ok, _, err) = run(&db, &["token", "issue", "--user", "nobody"]);
    assert!(!ok && err.contains("nobody"), "{err}");

    // Token hygiene: names are unique among live tokens, a token can expire, one can be
    // revoked by name, and a listing never shows a secret.
    let (ok, _, err) = run(&db, &["token", "issue", "--user", "ops", "--name", "ci"]);
    assert!(!ok && err.contains("name"), "{err}");
    let (ok, short, err) = run(
        &db,
        &[
            "token",
            "issue",
            "--user",
            "ops",
            "--name",
            "brief",
            "--expires-in",
            "1s",
        ],
    );
    assert!(ok, "{err}");
    let short = short.trim().to_owned();
    let (ok, laptop, _) = run(
        &db,
        &["token", "issue", "--user", "ops", "--name", "laptop"],
    );
    assert!(ok);
    let laptop = laptop.trim().to_owned();
    run(&db, &["user", "grant", "ops", "manage-organization"]);
    assert_eq!(
        get_status(&p.base, "/api/v1/scim/Users", &short).await,
        StatusCode::OK
    );
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(
        get_status(&p.base, "/api/v1/scim/Users", &short).await,
        StatusCode::UNAUTHORIZED,
        "expired"
    );
    let (ok, _, err) = run(&db, &["token", "revoke", "--user", "ops", "--name", "ci"]);
    assert!(ok, "{err}");
    assert_eq!(
        get_status(&p.base, "/api/v1/scim/Users", &token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get_status(&p.base, "/api/v1/scim/Users", &laptop).await,
        StatusCode::OK,
        "only the named token"
    );
    let (ok, _, err) = run(&db, &["token", "revoke", "--user", "ops", "--name", "ci"]);
    assert!(!ok && err.contains("no live token"), "{err}");
    let (ok, list, err) = run(&db, &["token", "list", "--user", "ops"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 4, "{list}");
    for secret in [&token, &short, &laptop] {
        assert!(
            !list.contains(secret.as_str()) && !list.contains(&secret[..12]),
            "{list}"
        );
    }
    let laptop_line = lines.iter().find(|l| l.starts_with("laptop\t")).unwrap();
    let cols: Vec<&str> = laptop_line.split('\t').collect();
    assert!(
        cols[1].starts_with("tok_") && cols[3] != "-" && cols[5] == "-",
        "{laptop_line}"
    );
    stop(p);

    // Restart with different bootstrap settings: ignored, old tokens still work.
    let p = start(&db, true).await;
    assert_eq!(
        get_status(&p.base, "/api/v1/scim/Users", BOOT_TOKEN).await,
        StatusCode::OK
    );
    stop(p);
}

#[test]
fn help_documents_every_setting() {
    let (ok, out, _) = run("sqlite::memory:", &["serve", "--help"]);
    assert!(ok);
    for v in [
        "ROSTER_LISTEN",
        "ROSTER_DATABASE_URL",
        "ROSTER_BOOTSTRAP_ADMIN",
        "ROSTER_BOOTSTRAP_PASSWORD",
        "ROSTER_BOOTSTRAP_TOKEN",
        "ROSTER_MAX_BODY_BYTES",
        "ROSTER_PUBLIC_URL",
        "ROSTER_HEADER_TIMEOUT_SECS",
        "ROSTER_IDLE_TIMEOUT_SECS",
        "ROSTER_MAX_CONNECTIONS",
        "ROSTER_PASSWORD_MIN_LENGTH",
        "ROSTER_PASSWORD_WORKERS",
        "ROSTER_PASSWORD_QUEUE_MS",
        "ROSTER_SECRET_KEY",
        "ROSTER_SECRET_KEY_FILE",
        "ROSTER_ACCESS_TOKEN_TTL_SECS",
        "ROSTER_REFRESH_TOKEN_TTL_SECS",
        "ROSTER_RATE_LIMIT_PASSWORDS",
        "ROSTER_RATE_LIMIT_ANONYMOUS",
        "ROSTER_RATE_LIMIT_PER_CREDENTIAL",
        "ROSTER_REDIS_URL",
        "ROSTER_REDIS_KEY_PREFIX",
        "ROSTER_TRUSTED_PROXIES",
        "ROSTER_TENANT",
        "ROSTER_ACCESS_LOG",
        "ROSTER_AUDIT_RETENTION_DAYS",
        "ROSTER_METRICS_LISTEN",
    ] {
        assert!(out.contains(v), "serve --help lacks {v}");
    }
    let (ok, out, _) = run("sqlite::memory:", &["token", "issue", "--help"]);
    assert!(ok && out.contains("--user"));
}

/// `roster serve` with these settings must refuse to start, saying why.
fn refuses(envs: &[(&str, &str)], why: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
        .arg("serve")
        .env(
            "ROSTER_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("r.db").display()),
        )
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains(why),
        "{envs:?}: {err}"
    );
    // Refused before anything was written: no admin was created.
    assert!(!dir.path().join("r.db").exists() || !err.contains("created the first admin"));
}

#[test]
fn weak_or_unsafe_settings_refuse_to_start() {
    let strong = "0123456789abcdef0123456789abcdef";
    let boot = |token: &'static str, password: &'static str| {
        vec![
            ("ROSTER_LISTEN", "127.0.0.1:0"),
            ("ROSTER_BOOTSTRAP_ADMIN", "root-administrator"),
            ("ROSTER_BOOTSTRAP_PASSWORD", password),
            ("ROSTER_BOOTSTRAP_TOKEN", token),
        ]
    };
    refuses(
        &boot("short-token", "long enough password"),
        "at least 32 characters",
    );
    refuses(&boot(strong, "short"), "at least 12 characters");
    refuses(
        &boot(strong, "Root-Administrator"),
        "must not be the account's userName",
    );
    // Links would reflect the Host header on a public listener without a public URL.
    refuses(
        &[("ROSTER_LISTEN", "0.0.0.0:0")],
        "ROSTER_PUBLIC_URL is required",
    );
    refuses(
        &[
            ("ROSTER_LISTEN", "127.0.0.1:0"),
            ("ROSTER_PUBLIC_URL", "dir.example.com"),
        ],
        "http:// or https://",
    );
}

/// The database holds every password and token hash: a fresh data directory is 0700 and its
/// files 0600; a wider one that already exists gets a warning at start (THREAT-MODEL.md).
#[tokio::test]
#[ignore = "SQLite's files: scripts/test.sh runs it in its SQLite half"]
async fn sqlite_only_the_data_directory_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = data.join("roster.db");
    let db = format!("sqlite://{}", file.display());
    let p = start(&db, true).await;
    stop(p);
    assert_eq!(mode(&data), 0o700, "data directory");
    assert_eq!(mode(&file), 0o600, "database file");
    for side in ["roster.db-wal", "roster.db-shm"] {
        let path = data.join(side);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{side}");
        }
    }
    let (ok, _, err) = run(&db, &["token", "list", "--user", "root"]);
    assert!(ok, "{err}");
    assert!(
        !err.contains("chmod"),
        "no warning for private files: {err}"
    );

    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (ok, _, err) = run(&db, &["token", "list", "--user", "root"]);
    assert!(ok, "{err}");
    assert!(
        err.contains("chmod 600") && err.contains("roster.db"),
        "a readable database is warned about: {err}"
    );
}

/// The server key's default: a 0600 key file in the data directory, created on first
/// start and reused after; a wrong or missing key refuses to start and changes nothing;
/// `roster client show|rotate`, `keys rotate` and `secrets rekey` through the binary; no
/// secret in any log.
#[tokio::test]
async fn the_server_key_file_client_commands_and_rekey() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = crate::helpers::fresh_database_url(&dir.path().join("db")).await;
    let data_s = data.display().to_string();
    // One public URL across restarts: it is the tokens' issuer.
    let default_key = |c: &mut std::process::Command| {
        c.env_remove("ROSTER_SECRET_KEY")
            .env("ROSTER_DATA_DIR", &data_s)
            .env("ROSTER_PUBLIC_URL", "http://roster.test");
    };
    let p = start_with(&db, true, default_key).await;
    let key_file = data.join("secret.key");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the key file is private");
    let key_text = std::fs::read_to_string(&key_file).unwrap();
    assert!(
        p.log().contains("created the server key file"),
        "{}",
        p.log()
    );

    let (ok, out, err) = run_with(&db, &["client", "show", "--user", "root"], default_key);
    assert!(ok, "{err}");
    let shown: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let (id, secret) = (
        shown["client_id"].as_str().unwrap().to_owned(),
        shown["client_secret"].as_str().unwrap().to_owned(),
    );
    let (_, again, _) = run_with(&db, &["client", "show", "--user", "root"], default_key);
    assert_eq!(
        again.trim(),
        out.trim(),
        "show shows the same client and secret"
    );
    let token = |secret: &str| {
        let req = reqwest::Client::new()
            .post(format!("{}/oauth/token", p.base))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id.as_str()),
                ("client_secret", secret),
            ]);
        async move { req.send().await.unwrap() }
    };
    let r = token(&secret).await;
    assert_eq!(r.status(), StatusCode::OK);
    let access = r.json::<serde_json::Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let (ok, out, err) = run_with(&db, &["client", "rotate", "--user", "root"], default_key);
    assert!(ok, "{err}");
    let rotated: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(rotated["client_id"], id.as_str());
    let new_secret = rotated["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    assert_eq!(token(&secret).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(token(&new_secret).await.status(), StatusCode::OK);

    let (ok, kid, err) = run_with(&db, &["keys", "rotate"], default_key);
    assert!(ok, "{err}");
    let log = p.log();
    stop(p);

    // A wrong key and no key at all: refused, saying why, and nothing changed.
    let (_, wrong, _) = run(&db, &["secrets", "generate"]);
    let before = std::fs::read(&key_file).unwrap();
    for (env, why) in [
        (
            Some(wrong.trim().to_owned()),
            "is not the key this database's secrets were sealed with",
        ),
        (None, "none is configured"),
    ] {
        let other_data = dir.path().join("elsewhere").display().to_string();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
            .arg("serve")
            .env("ROSTER_DATABASE_URL", &db)
            .env("ROSTER_LISTEN", "127.0.0.1:0")
            .env("ROSTER_DATA_DIR", &other_data)
            .envs(env.iter().map(|k| ("ROSTER_SECRET_KEY", k.as_str())))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(why), "{err}");
        assert!(
            !dir.path().join("elsewhere/secret.key").exists(),
            "no second key was made"
        );
    }
    assert_eq!(std::fs::read(&key_file).unwrap(), before);

    // Rekey: a new key file, the same secrets readable through it, the old key refused.
    let (ok, _, err) = run_with(&db, &["secrets", "rekey"], default_key);
    assert!(ok, "{err}");
    let new_key = std::fs::read_to_string(&key_file).unwrap();
    assert_ne!(new_key, key_text);
    assert_eq!(
        std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let (ok, out, err) = run_with(&db, &["client", "show", "--user", "root"], default_key);
    assert!(ok, "{err}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(out.trim()).unwrap()["client_secret"],
        new_secret.as_str()
    );
    let (ok, _, err) = run_with(&db, &["client", "show", "--user", "root"], |c| {
        c.env("ROSTER_SECRET_KEY", key_text.trim());
    });
    assert!(!ok && err.contains("is not the key"), "{err}");
    // The restarted server verifies the token signed before the rekey and rotation.
    let p = start_with(&db, false, default_key).await;
    let me = reqwest::Client::new()
        .get(format!("{}/scim/v2/Me", p.base))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    // Both keys verify: the first one's token is not expired yet.
    let jwks: serde_json::Value = reqwest::get(format!("{}/.well-known/jwks.json", p.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2, "{jwks}");
    let log = log + &p.log();
    stop(p);

    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == kid.trim()),
        "{jwks}"
    );
    for s in [
        secret.as_str(),
        new_secret.as_str(),
        key_text.trim(),
        new_key.trim(),
        access.as_str(),
        BOOT_TOKEN,
        "root-password",
    ] {
        assert!(!log.contains(s), "a secret in the log: {s}");
    }
}
