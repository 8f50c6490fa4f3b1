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
    /// SMTP connections used at once (`MATCHWELL_SMTP_CONNECTIONS`).
    pub smtp_connections: usize,
    pub mail_from: String,
    pub facilitator_emails: Vec<EmailAddress>,
    pub matching: matching::Settings,
    pub limits: Limits,
    /// The least number of organisations any anonymous profile must fit.
    pub k_anonymity: usize,
    /// The fewest recorded outcomes from which the model may learn
    /// (`MATCHWELL_LEARN_MIN_OUTCOMES`).
    pub learn_min_outcomes: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
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
            .field("k_anonymity", &self.k_anonymity)
            .field("learn_min_outcomes", &self.learn_min_outcomes)
            .field("trusted_proxies", &self.trusted_proxies)
            .finish_non_exhaustive()
    }
}

/// Rates above which requests are answered 429, each counted over `window`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Failed logins at one account from one client (`MATCHWELL_LIMIT_LOGIN_FAILURES`). Failures
    /// from other clients never lock the owner out.
    pub failed_logins: usize,
    /// Failed logins from one client at any accounts (`MATCHWELL_LIMIT_CLIENT_FAILURES`).
    pub client_failures: usize,
    /// Registrations from one client (`MATCHWELL_LIMIT_REGISTRATIONS`).
    pub registrations: usize,
    /// Password-reset and verification emails asked for one address, and (ten times as many)
    /// from one client (`MATCHWELL_LIMIT_EMAIL_REQUESTS`).
    pub email_requests: usize,
    /// Searches by one member (`MATCHWELL_LIMIT_SEARCHES`).
    pub searches: usize,
    /// Introductions one member may ask for in any 24 hours (`MATCHWELL_LIMIT_ASKS_PER_DAY`).
    pub asks_per_day: usize,
    /// `MATCHWELL_LIMIT_WINDOW_SECONDS`.
    pub window: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            failed_logins: 5,
            client_failures: 50,
            registrations: 50,
            email_requests: 5,
            searches: 300,
            asks_per_day: 10,
            window: std::time::Duration::from_secs(15 * 60),
        }
    }
}

impl Limits {
    fn from_lookup(get: Lookup) -> anyhow::Result<Limits> {
        let defaults = Limits::default();
        let limits = Limits {
            failed_logins: parsed(get, "MATCHWELL_LIMIT_LOGIN_FAILURES", defaults.failed_logins)?,
            client_failures: parsed(get, "MATCHWELL_LIMIT_CLIENT_FAILURES", defaults.client_failures)?,
            registrations: parsed(get, "MATCHWELL_LIMIT_REGISTRATIONS", defaults.registrations)?,
            email_requests: parsed(get, "MATCHWELL_LIMIT_EMAIL_REQUESTS", defaults.email_requests)?,
            searches: parsed(get, "MATCHWELL_LIMIT_SEARCHES", defaults.searches)?,
            asks_per_day: parsed(get, "MATCHWELL_LIMIT_ASKS_PER_DAY", defaults.asks_per_day)?,
            window: std::time::Duration::from_secs(parsed(
                get,
                "MATCHWELL_LIMIT_WINDOW_SECONDS",
                defaults.window.as_secs(),
            )?),
        };
        anyhow::ensure!(
            limits.failed_logins > 0 && limits.client_failures > 0 && limits.window.as_secs() > 0,
            "MATCHWELL_LIMIT_* values must be greater than 0"
        );
        Ok(limits)
    }
}

/// Where settings are read from: the environment, or a map in tests.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

fn var(get: Lookup, name: &str) -> Option<String> {
    get(name).filter(|v| !v.trim().is_empty())
}

fn parsed<T: std::str::FromStr>(get: Lookup, name: &str, default: T) -> anyhow::Result<T> {
    match var(get, name) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|_| anyhow::anyhow!("{name} is not valid: {raw:?}")),
    }
}

/// The signing key: `MATCHWELL_JWT_SECRET`, or one generated once and kept in the data dir.
fn jwt_secret(get: Lookup, data_dir: &Path) -> anyhow::Result<SecretString> {
    if let Some(secret) = var(get, "MATCHWELL_JWT_SECRET") {
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

/// Creates `dir` (and its parents) if it is missing; the directory itself readable by its
/// owner only (mode 0700), since it holds the database, the secret and the outbox.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir)?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(
                    mode = format!("{:o}", mode & 0o777),
                    "the data directory can be read by others; `chmod 700` it (it holds the database and the secret)"
                );
            }
        }
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

impl Settings {
    /// Reads `MATCHWELL_*` variables, creating the data dir (and the secret) when needed.
    pub fn from_env() -> anyhow::Result<Settings> {
        Settings::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Settings from `get`, which answers like the environment.
    pub fn from_lookup(get: Lookup) -> anyhow::Result<Settings> {
        let data_dir = PathBuf::from(var(get, "MATCHWELL_DATA_DIR").unwrap_or_else(|| "./data".to_owned()));
        create_private_dir(&data_dir).with_context(|| format!("failed to create {}", data_dir.display()))?;
        let database_url = var(get, "MATCHWELL_DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}/matchwell.db?mode=rwc", data_dir.display()));
        let bind = var(get, "MATCHWELL_BIND").unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let public_url = var(get, "MATCHWELL_PUBLIC_URL").unwrap_or_else(|| format!("http://{bind}"));
        let facilitator_emails = var(get, "MATCHWELL_FACILITATOR_EMAILS")
            .unwrap_or_default()
            .split(',')
            .filter(|e| !e.trim().is_empty())
            .map(|e| EmailAddress::parse(e).map_err(|m| anyhow::anyhow!("MATCHWELL_FACILITATOR_EMAILS: {e:?}: {m}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let defaults = matching::Settings::default();
        Ok(Settings {
            jwt_secret: jwt_secret(get, &data_dir)?,
            smtp_url: var(get, "MATCHWELL_SMTP_URL").map(SecretString::from),
            smtp_connections: match parsed(get, "MATCHWELL_SMTP_CONNECTIONS", mail::DEFAULT_CONNECTIONS)? {
                0 => anyhow::bail!("MATCHWELL_SMTP_CONNECTIONS must be at least 1"),
                n => n,
            },
            mail_from: var(get, "MATCHWELL_MAIL_FROM")
                .unwrap_or_else(|| "Matchwell <noreply@matchwell.invalid>".to_owned()),
            matching: matching::Settings {
                k: parsed(get, "MATCHWELL_MATCH_K", defaults.k)?,
                floor: parsed(get, "MATCHWELL_MATCH_FLOOR", defaults.floor)?,
                max_open: parsed(get, "MATCHWELL_MAX_OPEN_MATCHES", defaults.max_open)?,
            },
            limits: Limits::from_lookup(get)?,
            k_anonymity: match parsed(get, "MATCHWELL_K_ANONYMITY", 5)? {
                0 => anyhow::bail!("MATCHWELL_K_ANONYMITY must be at least 1 (the default is 5)"),
                k => k,
            },
            learn_min_outcomes: match parsed(get, "MATCHWELL_LEARN_MIN_OUTCOMES", 50)? {
                n if n < 10 => anyhow::bail!(
                    "MATCHWELL_LEARN_MIN_OUTCOMES must be at least 10, so that each of the five folds of the \
                     evaluation holds outcomes (the default is 50)"
                ),
                n => n,
            },
            trusted_proxies: var(get, "MATCHWELL_TRUSTED_PROXIES")
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(|a| {
                    a.parse().map_err(|_| anyhow::anyhow!("MATCHWELL_TRUSTED_PROXIES: {a:?} is not an IP address"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?,
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

    /// The mailer these settings describe: SMTP when a URL is set, the outbox otherwise.
    pub fn mailer(&self) -> anyhow::Result<mail::Mailer> {
        mail::Mailer::with_connections(
            self.smtp_url.as_ref().map(secrecy::ExposeSecret::expose_secret),
            self.outbox(),
            &self.mail_from,
            self.smtp_connections,
        )
    }

    /// Whether the service is reached over HTTPS (then HSTS is sent and cookies are `Secure`).
    pub fn https(&self) -> bool {
        self.public_url.starts_with("https://")
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
            smtp_connections: 4,
            mail_from: "noreply@matchwell.example".to_owned(),
            facilitator_emails: vec![],
            matching: matching::Settings::default(),
            limits: Limits::default(),
            k_anonymity: 5,
            learn_min_outcomes: 50,
            trusted_proxies: vec![],
            background_workers: true,
            token_ttl: chrono::Duration::hours(1),
        };
        let printed = format!("{settings:?}");
        for secret in ["hunter2", "mailpass", &"s".repeat(40)] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }

    #[test]
    fn limits_k_and_proxies_come_from_the_environment_and_the_data_dir_is_private() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let data_dir = dir.path().join("nested").join("data");
        let vars: std::collections::HashMap<&str, String> = [
            ("MATCHWELL_DATA_DIR", data_dir.display().to_string()),
            ("MATCHWELL_LIMIT_LOGIN_FAILURES", "3".to_owned()),
            ("MATCHWELL_LIMIT_CLIENT_FAILURES", "30".to_owned()),
            ("MATCHWELL_LIMIT_REGISTRATIONS", "7".to_owned()),
            ("MATCHWELL_LIMIT_EMAIL_REQUESTS", "2".to_owned()),
            ("MATCHWELL_LIMIT_WINDOW_SECONDS", "60".to_owned()),
            ("MATCHWELL_K_ANONYMITY", "8".to_owned()),
            ("MATCHWELL_SMTP_CONNECTIONS", "6".to_owned()),
            ("MATCHWELL_TRUSTED_PROXIES", "10.0.0.1, ::1".to_owned()),
            ("MATCHWELL_PUBLIC_URL", "https://matchwell.example".to_owned()),
        ]
        .into_iter()
        .collect();
        let settings = Settings::from_lookup(&|name| vars.get(name).cloned()).expect("valid settings");
        assert_eq!(
            settings.limits,
            Limits {
                failed_logins: 3,
                client_failures: 30,
                registrations: 7,
                email_requests: 2,
                searches: 300,
                asks_per_day: 10,
                window: std::time::Duration::from_secs(60)
            }
        );
        assert_eq!(settings.k_anonymity, 8);
        assert_eq!(settings.smtp_connections, 6);
        assert_eq!(settings.trusted_proxies.len(), 2);
        assert!(settings.https());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&data_dir).expect("created").permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "the data directory is private");
            let secret = std::fs::metadata(data_dir.join("jwt-secret")).expect("secret").permissions().mode() & 0o777;
            assert_eq!(secret, 0o600);
        }
        let bad = |name: &'static str, value: &'static str| {
            let mut vars = vars.clone();
            vars.insert(name, value.to_owned());
            Settings::from_lookup(&|n| vars.get(n).cloned()).is_err()
        };
        assert!(bad("MATCHWELL_TRUSTED_PROXIES", "proxy.example"));
        assert!(bad("MATCHWELL_LIMIT_LOGIN_FAILURES", "many"));
        assert!(bad("MATCHWELL_LIMIT_LOGIN_FAILURES", "0"));
        assert!(bad("MATCHWELL_K_ANONYMITY", "0"));
        assert!(bad("MATCHWELL_LEARN_MIN_OUTCOMES", "3"));
        assert!(bad("MATCHWELL_SMTP_CONNECTIONS", "0"));
    }
}
