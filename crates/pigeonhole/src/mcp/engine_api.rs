//! How the MCP tools reach the engine: through its HTTP API's JSON, either over the
//! network (`pigeonhole mcp`, a separate process) or in-process by calling the API's
//! router directly (`/mcp`, inside the engine). Both answer the same bytes, so every
//! tool is written once, against the API the UI and the other clients use.

use axum::Router;
use axum::body::Body;
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::http::{Method, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt as _;

/// Where the API is.
#[derive(Clone)]
pub enum EngineApi {
    /// The engine's own API router, called without a socket. `/mcp` sits behind the
    /// Host/Origin guard and basic auth already, so the router given here is the
    /// API without them ([`crate::api::handlers`]).
    InProcess(Router),
    /// A running engine's HTTP address (`http://127.0.0.1:8025`).
    Remote { http: reqwest::Client, base: String },
}

/// An answer of the API: its status and body.
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

/// No engine answered: the text says how to start one.
#[derive(Debug)]
pub struct Unreachable(pub String);

impl EngineApi {
    /// The API of the engine at `url`, over HTTP, with API token `token` when given
    /// (then the engine shows only what the token may see). Loopback (the usual
    /// engine) never goes through a proxy from the environment.
    pub fn remote(url: &str, token: Option<&str>) -> Result<EngineApi, String> {
        let base = url.trim().trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(format!("--url {url:?} is not an http:// URL (like http://127.0.0.1:8025)"));
        }
        let http = reqwest::Client::builder()
            .default_headers(crate::login::bearer_headers(token)?)
            .no_proxy()
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|err| format!("cannot make an HTTP client: {err}"))?;
        Ok(EngineApi::Remote { http, base })
    }

    /// `method path_and_query`, with `body` as JSON when given.
    pub async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<Answer, Unreachable> {
        match self {
            EngineApi::InProcess(router) => {
                let mut request = Request::builder().method(method).uri(path_and_query);
                let body = match body {
                    Some(json) => {
                        request = request.header(CONTENT_TYPE, "application/json");
                        Body::from(json.to_string())
                    }
                    None => Body::empty(),
                };
                let request = request.body(body).map_err(|err| Unreachable(format!("bad request: {err}")))?;
                let Ok(response) = router.clone().oneshot(request).await;
                let status = response.status();
                // The API's answers are bounded by the store's own limits (the
                // largest message it takes), so they are read whole.
                let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .map_err(|err| Unreachable(format!("the engine's answer broke off: {err}")))?;
                Ok(Answer { status, body })
            }
            EngineApi::Remote { http, base } => {
                let mut request = http.request(method, format!("{base}{path_and_query}"));
                if let Some(json) = body {
                    request = request.json(json);
                }
                let no_engine = |err: reqwest::Error| {
                    Unreachable(format!(
                        "no Pigeonhole engine answers at {base} ({err}). Start one with `pigeonhole serve` \
                         (or open the Pigeonhole desktop app), or point `pigeonhole mcp --url` (PIGEONHOLE_URL) \
                         at the one running"
                    ))
                };
                let response = request.send().await.map_err(no_engine)?;
                let status = response.status();
                let body = response.bytes().await.map_err(no_engine)?;
                Ok(Answer { status, body })
            }
        }
    }
}
