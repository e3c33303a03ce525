//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of the whole API, made by
//! utoipa from the handlers' `#[utoipa::path]` attributes and the response types'
//! `ToSchema` derives, so it follows the code.
//!
//! [`super::routes`] registers each handler with the router and the document in
//! one call (utoipa-axum's `routes!`), so a route cannot be served without being
//! documented. What operations share is added here once ([`add_shared`]): the errors
//! of the guard, of basic auth and of our own failures, the optional basic-auth
//! and bearer-token schemes, and the `ID` (with `latest` and `query`) of every route that resolves a
//! message through [`super::message::load`].
//!
//! The API tests check the served document against the running server: every
//! documented method answers on every documented path (and no other method does),
//! and real answers validate against the documented schemas.

use std::sync::LazyLock;

use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use utoipa::PartialSchema;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Required, ResponseBuilder};

use crate::config::HttpLimits;

/// Title, version and tags. The paths come from [`super::routes`], but for the
/// two views, which share one route there; [`add_shared`] adds what they share.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Pigeonhole",
        version = env!("CARGO_PKG_VERSION"),
        description = "Pigeonhole's HTTP API: Mailpit's v1 API (same paths, parameters and JSON), \
            our additions, and the part of MailHog's API its clients read.",
    ),
    paths(super::view::html, super::view::text),
    // Sent over the WebSocket, so no response names it.
    components(schemas(crate::model::Event)),
    tags(
        (name = "messages", description = "The mailbox as a whole"),
        (name = "message", description = "One message"),
        (name = "tags", description = "Tags"),
        (name = "send", description = "Sending, importing, exporting and releasing messages"),
        (name = "server", description = "About the server, its SMTP intake and chaos triggers"),
        (name = "events", description = "Live updates"),
        (name = "simulation", description = "Delivery simulation: its rules and the simulator addresses"),
        (name = "webhooks", description = "Provider event webhooks: endpoints, deliveries, events on request"),
        (name = "mailhog", description = "MailHog's API, for MailHog's clients"),
    )
)]
pub(super) struct ApiDoc;

/// Adds what operations share, so the handlers' attributes say only what is
/// particular to them.
fn add_shared(openapi: &mut OpenApi) {
    let json_error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
            .build()
    };
    let text_error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content("text/plain", ContentBuilder::new().schema(Some(String::schema())).build())
            .build()
    };
    let auth = "Basic auth (`--ui-auth-file`) or API tokens (`--api-tokens-file`) are on and the request has no \
                valid credentials";
    let components = openapi.components.get_or_insert_with(Default::default);
    components.responses.extend([
        ("Unauthorized".to_string(), RefOr::T(json_error(auth))),
        ("UnauthorizedText".to_string(), RefOr::T(text_error(&format!("{auth} (Mailpit's plain text)")))),
        (
            "Forbidden".to_string(),
            RefOr::T(json_error(
                "The Host or Origin header is not allowed (DNS rebinding and cross-site guard), or the user or token \
                 is limited to some inboxes and the request would reach others (a server setting, a tag on every \
                 message, mail sent to an inbox it does not see)",
            )),
        ),
        ("InternalError".to_string(), RefOr::T(json_error("A failure on the server's side, see its log"))),
        ("BadParameters".to_string(), RefOr::T(json_error("A malformed path or query string"))),
        (
            "TooLarge".to_string(),
            RefOr::T(json_error(&format!("The body is larger than {} MiB", HttpLimits::default().max_body >> 20))),
        ),
        ("Unavailable".to_string(), RefOr::T(json_error("The store is busy or shutting down: retry"))),
        ("DiskFull".to_string(), RefOr::T(json_error("The disk is full"))),
    ]);
    components.add_security_scheme(
        "basicAuth",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Basic)
                .description(Some("Only when the server runs with `--ui-auth-file`; `/livez` never asks."))
                .build(),
        ),
    );
    components.add_security_scheme(
        "bearerAuth",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "An API token (`pigeonhole token new NAME`), only when the server runs with `--api-tokens-file`. \
                     A token (or user) limited to some inboxes sees only their messages: any other answers 404 as \
                     a missing one does, and lists count only its inboxes.",
                ))
                .build(),
        ),
    );
    // Basic auth, a bearer token, or none when the server runs with neither file.
    openapi.security = Some(vec![
        SecurityRequirement::new("basicAuth", Vec::<String>::new()),
        SecurityRequirement::new("bearerAuth", Vec::<String>::new()),
        Default::default(),
    ]);

    for (path, item) in openapi.paths.paths.iter_mut() {
        let operations =
            [("GET", &mut item.get), ("PUT", &mut item.put), ("POST", &mut item.post), ("DELETE", &mut item.delete)];
        for (method, operation) in operations {
            let Some(operation) = operation else { continue };
            let mut shared = vec![("403", "Forbidden"), ("500", "InternalError")];
            if path == "/livez" {
                // Auth never applies here.
                operation.security = Some(Vec::new());
            } else if path.starts_with("/api/") {
                shared.push(("401", "Unauthorized"));
            } else {
                shared.push(("401", "UnauthorizedText"));
            }
            if is_message_route(path) {
                let parameters = operation.parameters.get_or_insert_with(Vec::new);
                parameters.splice(0..0, message_parameters().map(RefOr::T));
                let not_found = json_error("No such message");
                operation.responses.responses.entry("404".to_string()).or_insert(RefOr::T(not_found));
            }
            // Every path and query is read through `Ext` (see `super::error`), whose
            // rejections (a parameter given twice, bad percent-encoding) are 400.
            if operation.parameters.as_ref().is_some_and(|parameters| !parameters.is_empty()) {
                shared.push(("400", "BadParameters"));
            }
            // Bodies are capped (`HttpLimits::max_body`); writes go through the store's
            // writer, which may be busy, closing or out of disk.
            if operation.request_body.is_some() {
                shared.push(("413", "TooLarge"));
            }
            if method != "GET" {
                shared.extend([("503", "Unavailable"), ("507", "DiskFull")]);
            }
            for (status, name) in shared {
                operation.responses.responses.entry(status.to_string()).or_insert(Ref::from_response_name(name).into());
            }
        }
    }
}

/// Routes whose `{ID}` goes through [`super::message::load`]: Mailpit's
/// one-message routes and the views. (MailHog's `/api/v1/messages/{ID}` takes
/// IDs only.)
fn is_message_route(path: &str) -> bool {
    path.starts_with("/api/v1/message/{ID}") || path.starts_with("/view/{ID}")
}

/// `ID`, which may be `latest`, and `query`, which `latest` reads.
fn message_parameters() -> [Parameter; 2] {
    let parameter = |name: &str, place: ParameterIn, required: Required, description: &str| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(place)
            .required(required)
            .description(Some(description))
            .schema(Some(String::schema()))
            .build()
    };
    [
        parameter(
            "ID",
            ParameterIn::Path,
            Required::True,
            "A message's ID, or `latest`: the newest message (the newest matching `query`, when given)",
        ),
        parameter(
            "query",
            ParameterIn::Query,
            Required::False,
            "With the ID `latest`: the newest message matching this search",
        ),
    ]
}

/// The whole document: every route's entry, then what they share.
pub(super) fn openapi() -> OpenApi {
    let mut openapi = super::routes().into_openapi();
    add_shared(&mut openapi);
    openapi
}

/// The document as served: made once, on first request.
static DOCUMENT: LazyLock<Bytes> =
    LazyLock::new(|| Bytes::from(openapi().to_pretty_json().expect("the OpenAPI document serializes")));

/// `GET /api/v1/openapi.json`.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "server",
    responses((status = 200, description = "This document (OpenAPI 3.1)", body = Object, content_type = "application/json"))
)]
pub async fn document() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], DOCUMENT.clone())
}
