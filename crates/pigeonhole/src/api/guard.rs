//! Request guard: who may talk to the API at all.
//!
//! The API listens on loopback, but a web page in the user's browser can still reach
//! it. Two checks keep such pages out:
//!
//! * **Host** must name a loopback host (`localhost`, `*.localhost`, 127.0.0.0/8,
//!   `[::1]`). A DNS-rebinding page reaches us under its own name, so its requests
//!   carry that name and are refused. When HTTP is bound to an address other
//!   machines reach (which needs `--ui-auth-file` or `--api-tokens-file`, or
//!   `--http-allow-unauthenticated` on purpose), they use the machine's own names,
//!   which we cannot know: then any name is taken, and the password or token is what
//!   keeps a rebinding page out.
//! * **Origin**, when a browser sends one on a state-changing request or a WebSocket
//!   upgrade, must be the API's own origin or a loopback one (the desktop webview's
//!   `tauri://localhost`, the UI's dev server). This stops cross-site requests
//!   (CSRF) and cross-site WebSockets. Requests without Origin (curl, test
//!   libraries, other non-browser clients) are let through: only browsers send it,
//!   and they always do on cross-origin writes.
//! * **Content-Type** of a state-changing request must not be one an HTML form can
//!   send (`application/x-www-form-urlencoded`, `multipart/form-data`,
//!   `text/plain`): those are the bodies a cross-site page can post without a CORS
//!   preflight, and the API takes JSON (and, on import, mail files) only. Answered
//!   415, so a CSRF attempt fails even from a browser that sends no Origin. The
//!   provider routes whose providers take forms (Mailgun, SES's query API) take
//!   them only with their credential header (`providers::takes_signed_form`),
//!   which no form can send.
//!
//! No CORS headers are ever added, so browsers keep other origins from reading
//! answers. The guard also adds `X-Content-Type-Options: nosniff` to every answer, so
//! raw mail served as text is never sniffed into HTML.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, HOST, ORIGIN, UPGRADE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::providers;

/// The middleware: refuse, or pass the request on and mark the answer `nosniff`.
/// `any_host` is all of the API's state it needs: it runs before every request,
/// and cloning the whole [`ApiState`](super::ApiState) for each would cost more
/// than the checks.
pub async fn check(State(any_host): State<bool>, request: Request, next: Next) -> Response {
    if let Err(refusal) = admit(&request, any_host) {
        return refusal.into_response();
    }
    let mut response = next.run(request).await;
    response.headers_mut().insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// `any_host`: take any Host name (HTTP bound off loopback), not only loopback ones.
fn admit(request: &Request, any_host: bool) -> Result<(), ApiError> {
    // HTTP/2 carries the host in the URI; HTTP/1.1 in the Host header, exactly one.
    let mut hosts = request.headers().get_all(HOST).iter();
    let host = match (request.uri().authority(), hosts.next(), hosts.next()) {
        (Some(authority), _, _) => Some(authority.as_str()),
        (None, Some(host), None) => host.to_str().ok(),
        _ => None,
    }
    .ok_or_else(|| ApiError::forbidden("exactly one valid Host header is required"))?;
    if !any_host && !host_name(host).is_some_and(is_loopback_host) {
        return Err(ApiError::forbidden(format!("host {host:?} is not allowed: use localhost or a loopback address")));
    }

    if let Some(origin) = request.headers().get(ORIGIN)
        && changes_state(request)
    {
        let origin = origin.to_str().unwrap_or("");
        if !origin_allowed(origin, host) {
            return Err(ApiError::forbidden(format!("origin {origin:?} is not allowed")));
        }
    }

    if changes_state(request)
        && request.headers().get(CONTENT_TYPE).is_some_and(|value| is_form_type(value.as_bytes()))
        && !providers::takes_signed_form(request.uri().path(), request.headers())
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "form and text bodies are refused (a cross-site page can send them): send JSON with Content-Type: \
             application/json, or a mail file to /api/v1/import as message/rfc822 or application/mbox",
        ));
    }
    Ok(())
}

/// The media types an HTML form can post cross-site without a CORS preflight.
fn is_form_type(content_type: &[u8]) -> bool {
    let media_type = content_type.split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
    ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"]
        .iter()
        .any(|form| form.as_bytes().eq_ignore_ascii_case(media_type))
}

/// Requests a cross-site page must not be able to make: writes and WebSocket
/// upgrades (a WebSocket is not subject to the same-origin policy).
fn changes_state(request: &Request) -> bool {
    !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        || request.headers().contains_key(UPGRADE)
}

/// `scheme://host[:port]` whose authority is the request's own Host, or whose host
/// is loopback. `null` (sandboxed frames, file: pages) is refused.
fn origin_allowed(origin: &str, host: &str) -> bool {
    let Some((_scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    authority.eq_ignore_ascii_case(host) || host_name(authority).is_some_and(is_loopback_host)
}

/// The host part of `host[:port]` or `[v6][:port]`, without brackets; `None` when
/// what follows the host is not a port number.
fn host_name(authority: &str) -> Option<&str> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(rest) => match rest.split_once(']')? {
            (v6, "") => (v6, ""),
            (v6, after) => (v6, after.strip_prefix(':')?),
        },
        None => authority.rsplit_once(':').unwrap_or((authority, "")),
    };
    port.bytes().all(|b| b.is_ascii_digit()).then_some(host)
}

fn is_loopback_host(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    // RFC 6761: `localhost` and its subdomains always resolve to loopback.
    name == "localhost" || name.ends_with(".localhost") || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in ["localhost", "LOCALHOST", "localhost.", "app.localhost", "127.0.0.1", "127.9.8.7", "::1"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in ["", "example.com", "localhost.example.com", "10.0.0.1", "0.0.0.0", "::", "evil-localhost"] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn host_names() {
        assert_eq!(host_name("localhost:8025"), Some("localhost"));
        assert_eq!(host_name("localhost"), Some("localhost"));
        assert_eq!(host_name("[::1]:8025"), Some("::1"));
        assert_eq!(host_name("[::1]"), Some("::1"));
        assert_eq!(host_name("127.0.0.1:1"), Some("127.0.0.1"));
        // A port that is not a number hides another name.
        for bad in ["127.0.0.1:1.evil.example", "[::1]:1.evil.example", "[::1]evil.example", "[::1"] {
            assert_eq!(host_name(bad), None, "{bad}");
        }
    }

    /// Bound off loopback (behind a password), the machine's own names are taken;
    /// a cross-site write is still refused.
    #[test]
    fn any_host_when_bound_off_loopback() {
        let request = |method: Method, origin: Option<&str>| {
            let mut builder =
                Request::builder().method(method).uri("/api/v1/messages").header(HOST, "workstation.lan:8025");
            if let Some(origin) = origin {
                builder = builder.header(ORIGIN, origin);
            }
            builder.body(axum::body::Body::empty()).unwrap()
        };
        assert!(admit(&request(Method::GET, None), false).is_err());
        assert!(admit(&request(Method::GET, None), true).is_ok());
        assert!(admit(&request(Method::DELETE, Some("http://workstation.lan:8025")), true).is_ok());
        assert!(admit(&request(Method::DELETE, Some("https://evil.example")), true).is_err());
    }

    /// Form and text bodies are refused on writes with no Origin at all (an old
    /// browser's CSRF); JSON, mail files and bodiless writes pass; reads are not
    /// looked at.
    #[test]
    fn form_bodies_are_refused_on_writes() {
        let request = |method: Method, content_type: Option<&str>| {
            let mut builder = Request::builder().method(method).uri("/api/v1/send").header(HOST, "localhost:8025");
            if let Some(content_type) = content_type {
                builder = builder.header(CONTENT_TYPE, content_type);
            }
            builder.body(axum::body::Body::empty()).unwrap()
        };
        for form in [
            "text/plain",
            "Text/Plain;charset=UTF-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ] {
            for method in [Method::POST, Method::PUT, Method::DELETE] {
                let refused = admit(&request(method.clone(), Some(form)), false).unwrap_err();
                assert_eq!(refused.into_response().status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{method} {form}");
            }
            assert!(admit(&request(Method::GET, Some(form)), false).is_ok());
        }
        for allowed in [
            Some("application/json"),
            Some("application/json; charset=utf-8"),
            Some("message/rfc822"),
            Some("application/mbox"),
            None,
        ] {
            assert!(admit(&request(Method::POST, allowed), false).is_ok(), "{allowed:?}");
        }
    }

    #[test]
    fn origins() {
        assert!(origin_allowed("http://127.0.0.1:8025", "127.0.0.1:8025"));
        assert!(origin_allowed("http://localhost:5173", "127.0.0.1:8025"));
        assert!(origin_allowed("tauri://localhost", "127.0.0.1:8025"));
        assert!(origin_allowed("http://[::1]:8025", "[::1]:8025"));
        assert!(!origin_allowed("null", "127.0.0.1:8025"));
        assert!(!origin_allowed("https://evil.example", "127.0.0.1:8025"));
        assert!(!origin_allowed("http://127.0.0.1.evil.example", "127.0.0.1:8025"));
        assert!(!origin_allowed("http://127.0.0.1:8025.evil.example", "127.0.0.1:8025"));
    }
}
