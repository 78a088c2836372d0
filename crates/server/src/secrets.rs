//! Where the server key comes from, and the check that it is the key this database's
//! secrets were sealed with.
//!
//! Sources, first match wins: `ROSTER_SECRET_KEY`, `ROSTER_SECRET_KEY_FILE`, the key file
//! `secret.key` in the data directory. The last is created (0600) on first start of an
//! empty database only: a database whose secrets another key sealed refuses to start
//! rather than get a second key. The check value is one sealed constant in `server_meta`;
//! the first node to start writes it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use roster_core::policy::Operator;
use roster_core::sealed::ServerKey;
use roster_store::{Store, KEY_CHECK_RECORD};

use crate::cli::DbArgs;

const KEY_CHECK: &str = "key_check";
const KEY_CHECK_PLAIN: &[u8] = b"roster server key";
const KEY_FILE: &str = "secret.key";

/// Where the key came from (for the log and for `roster secrets rekey`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Env,
    File(PathBuf),
    /// The data directory's key file (`created`: by this start).
    DataDir {
        path: PathBuf,
        created: bool,
    },
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Env => f.write_str("ROSTER_SECRET_KEY"),
            KeySource::File(p) => write!(f, "ROSTER_SECRET_KEY_FILE {}", p.display()),
            KeySource::DataDir { path, .. } => write!(f, "key file {}", path.display()),
        }
    }
}

/// The data directory's key file.
pub fn data_dir_key_file(db: &DbArgs) -> anyhow::Result<PathBuf> {
    Ok(std::path::absolute(&db.data_dir)?.join(KEY_FILE))
}

/// Reads a key file; refuses one that others may read (it would be every secret's key).
pub fn read_key_file(path: &Path) -> anyhow::Result<ServerKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the server key file {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                file = %path.display(),
                mode = format!("{mode:o}"),
                "the server key file is readable by other accounts; chmod 600 it"
            );
        }
    }
    ServerKey::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Writes a new key file, readable by this account only; fails if it exists.
pub fn write_key_file(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot create the server key file {}", path.display()))?;
    f.write_all(format!("{text}\n").as_bytes())?;
    f.sync_all()?;
    Ok(())
}

/// The configured key, without creating anything.
fn configured(db: &DbArgs) -> anyhow::Result<Option<(ServerKey, KeySource)>> {
    if let Some(k) = &db.secret_key {
        let key = ServerKey::parse(k).map_err(|e| anyhow::anyhow!("ROSTER_SECRET_KEY: {e}"))?;
        return Ok(Some((key, KeySource::Env)));
    }
    if let Some(p) = &db.secret_key_file {
        return Ok(Some((read_key_file(p)?, KeySource::File(p.clone()))));
    }
    let path = data_dir_key_file(db)?;
    if path.exists() {
        let key = read_key_file(&path)?;
        return Ok(Some((
            key,
            KeySource::DataDir {
                path,
                created: false,
            },
        )));
    }
    Ok(None)
}

/// The server key, checked against the database (see the module docs). `create`: whether
/// a missing data-directory key file may be created (`roster serve` on a new database).
pub async fn server_key(
    db: &DbArgs,
    store: &dyn Store,
    create: bool,
) -> anyhow::Result<(ServerKey, KeySource)> {
    let check = store.meta(KEY_CHECK).await?;
    let (key, source) = match (configured(db)?, &check) {
        (Some(found), _) => found,
        (None, Some(_)) => bail!(
            "this database's secrets are sealed with a server key, and none is configured: set \
             ROSTER_SECRET_KEY or ROSTER_SECRET_KEY_FILE to the key the other nodes use, or \
             restore {}",
            data_dir_key_file(db)?.display()
        ),
        (None, None) if create => {
            let path = data_dir_key_file(db)?;
            let (key, text) = ServerKey::generate();
            write_key_file(&path, &text)?;
            (
                key,
                KeySource::DataDir {
                    path,
                    created: true,
                },
            )
        }
        (None, None) => bail!(
            "no server key is configured and this database has none yet: start `roster serve` \
             once, or set ROSTER_SECRET_KEY"
        ),
    };
    let stored = match check {
        Some(c) => c,
        None => {
            let sealed = key.seal(KEY_CHECK_RECORD, KEY_CHECK_PLAIN);
            // Another node may have been first with its own key: what is stored now decides.
            store
                .init_meta(&Operator::local("server:key-check"), KEY_CHECK, &sealed)
                .await?
        }
    };
    if key.open(KEY_CHECK_RECORD, &stored).is_err() {
        bail!(
            "the server key from {source} (fingerprint {}) is not the key this database's secrets \
             were sealed with; nothing was changed. Every node of one database needs the same \
             ROSTER_SECRET_KEY",
            key.fingerprint()
        );
    }
    Ok((key, source))
}

/// Re-encrypts every sealed value under `new` (one transaction); returns how many.
pub async fn rekey(store: &dyn Store, old: &ServerKey, new: &ServerKey) -> anyhow::Result<u64> {
    let reseal = |record: &str, sealed: &str| -> Result<String, String> {
        let plain = old
            .open(record, sealed)
            .map_err(|e| format!("{record}: {e}"))?;
        Ok(new.seal(record, &plain))
    };
    Ok(store
        .reseal(
            &Operator::local("cli:secrets-rekey"),
            &Default::default(),
            &reseal,
        )
        .await?)
}
