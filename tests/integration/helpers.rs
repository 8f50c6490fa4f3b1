//! `spawn_app`: a fresh Matchwell on a free port with a fresh database (SQLite always,
//! PostgreSQL too when `MATCHWELL_TEST_DATABASE_URL` is set), its outbox in a temporary
//! directory, and typed helpers to drive it.

use std::path::PathBuf;

use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use server::{Application, Settings};
use store::Store;

/// A database engine the tests run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The engines to test: SQLite, and PostgreSQL when `MATCHWELL_TEST_DATABASE_URL` is set.
/// With `MATCHWELL_REQUIRE_POSTGRES=1` (as CI sets it) a missing PostgreSQL is a failure,
/// never a silent skip.
pub fn backends() -> Vec<Backend> {
    let postgres = std::env::var("MATCHWELL_TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty());
    let required = std::env::var("MATCHWELL_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    assert!(postgres || !required, "MATCHWELL_REQUIRE_POSTGRES=1 but MATCHWELL_TEST_DATABASE_URL is not set");
    if postgres { vec![Backend::Sqlite, Backend::Postgres] } else { vec![Backend::Sqlite] }
}

/// A fresh, empty database URL for `backend`, and the directory that holds it (if any).
pub async fn fresh_database(backend: Backend) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = match backend {
        Backend::Sqlite => format!("sqlite://{}/matchwell.db?mode=rwc", dir.path().display()),
        Backend::Postgres => {
            let base = std::env::var("MATCHWELL_TEST_DATABASE_URL").expect("set for Postgres");
            store::test_support::create_postgres_database(&base)
                .await
                .expect("PostgreSQL reachable at MATCHWELL_TEST_DATABASE_URL")
        }
    };
    (url, dir)
}

/// The `matchwell` binary as a process of its own running `command`, with a clean environment
/// (`PATH` and `RUST_LOG=warn` only; callers add the rest) and its output piped.
pub fn matchwell_process(command: &str) -> tokio::process::Command {
    let mut process = tokio::process::Command::new(env!("CARGO_BIN_EXE_matchwell-under-test"));
    process
        .arg(command)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    process
}

/// A `matchwell serve` process of its own, as one instance of a fleet.
pub struct Instance {
    pub process: tokio::process::Child,
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// What the process logged so far (at info level).
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Instance {
    /// Starts `matchwell serve` on a free port of loopback over `database_url`, with its own
    /// data directory `data_dir`, the fleet's shared secret, and `env` on top; returns once it
    /// serves.
    pub async fn start(database_url: &str, data_dir: &std::path::Path, env: &[(&str, &str)]) -> Instance {
        use tokio::io::AsyncBufReadExt;
        let mut command = matchwell_process("serve");
        command
            .env("RUST_LOG", "info")
            .env("MATCHWELL_DATA_DIR", data_dir)
            .env("MATCHWELL_DATABASE_URL", database_url)
            .env("MATCHWELL_BIND", "127.0.0.1:0")
            .env("MATCHWELL_JWT_SECRET", "fleet-secret-fleet-secret-fleet-secret-01")
            .env("MATCHWELL_PUBLIC_URL", "http://matchwell.test")
            .env("MATCHWELL_K_ANONYMITY", "1")
            .env("MATCHWELL_MATCH_FLOOR", "0");
        for (name, value) in env {
            command.env(name, value);
        }
        let mut process = command.spawn().expect("matchwell serve starts");
        let stderr = process.stderr.take().expect("piped");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (port_tx, port_rx) = tokio::sync::oneshot::channel();
        let kept = log.clone();
        // Read the log to its end, so that the process never blocks on a full pipe.
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            let mut port_tx = Some(port_tx);
            while let Ok(Some(line)) = lines.next_line().await {
                let line = without_colours(&line);
                if line.contains("matchwell is serving")
                    && let Some(port) = line.rsplit("port=").next().and_then(|p| p.trim().parse::<u16>().ok())
                    && let Some(tx) = port_tx.take()
                {
                    let _ = tx.send(port);
                }
                let mut log = kept.lock().unwrap_or_else(|p| p.into_inner());
                log.push_str(&line);
                log.push('\n');
            }
        });
        let port = tokio::time::timeout(std::time::Duration::from_secs(60), port_rx).await;
        let Ok(Ok(port)) = port else {
            panic!("matchwell serve did not start: {}", log.lock().unwrap_or_else(|p| p.into_inner()));
        };
        Instance { process, address: format!("http://127.0.0.1:{port}"), log }
    }

    /// Kills the process with SIGKILL and waits for it to end.
    pub async fn kill_9(&mut self) {
        self.process.start_kill().expect("SIGKILL");
        let status = self.process.wait().await.expect("the process ends");
        assert!(!status.success(), "killed: {status:?}");
    }

    /// What the process logged so far.
    pub fn logged(&self) -> String {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// `line` without its ANSI colour sequences (`ESC [ … m`).
fn without_colours(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

/// A running application and what the tests need to drive it.
pub struct TestApp {
    pub backend: Backend,
    pub address: String,
    pub client: Client,
    pub store: Store,
    pub mailer: mail::Mailer,
    pub outbox: PathBuf,
    pub settings: Settings,
    /// The service's clock, which tests may move forward.
    pub clock: std::sync::Arc<server::clock::Clock>,
    _dir: tempfile::TempDir,
}

/// Everything every test logged so far (all of them share one subscriber, at debug level).
static LOGS: std::sync::OnceLock<std::sync::Arc<std::sync::Mutex<Vec<u8>>>> = std::sync::OnceLock::new();

/// The log sink of the test binary.
#[derive(Clone)]
struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    LOGS.get_or_init(|| {
        let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = Sink(buffer.clone());
        let subscriber = tracing_subscriber::fmt()
            // The browser driver logs what the browser tests type (test passwords); it is the
            // tests' own traffic, not the service's.
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug,thirtyfour=off"))
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buffer
    });
}

/// Every line logged so far by any test of this binary.
pub fn logs() -> String {
    LOGS.get()
        .map(|b| String::from_utf8_lossy(&b.lock().unwrap_or_else(|p| p.into_inner())).into_owned())
        .unwrap_or_default()
}

/// Settings for a test app; `adjust` may change them before it starts.
pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    capture_logs();
    let (database_url, dir) = fresh_database(backend).await;
    let mut settings = Settings {
        data_dir: dir.path().to_owned(),
        database_url,
        bind: "127.0.0.1:0".to_owned(),
        public_url: "http://matchwell.test".to_owned(),
        jwt_secret: secrecy::SecretString::from("test-secret-test-secret-test-secret-0123".to_owned()),
        smtp_url: None,
        smtp_connections: 4,
        mail_from: "Matchwell <noreply@matchwell.test>".to_owned(),
        facilitator_emails: vec![],
        matching: matching_settings(),
        limits: server::config::Limits::default(),
        // Most tests match three or four organisations, which no combination of profile
        // fields could hide among five; the k-anonymity tests set their own k.
        k_anonymity: 1,
        learn_min_outcomes: 50,
        trusted_proxies: vec![],
        background_workers: false,
        token_ttl: chrono::Duration::hours(1),
    };
    adjust(&mut settings);
    start(backend, settings, dir).await
}

/// Starts an application with `settings`, which may be those of a running one.
async fn start(backend: Backend, settings: Settings, dir: tempfile::TempDir) -> TestApp {
    let application = Application::build(settings.clone()).await.expect("the application starts");
    let clock = application.clock();
    let (port, _) = application.spawn();
    let store = Store::connect(&settings.database_url).await.expect("database");
    let outbox = settings.outbox();
    let mailer = mail::Mailer::new(None, outbox.clone(), &settings.mail_from).expect("mailer");
    TestApp {
        backend,
        address: format!("http://127.0.0.1:{port}"),
        client: Client::new(),
        store,
        mailer,
        outbox,
        settings,
        clock,
        _dir: dir,
    }
}

fn matching_settings() -> matching::Settings {
    matching::Settings { k: 5, floor: 0.0, max_open: 25 }
}

impl TestApp {
    /// A second instance of this application on its database, with the same settings and
    /// secret, as a fleet runs them (its own caches and clock).
    pub async fn another_instance(&self) -> TestApp {
        start(self.backend, self.settings.clone(), tempfile::tempdir().expect("temporary directory")).await
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// The password every test organisation signs up with.
pub const PASSWORD: &str = "a long enough password";

/// An organisation registered, verified and logged in through the API.
pub struct Member {
    pub email: String,
    pub name: String,
    pub token: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        let mut request = self.client.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request sent")
    }

    /// The organisation of a registered address (internal id, for checks on the store).
    pub async fn org_of(&self, email: &str) -> store::OrgId {
        let email = domain::EmailAddress::parse(email).expect("email");
        self.store.account_by_email(&email).await.expect("store").expect("account").organisation
    }

    pub async fn patch(&self, path: &str, body: &Value, token: &str) -> Response {
        self.client.patch(self.url(path)).json(body).bearer_auth(token).send().await.expect("request sent")
    }

    pub async fn put(&self, path: &str, body: &Value, token: &str) -> Response {
        self.client.put(self.url(path)).json(body).bearer_auth(token).send().await.expect("request sent")
    }

    pub async fn delete(&self, path: &str, body: &Value, token: &str) -> Response {
        self.client.delete(self.url(path)).bearer_auth(token).json(body).send().await.expect("request sent")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request sent")
    }

    pub async fn register(&self, email: &str, name: &str, kind: &str) -> Response {
        self.register_with(email, PASSWORD, name, kind).await
    }

    pub async fn register_with(&self, email: &str, password: &str, name: &str, kind: &str) -> Response {
        let body = json!({"email": email, "password": password, "organisation_name": name, "kind": kind});
        self.post("/api/v1/auth/register", &body, None).await
    }

    /// Confirms an address with the token of its link and a password.
    pub async fn verify(&self, token: &str, password: &str) -> Response {
        self.post("/api/v1/auth/verify", &json!({"token": token, "password": password}), None).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post("/api/v1/auth/login", &json!({"email": email, "password": password}), None).await
    }

    /// Sends every queued email to the outbox, as the worker would.
    pub async fn deliver_emails(&self) {
        loop {
            match mail::try_execute_task(&self.store, &self.mailer).await.expect("worker step") {
                mail::Execution::EmptyQueue => break,
                mail::Execution::Sent => {}
                mail::Execution::Failed => panic!("an email failed to send"),
            }
        }
        // The app's own mail worker may hold claims on a few; it marks each sent once written.
        for _ in 0..200 {
            if self.store.pending_emails().await.expect("store") == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("emails stayed queued");
    }

    /// Every email in the outbox to `recipient`, as raw text with quoted-printable soft line
    /// breaks and `=3D` undone.
    pub fn emails_to(&self, recipient: &str) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.outbox) else { return vec![] };
        let mut emails: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .map(|raw| raw.replace("=\r\n", "").replace("=\n", "").replace("=3D", "="))
            .filter(|raw| raw.contains(&format!("To: {recipient}")))
            .collect();
        emails.sort();
        emails
    }

    /// The tokens of every link `marker` (such as `verify?token=`) mailed to `recipient`, in
    /// the order they were sent.
    pub async fn link_tokens(&self, recipient: &str, marker: &str) -> Vec<String> {
        self.deliver_emails().await;
        let Ok(entries) = std::fs::read_dir(&self.outbox) else { return vec![] };
        let mut emails: Vec<(std::time::SystemTime, String)> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .filter_map(|e| {
                let modified = e.metadata().ok()?.modified().ok()?;
                let raw = std::fs::read_to_string(e.path()).ok()?;
                Some((modified, raw.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=")))
            })
            .filter(|(_, raw)| raw.contains(&format!("To: {recipient}")) && raw.contains(marker))
            .collect();
        emails.sort_by_key(|(modified, _)| *modified);
        emails
            .iter()
            .map(|(_, email)| {
                let start = email.find(marker).expect("link") + marker.len();
                email[start..].chars().take_while(|c| c.is_ascii_hexdigit()).collect()
            })
            .collect()
    }

    /// The newest verification token mailed to `recipient`. With background workers, the
    /// app's own mail worker may have claimed the email and be writing it: wait for it a little.
    pub async fn verification_token(&self, recipient: &str) -> String {
        for _ in 0..50 {
            if let Some(token) = self.link_tokens(recipient, "verify?token=").await.pop() {
                return token;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("no verification email to {recipient}")
    }

    /// Registers, verifies and logs in an organisation.
    pub async fn member(&self, email: &str, name: &str, kind: &str) -> Member {
        assert_eq!(self.register(email, name, kind).await.status(), StatusCode::CREATED);
        let token = self.verification_token(email).await;
        let verified = self.verify(&token, PASSWORD).await;
        assert_eq!(verified.status(), StatusCode::OK);
        let login: Value = self.login(email, PASSWORD).await.json().await.expect("json");
        let token = login["access_token"].as_str().expect("a token").to_owned();
        Member { email: email.to_owned(), name: name.to_owned(), token }
    }

    /// Runs the scoring pass the background worker would run.
    pub async fn score(&self) -> matching::Report {
        let catalogue = std::sync::Arc::new(domain::Catalogue::builtin().expect("catalogue"));
        let mut matchmaker = matching::Matchmaker::new(catalogue, self.settings.matching.clone());
        matchmaker.run(&self.store, true, std::sync::Arc::new(|_, _| {})).await.expect("scoring runs")
    }
}

/// Answers every question of the questionnaire: option `pick(question index, option count)`,
/// accepting only that option, with importance `importance`.
pub fn answers(pick: impl Fn(usize, usize) -> usize, importance: &str) -> Value {
    let catalogue = domain::Catalogue::builtin().expect("catalogue");
    let q = &catalogue.questionnaire;
    let answers: Vec<Value> = (0..q.question_count())
        .map(|i| {
            let question = q.question_at(i);
            let option = &question.options[pick(i, question.options.len())].id;
            json!({"question_id": question.id, "answer": option, "acceptable": [option], "importance": importance})
        })
        .collect();
    json!({"answers": answers})
}

/// Runs `test` against a fresh app on every backend.
pub async fn on_every_backend(test: impl AsyncFn(TestApp)) {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let database = app.settings.database_url.clone();
        test(app).await;
        drop_database(backend, &database).await;
    }
}

/// Removes a PostgreSQL test database (SQLite ones go with their temporary directory).
pub async fn drop_database(backend: Backend, url: &str) {
    if backend == Backend::Postgres {
        let base = std::env::var("MATCHWELL_TEST_DATABASE_URL").expect("set for Postgres");
        store::test_support::drop_postgres_database(&base, url).await.expect("test database dropped");
    }
}
