//! Building and running the application: connect and migrate the store, load the catalogue,
//! start the workers, bind the HTTP server (port 0 picks a free port, for tests).

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::DefaultHeaders;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use domain::Catalogue;
use matching::Matchmaker;
use matching::anonymity::Anonymity;
use secrecy::ExposeSecret;
use store::Store;
use tokio::sync::{Notify, watch};

use crate::auth::{Sessions, Tokens, hash_password, new_token};
use crate::config::Settings;
use crate::errors::json_error;
use crate::limits::Throttle;
use crate::routes;
use crate::state::AppState;
use crate::workers;

/// Largest request body accepted (larger ones are answered 413).
pub const BODY_LIMIT: usize = 1 << 20;

const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
     object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// A running application.
pub struct Application {
    port: u16,
    server: Server,
    pub state: web::Data<AppState>,
    stop: watch::Sender<bool>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").field("port", &self.port).finish_non_exhaustive()
    }
}

impl Application {
    /// Connects, migrates, starts the workers (when configured) and binds the server.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let store = Store::open(&settings.database_url).await.context("failed to open the database")?;
        let catalogue = Arc::new(Catalogue::builtin()?);
        let mailer = settings.mailer()?;
        let dummy_password = domain::Password::parse(new_token()).map_err(anyhow::Error::msg)?;
        let dummy_hash = hash_password(dummy_password).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let listener =
            TcpListener::bind(&settings.bind).with_context(|| format!("failed to bind {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let scoring = Arc::new(Notify::new());
        let match_lists = Arc::new(crate::cache::MatchLists::default());
        let (stop, stopped) = watch::channel(false);
        let mut workers = Vec::new();
        let models = Arc::new(matching::models::Models::new(catalogue.clone()));
        models.refresh(&store).await.context("failed to read the scoring model in use")?;
        let metrics = Arc::new(crate::metrics::Metrics::default());
        if settings.background_workers {
            let counted = metrics.clone();
            let observe = move |sending: mail::Sending| counted.emails(sending);
            workers.push(tokio::spawn(mail::run_worker(store.clone(), mailer, stopped.clone(), observe)));
            let matchmaker = Matchmaker::new(catalogue.clone(), settings.matching.clone());
            workers.push(tokio::spawn(workers::run_scoring(
                store.clone(),
                matchmaker,
                scoring.clone(),
                models.clone(),
                match_lists.clone(),
                metrics.clone(),
                stopped.clone(),
            )));
        }
        let state = web::Data::new(AppState {
            tokens: Tokens::new(&settings.jwt_secret, settings.token_ttl),
            limiter: Throttle::new(
                store.clone(),
                settings.jwt_secret.expose_secret().as_bytes(),
                settings.limits.window,
            ),
            anonymity: Arc::new(Anonymity::new(catalogue.clone(), settings.k_anonymity)),
            clock: Arc::new(crate::clock::Clock::default()),
            search: Arc::new(matching::search::Search::new(catalogue.clone(), models.clone())),
            refs: crate::refs::SearchRefs::new(settings.jwt_secret.expose_secret().as_bytes()),
            csrf_key: crate::csrf::CsrfKey::derive(settings.jwt_secret.expose_secret().as_bytes()),
            unsubscribe_key: crate::digests::UnsubscribeKey::derive(settings.jwt_secret.expose_secret().as_bytes()),
            store,
            catalogue,
            settings,
            scoring,
            dummy_hash,
            match_lists,
            sessions: Sessions::default(),
            metrics,
            models,
        });
        if state.settings.background_workers {
            let digester = crate::digests::Digester::new(
                state.store.clone(),
                state.catalogue.clone(),
                state.anonymity.clone(),
                &state.settings,
            );
            workers.push(tokio::spawn(workers::run_digests(digester, stopped.clone())));
            // Load what search and anonymous profiles need before the first member asks.
            let warm = state.clone();
            workers.push(tokio::spawn(async move {
                if let Err(error) = warm.search.refresh(&warm.store).await {
                    tracing::error!(error = %format!("{error:#}"), "failed to load the search population");
                }
                if let Err(error) = warm.anonymity.current(&warm.store).await {
                    tracing::error!(error = %format!("{error:#}"), "failed to load the anonymity index");
                }
            }));
        }
        workers.push(tokio::spawn(crate::notices::follow(state.clone(), stopped)));
        let shared = state.clone();
        let https = state.settings.https();
        let server = HttpServer::new(move || {
            // Responses are never stored by caches unless a handler says otherwise (the
            // stylesheet does): most carry a member's own data.
            let mut headers = DefaultHeaders::new()
                .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
                .add(("X-Content-Type-Options", "nosniff"))
                .add(("X-Frame-Options", "DENY"))
                .add(("Referrer-Policy", "same-origin"))
                .add(("Cache-Control", "no-store"));
            if https {
                headers = headers.add(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"));
            }
            App::new()
                .wrap(headers)
                .wrap(actix_web::middleware::from_fn(crate::metrics::observe))
                .wrap(tracing_actix_web::TracingLogger::<crate::metrics::RequestSpan>::new())
                .app_data(shared.clone())
                .app_data(web::JsonConfig::default().limit(BODY_LIMIT).error_handler(json_error))
                .app_data(web::QueryConfig::default().error_handler(crate::errors::query_error))
                .app_data(web::PayloadConfig::default().limit(BODY_LIMIT))
                .app_data(web::FormConfig::default().limit(BODY_LIMIT))
                .configure(routes::configure)
                .default_service(web::to(crate::pages::not_found))
        })
        .listen(listener)?
        .run();
        Ok(Application { port, server, state, stop, workers })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The service's clock (tests move it forward).
    pub fn clock(&self) -> Arc<crate::clock::Clock> {
        self.state.clock.clone()
    }

    /// Serves until the process is asked to stop, then stops the workers.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let result = self.server.await;
        let _ = self.stop.send(true);
        for worker in self.workers {
            let _ = worker.await;
        }
        result.context("the HTTP server failed")
    }

    /// Serves in the background (for tests); the handle stops with the runtime.
    pub fn spawn(self) -> (u16, web::Data<AppState>) {
        let (port, state) = (self.port, self.state.clone());
        tokio::spawn(self.run_until_stopped());
        (port, state)
    }
}
