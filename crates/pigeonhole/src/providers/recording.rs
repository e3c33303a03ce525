//! A provider request as the envelope keeps it (`ApiRequest.request`), in place of
//! an SMTP transcript: the request line, the headers, a blank line and the body.
//! Credential headers keep only their scheme and a short prefix, so the message
//! view can show which key was used without showing the key; a long body is cut.

use std::fmt::Write as _;

use axum::http::request::Parts;

/// Headers that carry secrets.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-postmark-server-token",
    "x-postmark-account-token",
    "x-amz-security-token",
    "cookie",
    "set-cookie",
];

/// Body bytes kept; attachments past this say nothing a reader needs.
const BODY_KEPT: usize = 64 * 1024;

/// A secret keeps this many characters of its start, when it is long enough for
/// them to say which key it is and nothing about the rest.
const PREFIX_KEPT: usize = 4;

/// The request as text, secrets masked, the body cut at [`BODY_KEPT`] bytes.
/// Written into one buffer sized for it up front (this runs for every send), so
/// a body of a few KiB is not copied again each time the buffer grows.
pub fn request(parts: &Parts, body: &[u8]) -> String {
    let kept = &body[..body.len().min(BODY_KEPT)];
    let headers: usize = parts.headers.iter().map(|(name, value)| name.as_str().len() + value.len() + 3).sum();
    let mut text = String::with_capacity(256 + headers + kept.len());
    let _ = writeln!(text, "{} {} {:?}", parts.method, parts.uri, parts.version);
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        text.push_str(name.as_str());
        text.push_str(": ");
        if SECRET_HEADERS.contains(&name.as_str()) {
            text.push_str(&mask(&value));
        } else {
            text.push_str(&value);
        }
        text.push('\n');
    }
    text.push('\n');
    text.push_str(&String::from_utf8_lossy(kept));
    if body.len() > BODY_KEPT {
        let _ = write!(text, "\n… (the body is cut here: {BODY_KEPT} of its {} bytes are kept)", body.len());
    }
    text
}

/// A secret header's value as kept: its scheme (`Bearer`, `Basic`,
/// `AWS4-HMAC-SHA256`) if it has one, the first few characters of a long secret,
/// then `…`.
fn mask(value: &str) -> String {
    let value = value.trim();
    let (scheme, secret) = match value.split_once(' ') {
        Some((scheme, secret)) if scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => {
            (format!("{scheme} "), secret.trim())
        }
        _ => (String::new(), value),
    };
    let prefix: String = if secret.chars().count() >= 4 * PREFIX_KEPT {
        secret.chars().take(PREFIX_KEPT).collect()
    } else {
        String::new()
    };
    format!("{scheme}{prefix}…")
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut request = Request::builder().method("POST").uri("/v3/mail/send?x=1");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn masks_credentials_and_keeps_the_rest() {
        let parts = parts(&[
            ("Authorization", "Bearer SG.abcdefghijkl.mnopqrstuvwxyz0123456789"),
            ("X-Postmark-Server-Token", "0f3c9a2e-1b4d-4c6e-8f00-123456789abc"),
            ("Cookie", "session=short"),
            ("Content-Type", "application/json"),
        ]);
        let text = request(&parts, br#"{"subject":"Hi"}"#);
        assert_eq!(
            text,
            "POST /v3/mail/send?x=1 HTTP/1.1\n\
             authorization: Bearer SG.a…\n\
             x-postmark-server-token: 0f3c…\n\
             cookie: …\n\
             content-type: application/json\n\
             \n\
             {\"subject\":\"Hi\"}"
        );
        assert!(!text.contains("mnopq") && !text.contains("short"));
    }

    #[test]
    fn cuts_long_bodies() {
        let body = vec![b'a'; BODY_KEPT + 10];
        let text = request(&parts(&[]), &body);
        let kept = &text[text.find("\n\n").unwrap() + 2..];
        let note = format!("\n… (the body is cut here: {BODY_KEPT} of its {} bytes are kept)", body.len());
        assert_eq!(kept, format!("{}{note}", "a".repeat(BODY_KEPT)));
    }

    #[test]
    fn masks_a_scheme_alone_and_odd_values() {
        assert_eq!(mask("Basic YXBpOmtleS0xMjM0NTY3ODkw"), "Basic YXBp…");
        assert_eq!(mask("Bearer x"), "Bearer …");
        assert_eq!(mask("no=scheme and a long value"), "no=s…");
    }
}
