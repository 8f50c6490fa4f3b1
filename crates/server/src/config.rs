//! The service's configuration, read once from the environment (CONTRACT.md,
//! "Configuration") into a typed struct that is passed down; nothing reads the environment
//! after start-up.

use std::path::{Path, PathBuf};

use anyhow::Context;
use domain::EmailAddress;
use secrecy::SecretString;

/// Everything a `serve` process needs to know. `Debug` leaves out the secrets and the
/// database URL (which may carry a password).
#[derive(Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub bind: String,
    pub public_url: String,
    pub jwt_secret: SecretString,
    pub smtp_url: Option<SecretString>,
    pub mail_from: String,
    pub facilitator_emails: Vec<EmailAddress>,
    pub matching: matching::Settings,
    pub limits: Limits,
    /// Run the email and scoring workers in the background (tests drive them by hand).
    pub background_workers: bool,
    /// How long access tokens last.
    pub token_ttl: chrono::Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("data_dir", &self.data_dir)
            .field("bind", &self.bind)
            .field("public_url", &self.public_url)
            .field("smtp", &self.smtp_url.is_some())
            .field("matching", &self.matching)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Rates above which requests are answered 429.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Failed logins per email, and per client address, in `window`.
    pub failed_logins: usize,
    /// Registrations per client address in `window`.
    pub registrations: usize,
    pub window: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { failed_logins: 5, registrations: 50, window: std::time::Duration::from_secs(15 * 60) }
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parsed<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match var(name) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|_| anyhow::anyhow!("{name} is not valid: {raw:?}")),
    }
}

/// The signing key: `MATCHWELL_JWT_SECRET`, or one generated once and kept in the data dir.
fn jwt_secret(data_dir: &Path) -> anyhow::Result<SecretString> {
    if let Some(secret) = var("MATCHWELL_JWT_SECRET") {
        anyhow::ensure!(secret.len() >= 32, "MATCHWELL_JWT_SECRET must be at least 32 characters");
        return Ok(SecretString::from(secret));
    }
    let path = data_dir.join("jwt-secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_owned();
        if existing.len() >= 32 {
            return Ok(SecretString::from(existing));
        }
    }
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    let secret = hex::encode(bytes);
    write_private(&path, &secret).with_context(|| format!("failed to write {}", path.display()))?;
    Ok(SecretString::from(secret))
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

impl Settings {
    /// Reads `MATCHWELL_*` variables, creating the data dir (and the secret) when needed.
    pub fn from_env() -> anyhow::Result<Settings> {
        let data_dir = PathBuf::from(var("MATCHWELL_DATA_DIR").unwrap_or_else(|| "./data".to_owned()));
        std::fs::create_dir_all(&data_dir).with_context(|| format!("failed to create {}", data_dir.display()))?;
        let database_url = var("MATCHWELL_DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}/matchwell.db?mode=rwc", data_dir.display()));
        let bind = var("MATCHWELL_BIND").unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let public_url = var("MATCHWELL_PUBLIC_URL").unwrap_or_else(|| format!("http://{bind}"));
        let facilitator_emails = var("MATCHWELL_FACILITATOR_EMAILS")
            .unwrap_or_default()
            .split(',')
            .filter(|e| !e.trim().is_empty())
            .map(|e| EmailAddress::parse(e).map_err(|m| anyhow::anyhow!("MATCHWELL_FACILITATOR_EMAILS: {e:?}: {m}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let defaults = matching::Settings::default();
        Ok(Settings {
            jwt_secret: jwt_secret(&data_dir)?,
            smtp_url: var("MATCHWELL_SMTP_URL").map(SecretString::from),
            mail_from: var("MATCHWELL_MAIL_FROM").unwrap_or_else(|| "Matchwell <noreply@matchwell.invalid>".to_owned()),
            matching: matching::Settings {
                k: parsed("MATCHWELL_MATCH_K", defaults.k)?,
                floor: parsed("MATCHWELL_MATCH_FLOOR", defaults.floor)?,
                max_open: parsed("MATCHWELL_MAX_OPEN_MATCHES", defaults.max_open)?,
            },
            limits: Limits::default(),
            background_workers: true,
            token_ttl: chrono::Duration::hours(12),
            data_dir,
            database_url,
            bind,
            public_url,
            facilitator_emails,
        })
    }

    pub fn outbox(&self) -> PathBuf {
        self.data_dir.join("outbox")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_leaves_out_secrets_and_the_database_url() {
        let settings = Settings {
            data_dir: PathBuf::from("/data"),
            database_url: "postgres://matchwell:hunter2@db/matchwell".to_owned(),
            bind: "127.0.0.1:8080".to_owned(),
            public_url: "https://matchwell.example".to_owned(),
            jwt_secret: SecretString::from("s".repeat(40)),
            smtp_url: Some(SecretString::from("smtps://user:mailpass@smtp.example".to_owned())),
            mail_from: "noreply@matchwell.example".to_owned(),
            facilitator_emails: vec![],
            matching: matching::Settings::default(),
            limits: Limits::default(),
            background_workers: true,
            token_ttl: chrono::Duration::hours(1),
        };
        let printed = format!("{settings:?}");
        for secret in ["hunter2", "mailpass", &"s".repeat(40)] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }
}
