//! In-process emulators of the CRM vendors' public APIs, so that renkei can be tested,
//! demonstrated and benchmarked with no vendor account and no network.
//!
//! Each emulator models its vendor (OAuth, REST API, errors, rate limits, ids and timestamps in
//! the vendor's formats) faithfully enough that the vendor's official SDK works against it with
//! only its base URL changed. It depends on none of renkei's connector code: a bug shared by a
//! connector and its emulator could otherwise make both sides agree.
//!
//! The pieces: [`control`] (the [`Emulator`] trait, the `_control` API, logging and fault
//! injection), [`env`] (clock, request log, faults), [`oauth`] (codes, grants, tokens, the
//! consent page), [`seed`] (deterministic demo people), [`ui`] (the HTML view), and one module
//! per vendor. [`Sandbox::router`] mounts them all under `/sandbox`.

#![recursion_limit = "256"]

pub mod control;
pub mod env;
pub mod http;
pub mod hubspot;
pub mod oauth;
pub mod salesforce;
pub mod seed;
pub mod ui;
pub mod zoho;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Map, Value, json};

pub use control::{ControlError, Emulator, SeedRequest};
pub use http::BaseUrl;

/// How a sandbox is set up.
#[derive(Debug, Clone, Default)]
pub struct SandboxOptions {
    /// The origin (`https://sandbox.example.com`) to put in URLs the emulators answer, when the
    /// sandbox sits behind a proxy. Without it, URLs are built from each request's `Host`.
    pub public_url: Option<String>,
}

/// Every emulator, ready to be mounted.
#[derive(Clone)]
pub struct Sandbox {
    emulators: Vec<Arc<dyn Emulator>>,
    options: SandboxOptions,
}

impl Sandbox {
    pub fn new(options: SandboxOptions) -> Sandbox {
        let emulators: Vec<Arc<dyn Emulator>> = vec![
            Arc::new(hubspot::Hubspot::new()),
            Arc::new(salesforce::Salesforce::new()),
            Arc::new(zoho::Zoho::new()),
        ];
        Sandbox { emulators, options }
    }

    /// The emulator named `name`.
    pub fn emulator(&self, name: &str) -> Option<&Arc<dyn Emulator>> {
        self.emulators.iter().find(|e| e.name() == name)
    }

    pub fn emulators(&self) -> &[Arc<dyn Emulator>] {
        &self.emulators
    }

    /// Seeds every emulator's default account with the same `count` people from `seed`.
    pub fn seed_all(&self, count: usize, seed: u64) -> Result<Value, ControlError> {
        let mut out = Map::new();
        for e in &self.emulators {
            let summary = e.seed(&SeedRequest {
                count,
                seed,
                account: None,
            })?;
            out.insert(e.name().to_owned(), summary);
        }
        Ok(Value::Object(out))
    }

    /// The `GET /sandbox` directory for a sandbox reachable at `origin` (`http://host:port`).
    pub fn directory(&self, origin: &str) -> Value {
        let mut providers = Map::new();
        for e in &self.emulators {
            providers.insert(
                e.name().to_owned(),
                e.directory(&BaseUrl::for_provider(origin, e.name())),
            );
        }
        json!({ "providers": providers })
    }

    /// `/sandbox` (the directory) and `/sandbox/{provider}/…` for every emulator.
    pub fn router(&self) -> Router {
        Router::new().nest_service("/sandbox", self.service())
    }

    /// The same routes relative to `/sandbox` (`/` is the directory, `/{provider}/…` the
    /// emulators), for a host application to mount with `nest_service("/sandbox", …)`: this is
    /// how `renkei serve --sandbox` puts the sandbox beside renkei's API.
    pub fn service(&self) -> Router {
        let mut router = Router::new().route(
            "/",
            get({
                let sandbox = self.clone();
                move |base: BaseUrl| async move {
                    axum::Json(sandbox.directory(&base.origin)).into_response()
                }
            }),
        );
        for e in &self.emulators {
            router = router.nest(&format!("/{}", e.name()), control::mount(e.clone()));
        }
        let router = router.fallback(|| async {
            (
                axum::http::StatusCode::NOT_FOUND,
                axum::Json(json!({
                    "error": "not_found",
                    "message": "no such emulator; GET /sandbox lists them",
                })),
            )
                .into_response()
        });
        match self.options.public_url.clone() {
            Some(origin) => {
                let origin = http::PublicOrigin(origin.trim_end_matches('/').to_owned());
                router.layer(axum::middleware::from_fn(
                    move |mut req: Request, next: Next| {
                        req.extensions_mut().insert(origin.clone());
                        async move { next.run(req).await }
                    },
                ))
            }
            None => router,
        }
    }
}

/// Serves the sandbox alone on `listener` until `shutdown` completes (`renkei sandbox`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    sandbox: Sandbox,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = sandbox.router().fallback(|| async {
        (
            axum::http::StatusCode::NOT_FOUND,
            axum::Json(json!({"error": "not_found", "message": "the sandbox lives under /sandbox; GET /sandbox lists the emulators"})),
        )
            .into_response()
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
