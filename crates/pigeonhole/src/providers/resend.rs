//! Resend's email API, `POST /emails` and `POST /emails/batch`, as the `resend`
//! SDK calls it: `Authorization: Bearer re_…`, a JSON message (an array of up to
//! 100 for a batch), and `200` with `{"id"}` (`{"data": [{"id"}…]}` for a batch).
//!
//! Addresses are written as in a header (`Name <a@example.com>`); `to`, `cc`, `bcc`
//! and `reply_to` take one or a list. Bcc recipients are in the envelope only.
//! `tags` become an `X-Resend-Tags` header (`name=value, …`) and their values
//! Pigeonhole tags; `scheduled_at` is kept as `X-Resend-Scheduled-At` (the message
//! is stored at once). An attachment given by `path` (a URL Resend would fetch) is
//! never fetched: it is attached as a `text/uri-list` naming the URL. A batch is
//! checked whole before any of it is stored, and stored whole or not at all, as
//! Resend's strict batches are. A `template` (`{id, variables}`, in place of `html`
//! and `text`) is the copy of that template in `--provider-templates`
//! ([`super::templates`]) rendered with the variables (Resend writes them
//! `{{{NAME}}}`); the request's `subject` wins over the template's.
//!
//! Errors are Resend's `{statusCode, name, message}`: 401 `missing_api_key`, 403
//! `invalid_api_key`, 422 `missing_required_field`, `invalid_from_address`,
//! `invalid_attachment` or `validation_error`, 429 `rate_limit_exceeded`.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use lettre::message::Mailbox;
use serde::Deserialize;
use serde_json::{Value, json};

use super::draft::{self, Built, Draft, DraftAttachment};
use super::templates::Templates;
use super::{Call, Credential, Provider, ProviderError, ProviderState, Refusal, bearer_token};
use crate::store::SubmitError;

/// Resend's limit on a request (40 MB of email after base64).
const MAX_REQUEST: usize = 40 * 1024 * 1024;
/// Emails per batch, and recipients per field.
const MAX_BATCH: usize = 100;
const MAX_RECIPIENTS: usize = 50;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Email {
    from: Option<String>,
    to: Option<OneOrMany>,
    cc: Option<OneOrMany>,
    bcc: Option<OneOrMany>,
    reply_to: Option<OneOrMany>,
    subject: Option<String>,
    html: Option<String>,
    text: Option<String>,
    headers: BTreeMap<String, String>,
    attachments: Vec<Attachment>,
    tags: Vec<Tag>,
    scheduled_at: Option<String>,
    template: Option<TemplateRef>,
}

/// A stored template to send, and the values of its variables.
#[derive(Debug, Deserialize)]
struct TemplateRef {
    id: String,
    #[serde(default)]
    variables: Value,
}

/// An address field: one address or a list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Attachment {
    content: Option<String>,
    filename: Option<String>,
    path: Option<String>,
    content_type: Option<String>,
    content_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Tag {
    name: String,
    value: String,
}

/// A problem with a request: Resend's error name and message, answered 422.
#[derive(Debug, PartialEq)]
struct Invalid {
    name: &'static str,
    message: String,
}

fn invalid(name: &'static str, message: impl Into<String>) -> Invalid {
    Invalid { name, message: message.into() }
}

/// `POST /emails`.
pub async fn send(State(state): State<ProviderState>, parts: Parts, body: Body) -> Result<Json<Value>, ProviderError> {
    let (call, body) =
        Call::admit(&state, Provider::Resend, &parts, body, MAX_REQUEST, credential(&parts)).await.map_err(refused)?;
    let email: Email = serde_json::from_slice(&body).map_err(|err| unprocessable(request_error(&err)))?;
    let built = check(email, &state.templates).map_err(unprocessable)?;
    let id = uuid::Uuid::new_v4().to_string();
    call.submit(&state, built, &id).await.map_err(refused)?;
    Ok(Json(json!({"id": id})))
}

/// `POST /emails/batch`: all checked, then all stored or none.
pub async fn batch(State(state): State<ProviderState>, parts: Parts, body: Body) -> Result<Json<Value>, ProviderError> {
    let (call, body) =
        Call::admit(&state, Provider::Resend, &parts, body, MAX_REQUEST, credential(&parts)).await.map_err(refused)?;
    let emails: Vec<Email> = serde_json::from_slice(&body).map_err(|err| unprocessable(request_error(&err)))?;
    if emails.len() > MAX_BATCH {
        return Err(unprocessable(invalid(
            "validation_error",
            format!("A batch may hold at most {MAX_BATCH} emails; this one has {}.", emails.len()),
        )));
    }
    let built = emails
        .into_iter()
        .enumerate()
        .map(|(i, email)| {
            check(email, &state.templates).map_err(|err| invalid(err.name, format!("emails[{i}]: {}", err.message)))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(unprocessable)?;
    // A strict batch succeeds or fails whole: all of it is stored, or none.
    let messages: Vec<(Built, String)> =
        built.into_iter().map(|message| (message, uuid::Uuid::new_v4().to_string())).collect();
    let data = messages.iter().map(|(_, id)| json!({"id": id})).collect::<Vec<_>>();
    call.submit_all(&state, messages).await.map_err(refused)?;
    Ok(Json(json!({"data": data})))
}

/// The API key of `Authorization: Bearer`, named by its ID (`re_<id>_<secret>`).
fn credential(parts: &Parts) -> Option<Credential> {
    let key = bearer_token(&parts.headers)?;
    Some(match key.strip_prefix("re_").and_then(|rest| rest.split_once('_')) {
        Some((id, secret)) if !id.is_empty() && !secret.is_empty() => Credential::named(key, format!("re_{id}")),
        _ => Credential::fingerprinted(key),
    })
}

/// Resend's error body.
fn error(status: StatusCode, name: &str, message: impl Into<String>) -> ProviderError {
    ProviderError::json(status, json!({"statusCode": status.as_u16(), "name": name, "message": message.into()}))
}

fn unprocessable(invalid: Invalid) -> ProviderError {
    error(StatusCode::UNPROCESSABLE_ENTITY, invalid.name, invalid.message)
}

/// A body that is not JSON of the request's shape.
fn request_error(err: &serde_json::Error) -> Invalid {
    match err.classify() {
        serde_json::error::Category::Data => invalid("validation_error", format!("Invalid request: {err}")),
        _ => invalid("validation_error", "The request body is not valid JSON."),
    }
}

fn refused(refusal: Refusal) -> ProviderError {
    match refusal {
        Refusal::Dropped => ProviderError::dropped(),
        Refusal::MissingCredential => error(
            StatusCode::UNAUTHORIZED,
            "missing_api_key",
            "Missing API key in the authorization header. Include the following header 'Authorization: Bearer \
             YOUR_API_KEY' in the request.",
        ),
        Refusal::UnknownCredential => error(StatusCode::FORBIDDEN, "invalid_api_key", "API key is invalid"),
        Refusal::Body { status: StatusCode::PAYLOAD_TOO_LARGE, .. } => error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "validation_error",
            format!("The request is over Resend's limit of {MAX_REQUEST} bytes."),
        ),
        refusal @ Refusal::Store(SubmitError::Busy) => {
            error(StatusCode::TOO_MANY_REQUESTS, "rate_limit_exceeded", refusal.to_string())
        }
        refusal @ Refusal::Simulated { .. } if refusal.status().is_client_error() => {
            error(refusal.status(), "validation_error", refusal.to_string())
        }
        refusal => error(refusal.status(), "application_error", refusal.to_string()),
    }
}

/// One email checked as Resend checks it, rendered from its template if it names
/// one, and built.
fn check(mut email: Email, templates: &Templates) -> Result<Built, Invalid> {
    if let Some(template) = email.template.take() {
        if email.html.is_some() || email.text.is_some() {
            return Err(invalid(
                "validation_error",
                "Invalid `template` field: send either a `template` or `html`/`text`, not both.",
            ));
        }
        let rendered = templates
            .required(&template.id)
            .and_then(|stored| stored.render(&template.variables))
            .map_err(|err| invalid("validation_error", format!("Invalid `template` field: {err}.")))?;
        email.subject = email.subject.filter(|subject| !subject.is_empty()).or(rendered.subject);
        (email.html, email.text) = (rendered.html, rendered.text);
    }
    let from = email.from.filter(|from| !from.trim().is_empty()).ok_or_else(|| missing("from"))?;
    let from = draft::address("from", &from).map_err(|_| {
        invalid(
            "invalid_from_address",
            "Invalid `from` field. The email address needs to follow the `email@example.com` or `Name \
             <email@example.com>` format.",
        )
    })?;
    let to = addresses("to", email.to)?;
    if to.is_empty() {
        return Err(missing("to"));
    }
    let subject = email.subject.filter(|subject| !subject.is_empty()).ok_or_else(|| missing("subject"))?;
    let subject = draft::subject(&subject)
        .map_err(|err| invalid("validation_error", format!("Invalid `subject` field: {err}.")))?;
    let header = |name: &str, value: &str| {
        draft::header(name, value)
            .map_err(|err| invalid("validation_error", format!("Invalid `headers` field: {err}.")))
    };
    let mut headers = email.headers.iter().map(|(name, value)| header(name, value)).collect::<Result<Vec<_>, _>>()?;
    for tag in &email.tags {
        let valid = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid(&tag.name) || !valid(&tag.value) {
            return Err(invalid(
                "validation_error",
                "Invalid `tags` field. Tag names and values can only contain ASCII letters (a–z, A–Z), numbers \
                 (0–9), underscores (_), or dashes (-).",
            ));
        }
    }
    if !email.tags.is_empty() {
        let tags: Vec<String> = email.tags.iter().map(|tag| format!("{}={}", tag.name, tag.value)).collect();
        headers.push(header("X-Resend-Tags", &tags.join(", "))?);
    }
    if let Some(at) = email.scheduled_at.filter(|at| !at.trim().is_empty()) {
        headers.push(header("X-Resend-Scheduled-At", &at)?);
    }
    let draft = Draft {
        from: Some(from),
        to,
        cc: addresses("cc", email.cc)?,
        bcc: addresses("bcc", email.bcc)?,
        reply_to: addresses("reply_to", email.reply_to)?,
        subject,
        text: email.text,
        html: email.html,
        attachments: attachments(email.attachments)?,
        headers,
        added_headers: Vec::new(),
        tags: email.tags.into_iter().map(|tag| tag.value).collect(),
        keep_bcc: false,
        return_path: true,
    };
    draft.build().map_err(|err| invalid("validation_error", err))
}

fn missing(field: &str) -> Invalid {
    invalid("missing_required_field", format!("Missing `{field}` field."))
}

fn addresses(field: &str, given: Option<OneOrMany>) -> Result<Vec<Mailbox>, Invalid> {
    let list = match given {
        None => Vec::new(),
        Some(OneOrMany::One(address)) => vec![address],
        Some(OneOrMany::Many(addresses)) => addresses,
    };
    if list.len() > MAX_RECIPIENTS {
        return Err(invalid(
            "validation_error",
            format!("Invalid `{field}` field: at most {MAX_RECIPIENTS} addresses; this one has {}.", list.len()),
        ));
    }
    list.iter()
        .map(|address| {
            draft::address(field, address).map_err(|_| {
                invalid(
                    "validation_error",
                    format!(
                        "Invalid `{field}` field. The email address needs to follow the `email@example.com` or `Name \
                         <email@example.com>` format: {address}"
                    ),
                )
            })
        })
        .collect()
}

fn attachments(attachments: Vec<Attachment>) -> Result<Vec<DraftAttachment>, Invalid> {
    let decode = |(i, attachment): (usize, Attachment)| {
        let bad = |what: &str| invalid("invalid_attachment", format!("Invalid attachment {i}: {what}"));
        let (content, url_type) = match (attachment.content, attachment.path) {
            (Some(content), _) => {
                (STANDARD.decode(content.trim()).map_err(|_| bad("`content` is not valid base64."))?, None)
            }
            (None, Some(path)) => (format!("{path}\r\n").into_bytes(), draft::content_type("text/uri-list")),
            (None, None) => return Err(bad("Attachment must have either a `content` or `path`.")),
        };
        let filename =
            attachment.filename.filter(|name| !name.trim().is_empty()).ok_or_else(|| bad("`filename` is required."))?;
        let content_type = match (url_type, attachment.content_type.filter(|t| !t.trim().is_empty())) {
            (Some(url_type), _) => Some(url_type),
            (None, Some(given)) => {
                Some(draft::content_type(&given).ok_or_else(|| bad("`content_type` is not a media type."))?)
            }
            (None, None) => None,
        };
        Ok(DraftAttachment { filename, content, content_type, content_id: attachment.content_id })
    };
    attachments.into_iter().enumerate().map(decode).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::detail;

    fn email(json: Value) -> Result<Built, Invalid> {
        check(serde_json::from_value(json).unwrap(), &Templates::default())
    }

    #[test]
    fn a_template_is_rendered_with_its_variables() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("order-confirmation.subject"), "Order {{{PRODUCT}}}").unwrap();
        std::fs::write(dir.path().join("order-confirmation.html"), "<p>{{{PRODUCT}}}: {{{PRICE}}}</p>").unwrap();
        let templates = Templates::new(Some(dir.path().to_path_buf()));
        let send = |extra: Value| {
            let mut body = json!({"from": "app@example.test", "to": "ann@example.test",
                "template": {"id": "order-confirmation", "variables": {"PRODUCT": "Mac", "PRICE": 499}}});
            body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            check(serde_json::from_value(body).unwrap(), &templates)
        };
        let built = send(json!({})).unwrap();
        let headers = detail::headers(&built.raw);
        assert_eq!(headers["Subject"], ["Order Mac"]);
        let (html, _) = detail::html_body_and_content_ids(&built.raw).unwrap();
        assert!(html.contains("<p>Mac: 499</p>"), "{html}");
        let own_subject = send(json!({"subject": "Yours"})).unwrap();
        assert_eq!(detail::headers(&own_subject.raw)["Subject"], ["Yours"]);
        assert!(send(json!({"html": "<p>x</p>"})).unwrap_err().message.contains("not both"));
        let unknown = json!({"from": "app@example.test", "to": "ann@example.test", "template": {"id": "nope"}});
        let err = check(serde_json::from_value(unknown.clone()).unwrap(), &templates).unwrap_err();
        assert!(err.message.contains("add nope.html"), "{}", err.message);
        let err = check(serde_json::from_value(unknown).unwrap(), &Templates::default()).unwrap_err();
        assert!(err.message.contains("--provider-templates"), "{}", err.message);
    }

    fn minimal() -> Value {
        json!({"from": "app@example.test", "to": "ann@example.test", "subject": "Hi", "text": "Hello"})
    }

    #[test]
    fn builds_every_field() {
        let built = email(json!({
            "from": "App <app@example.test>",
            "to": ["Ann <ann@example.test>", "bob@example.test"],
            "cc": "cc@example.test",
            "bcc": ["hidden@example.test"],
            "reply_to": "help@example.test",
            "subject": "Welcome",
            "html": "<p>Hi <img src=\"cid:logo\"></p>",
            "text": "Hi",
            "headers": {"X-Entity-Ref-ID": "123"},
            "attachments": [
                {"content": "iVBORw0KGgo=", "filename": "logo.png", "content_id": "logo"},
                {"content": "JVBERi0xLjQK", "filename": "a.pdf", "content_type": "application/pdf"},
                {"path": "https://example.test/invoice.pdf", "filename": "invoice.pdf"},
            ],
            "tags": [{"name": "category", "value": "confirm_email"}],
            "scheduled_at": "in 1 min",
        }))
        .unwrap();
        assert_eq!(built.mail_from, "app@example.test");
        assert_eq!(built.rcpt_to, ["ann@example.test", "bob@example.test", "cc@example.test", "hidden@example.test"]);
        let headers = detail::headers(&built.raw);
        assert!(!headers.contains_key("Bcc"));
        assert_eq!(headers["X-Entity-Ref-Id"], ["123"]);
        assert_eq!(headers["X-Resend-Tags"], ["category=confirm_email"]);
        assert_eq!(headers["X-Tags"], ["confirm_email"]);
        assert_eq!(headers["X-Resend-Scheduled-At"], ["in 1 min"]);
        let (_, content_ids) = detail::html_body_and_content_ids(&built.raw).unwrap();
        assert_eq!(content_ids, [("logo".to_string(), "1.2".to_string())]);
        assert_eq!(detail::part(&built.raw, "2").unwrap().body, b"%PDF-1.4\n");
        let url = detail::part(&built.raw, "3").unwrap();
        assert_eq!(url.body, b"https://example.test/invoice.pdf\r\n");
    }

    #[test]
    fn errors_are_resends() {
        let with = |key: &str, value: Value| {
            let mut body = minimal();
            body[key] = value;
            email(body).expect_err("refused")
        };
        assert_eq!(with("from", Value::Null), invalid("missing_required_field", "Missing `from` field."));
        assert_eq!(with("from", json!("nope")).name, "invalid_from_address");
        assert_eq!(with("to", json!([])), invalid("missing_required_field", "Missing `to` field."));
        assert!(with("to", json!(["a@example.test", "x@"])).message.ends_with("format: x@"));
        assert_eq!(with("subject", json!("")).name, "missing_required_field");
        assert!(with("subject", json!("a\r\nBcc: x@example.test")).message.contains("line breaks"));
        assert!(with("headers", json!({"X-A": "a\r\nb"})).message.contains("line breaks"));
        assert!(with("headers", json!({"X A": "a"})).message.contains("invalid header name"));
        assert_eq!(with("tags", json!([{"name": "a b", "value": "c"}])).name, "validation_error");
        let bad = with("attachments", json!([{"content": "not base64!", "filename": "a.txt"}]));
        assert_eq!(bad, invalid("invalid_attachment", "Invalid attachment 0: `content` is not valid base64."));
        assert_eq!(with("attachments", json!([{"filename": "a.txt"}])).name, "invalid_attachment");
        let many: Vec<String> = (0..10_000).map(|i| format!("r{i}@example.test")).collect();
        assert!(with("to", json!(many)).message.contains("this one has 10000"));
    }

    #[test]
    fn refusals_are_resends() {
        let body = |err: ProviderError| -> Value { serde_json::from_str(err.body()).unwrap() };
        assert_eq!(body(refused(Refusal::MissingCredential))["name"], "missing_api_key");
        assert_eq!(
            body(refused(Refusal::UnknownCredential)),
            json!({"statusCode": 403, "name": "invalid_api_key", "message": "API key is invalid"})
        );
        let busy = body(refused(Refusal::Store(SubmitError::Busy)));
        assert_eq!((&busy["statusCode"], &busy["name"]), (&json!(429), &json!("rate_limit_exceeded")));
        for body in [&b"{"[..], b"\"x\"", br#"{"to": 1}"#] {
            let err = serde_json::from_slice::<Email>(body).unwrap_err();
            assert_eq!(request_error(&err).name, "validation_error");
        }
    }
}
