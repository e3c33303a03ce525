//! SendGrid's v3 Mail Send API, `POST /v3/mail/send`, as `@sendgrid/mail` calls
//! it: `Authorization: Bearer <API key>`, a JSON body, and `202 Accepted` with an
//! empty body and the message's ID in `X-Message-Id`.
//!
//! Each personalization is one message, as SendGrid sends one per
//! personalization; its `to`, `cc` and `bcc` are the envelope's recipients (the
//! message has no `Bcc` header, as delivered mail has none), and its `from`,
//! `subject`, `headers`, `custom_args` and `send_at` replace the message's own.
//! What SendGrid would do with the mail rather than put in it is kept as headers
//! for the reader: `categories` as `X-Tags` (so they are Pigeonhole tags too),
//! `custom_args` as `X-SendGrid-Custom-Args` (JSON), `send_at` as
//! `X-SendGrid-Send-At`, `template_id` and `dynamic_template_data` as
//! `X-SendGrid-Template-Id` and `X-SendGrid-Template-Data` (JSON). With a templates
//! folder ([`super::templates`]) a dynamic template is rendered with each
//! personalization's `dynamic_template_data`, as SendGrid does: its subject, HTML
//! and text replace the request's; without one the message keeps the request's
//! content. Legacy `substitutions` are not applied. Content types other than
//! `text/plain` and `text/html` are left out. With
//! `mail_settings.sandbox_mode.enable` the request is checked and answered `200`,
//! and nothing is stored, as SendGrid sends nothing.
//!
//! Errors are SendGrid's: `{"errors":[{"message","field","help"}]}` with its
//! message texts where they are documented, the first problem found.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use lettre::message::Mailbox;
use serde::Deserialize;
use serde_json::{Value, json};

use super::draft::{self, Built, Draft, DraftAttachment};
use super::templates::Templates;
use super::{Call, Credential, Provider, ProviderError, ProviderState, Refusal, bearer_token};

/// SendGrid's limit on a request, attachments included.
const MAX_REQUEST: usize = 30 * 1024 * 1024;

/// SendGrid's limit on personalizations per request, and on recipients (to, cc
/// and bcc together) per personalization.
const MAX_PERSONALIZATIONS: usize = 1000;
const MAX_RECIPIENTS: usize = 1000;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MailSend {
    personalizations: Vec<Personalization>,
    from: Option<EmailObject>,
    reply_to: Option<EmailObject>,
    reply_to_list: Vec<EmailObject>,
    subject: Option<String>,
    content: Vec<Content>,
    attachments: Vec<Attachment>,
    template_id: Option<String>,
    headers: BTreeMap<String, String>,
    categories: Vec<String>,
    custom_args: BTreeMap<String, Value>,
    send_at: Option<i64>,
    mail_settings: MailSettings,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Personalization {
    to: Vec<EmailObject>,
    cc: Vec<EmailObject>,
    bcc: Vec<EmailObject>,
    from: Option<EmailObject>,
    subject: Option<String>,
    headers: BTreeMap<String, String>,
    custom_args: BTreeMap<String, Value>,
    send_at: Option<i64>,
    dynamic_template_data: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct EmailObject {
    email: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Content {
    r#type: String,
    value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Attachment {
    content: Option<String>,
    filename: Option<String>,
    r#type: Option<String>,
    disposition: Option<String>,
    content_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MailSettings {
    sandbox_mode: Switch,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Switch {
    enable: bool,
}

/// A request, checked: one message per personalization.
#[derive(Debug)]
struct Checked {
    messages: Vec<Built>,
    sandbox: bool,
}

/// `POST /v3/mail/send`.
pub async fn send(State(state): State<ProviderState>, parts: Parts, body: Body) -> Result<Response, ProviderError> {
    let (call, body) = Call::admit(&state, Provider::SendGrid, &parts, body, MAX_REQUEST, credential(&parts))
        .await
        .map_err(refused)?;
    let checked = check(&body, &state.templates)?;
    if checked.sandbox {
        return Ok(StatusCode::OK.into_response());
    }
    let message_id = URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes());
    // One request, one answer: every personalization's message is stored, or none.
    let messages = checked.messages.into_iter().map(|message| (message, message_id.clone())).collect();
    call.submit_all(&state, messages).await.map_err(refused)?;
    Ok((StatusCode::ACCEPTED, [("X-Message-Id", message_id)]).into_response())
}

/// The API key of `Authorization: Bearer`, named by its ID (`SG.<id>.<secret>`).
fn credential(parts: &Parts) -> Option<Credential> {
    let key = bearer_token(&parts.headers)?;
    Some(match key.split('.').collect::<Vec<_>>()[..] {
        ["SG", id, secret] if !id.is_empty() && !secret.is_empty() => Credential::named(key, format!("SG.{id}")),
        _ => Credential::fingerprinted(key),
    })
}

/// SendGrid's error body, with one error.
fn error(status: StatusCode, message: impl Into<String>, field: Option<&str>) -> ProviderError {
    ProviderError::json(status, json!({"errors": [{"message": message.into(), "field": field, "help": null}]}))
}

fn invalid(message: impl Into<String>, field: impl AsRef<str>) -> ProviderError {
    error(StatusCode::BAD_REQUEST, message, Some(field.as_ref()))
}

fn refused(refusal: Refusal) -> ProviderError {
    match refusal {
        Refusal::Dropped => ProviderError::dropped(),
        // SendGrid answers a missing and a wrong key alike.
        Refusal::MissingCredential | Refusal::UnknownCredential => {
            error(StatusCode::UNAUTHORIZED, "The provided authorization grant is invalid, expired, or revoked", None)
        }
        Refusal::Body { status: StatusCode::PAYLOAD_TOO_LARGE, .. } => error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "The JSON payload you have included in your request is too large (the limit is {MAX_REQUEST} bytes)."
            ),
            None,
        ),
        // SendGrid's client errors are 400s.
        refusal @ Refusal::Simulated { .. } if refusal.status().is_client_error() => {
            error(StatusCode::BAD_REQUEST, refusal.to_string(), None)
        }
        refusal => error(refusal.status(), refusal.to_string(), None),
    }
}

/// The body read and checked as SendGrid does, built into messages.
fn check(body: &[u8], templates: &Templates) -> Result<Checked, ProviderError> {
    let mut request: MailSend = serde_json::from_slice(body).map_err(|err| match err.classify() {
        serde_json::error::Category::Data => error(StatusCode::BAD_REQUEST, format!("Invalid type: {err}"), None),
        _ => error(StatusCode::BAD_REQUEST, "Bad Request", None),
    })?;
    if request.personalizations.is_empty() {
        return Err(invalid(
            "The personalizations field is required and must have at least one personalization.",
            "personalizations",
        ));
    }
    if request.personalizations.len() > MAX_PERSONALIZATIONS {
        return Err(invalid(
            format!("The personalizations field must not have more than {MAX_PERSONALIZATIONS} personalizations."),
            "personalizations",
        ));
    }
    let templated = request.template_id.as_deref().is_some_and(|id| !id.trim().is_empty());
    let template = match request.template_id.as_deref().filter(|_| templated) {
        Some(id) => templates.stored(id).map_err(|err| invalid(format!("{err}."), "template_id"))?,
        None => None,
    };
    let (text, html) = content(std::mem::take(&mut request.content));
    if !templated && text.is_none() && html.is_none() {
        return Err(invalid(
            "Unless a valid template_id is provided, the content parameter is required. There must be at least one \
             defined content block. We typically suggest both text/plain and text/html blocks are included, but only \
             one block is required.",
            "content",
        ));
    }
    let reply_to = request
        .reply_to
        .iter()
        .map(|address| (address, "reply_to.email".to_string()))
        .chain(request.reply_to_list.iter().enumerate().map(|(i, a)| (a, format!("reply_to_list.{i}.email"))))
        .map(|(address, field)| mailbox(address, &field, "The reply_to email does not contain a valid address."))
        .collect::<Result<Vec<_>, _>>()?;
    let attachments = attachments(&request.attachments)?;
    let mut messages = Vec::with_capacity(request.personalizations.len());
    for (i, personalization) in request.personalizations.iter().enumerate() {
        let from = personalization.from.as_ref().or(request.from.as_ref());
        let from = match from {
            Some(from) if from.email.as_deref().is_some_and(|email| !email.trim().is_empty()) => {
                mailbox(from, "from.email", "The from email does not contain a valid address.")?
            }
            _ => {
                return Err(invalid(
                    "The from object must be provided for every email send. It is an object that requires the email \
                     parameter, but may also contain a name parameter.  e.g. {\"email\" : \"example@example.com\"}  or \
                     {\"email\" : \"example@example.com\", \"name\" : \"Example Recipient\"}.",
                    "from.email",
                ));
            }
        };
        let subject = personalization.subject.as_ref().or(request.subject.as_ref());
        if subject.is_none_or(|subject| subject.is_empty()) && !templated {
            return Err(invalid(
                "The subject is required. You can get around this requirement if you use a template with a subject \
                 defined or if every personalization has a subject defined.",
                "subject",
            ));
        }
        if personalization.to.is_empty() {
            return Err(invalid(
                "The to array is required for all personalization objects, and must have at least one email object \
                 with a valid email address.",
                format!("personalizations.{i}.to"),
            ));
        }
        let recipients = personalization.to.len() + personalization.cc.len() + personalization.bcc.len();
        if recipients > MAX_RECIPIENTS {
            return Err(invalid(
                format!(
                    "The total number of recipients must be no more than {MAX_RECIPIENTS} per personalization; this \
                     one has {recipients}."
                ),
                format!("personalizations.{i}"),
            ));
        }
        let list = |kind: &str, addresses: &[EmailObject]| {
            addresses
                .iter()
                .enumerate()
                .map(|(j, address)| {
                    mailbox(
                        address,
                        &format!("personalizations.{i}.{kind}.{j}.email"),
                        "Does not contain a valid address.",
                    )
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let rendered = match &template {
            Some(template) => Some(
                template
                    .render(personalization.dynamic_template_data.as_ref().unwrap_or(&Value::Null))
                    .map_err(|err| invalid(format!("The template_id's template failed: {err}."), "template_id"))?,
            ),
            None => None,
        };
        let (subject, text, html) = match rendered {
            // The template's parts replace the request's; a part it lacks is the request's.
            Some(rendered) => (
                rendered.subject.or_else(|| subject.cloned()),
                rendered.text.or_else(|| text.clone()),
                rendered.html.or_else(|| html.clone()),
            ),
            None => (subject.cloned(), text.clone(), html.clone()),
        };
        let subject = draft::subject(subject.as_deref().unwrap_or(""))
            .map_err(|err| invalid(format!("The subject is invalid: {err}."), "subject"))?;
        let draft = Draft {
            from: Some(from),
            to: list("to", &personalization.to)?,
            cc: list("cc", &personalization.cc)?,
            bcc: list("bcc", &personalization.bcc)?,
            reply_to: reply_to.clone(),
            subject,
            text,
            html,
            attachments: attachments.clone(),
            headers: headers(&request, personalization)?,
            added_headers: Vec::new(),
            tags: request.categories.clone(),
            keep_bcc: false,
            return_path: true,
        };
        messages.push(draft.build().map_err(|err| error(StatusCode::BAD_REQUEST, err, None))?);
    }
    Ok(Checked { messages, sandbox: request.mail_settings.sandbox_mode.enable })
}

/// The text and HTML of `content`: the first block of each type.
fn content(blocks: Vec<Content>) -> (Option<String>, Option<String>) {
    let (mut text, mut html) = (None, None);
    for block in blocks.into_iter().filter(|block| !block.value.is_empty()) {
        if text.is_none() && block.r#type.eq_ignore_ascii_case("text/plain") {
            text = Some(block.value);
        } else if html.is_none() && block.r#type.eq_ignore_ascii_case("text/html") {
            html = Some(block.value);
        }
    }
    (text, html)
}

fn mailbox(address: &EmailObject, field: &str, message: &str) -> Result<Mailbox, ProviderError> {
    let email = address.email.as_deref().unwrap_or_default();
    draft::mailbox(field, email, address.name.as_deref()).map_err(|_| invalid(message, field))
}

fn attachments(attachments: &[Attachment]) -> Result<Vec<DraftAttachment>, ProviderError> {
    let decode = |(i, attachment): (usize, &Attachment)| {
        let field = |name: &str| format!("attachments.{i}.{name}");
        let content = attachment
            .content
            .as_deref()
            .filter(|content| !content.is_empty())
            .ok_or_else(|| invalid("The attachment content is required.", field("content")))?;
        let content = STANDARD
            .decode(content.trim())
            .map_err(|_| invalid("The attachment content must be base64 encoded.", field("content")))?;
        let filename = attachment
            .filename
            .clone()
            .filter(|name| !name.trim().is_empty())
            .ok_or_else(|| invalid("The attachment filename parameter is required.", field("filename")))?;
        let content_type = match attachment.r#type.as_deref().filter(|t| !t.trim().is_empty()) {
            Some(given) => Some(
                draft::content_type(given)
                    .ok_or_else(|| invalid("The attachment type must be a valid MIME type.", field("type")))?,
            ),
            None => None,
        };
        let inline = attachment.disposition.as_deref().is_some_and(|d| d.eq_ignore_ascii_case("inline"));
        let content_id = attachment.content_id.clone().filter(|cid| !cid.trim().is_empty());
        if inline && content_id.is_none() {
            return Err(invalid(
                "The content_id parameter is required if disposition is set to inline.",
                field("content_id"),
            ));
        }
        Ok(DraftAttachment { filename, content, content_type, content_id: content_id.filter(|_| inline) })
    };
    attachments.iter().enumerate().map(decode).collect()
}

/// The message's headers, then the personalization's (which replace them), then
/// what SendGrid would act on, kept for the reader.
fn headers(
    request: &MailSend,
    personalization: &Personalization,
) -> Result<Vec<lettre::message::header::HeaderValue>, ProviderError> {
    let header = |name: &str, value: &str| {
        draft::header(name, value).map_err(|err| invalid(format!("The headers field is invalid: {err}."), "headers"))
    };
    let mut headers = request
        .headers
        .iter()
        .chain(&personalization.headers)
        .map(|(name, value)| header(name, value))
        .collect::<Result<Vec<_>, _>>()?;
    let mut custom_args = request.custom_args.clone();
    custom_args.extend(personalization.custom_args.clone());
    if !custom_args.is_empty() {
        headers.push(header("X-SendGrid-Custom-Args", &serde_json::to_string(&custom_args).expect("JSON"))?);
    }
    if let Some(send_at) = personalization.send_at.or(request.send_at) {
        headers.push(header("X-SendGrid-Send-At", &send_at.to_string())?);
    }
    if let Some(template_id) = &request.template_id {
        headers.push(header("X-SendGrid-Template-Id", template_id)?);
    }
    if let Some(data) = &personalization.dynamic_template_data {
        headers.push(header("X-SendGrid-Template-Data", &data.to_string())?);
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::detail;

    fn checked(body: Value) -> Result<Checked, Value> {
        check(body.to_string().as_bytes(), &Templates::default()).map_err(|err| {
            let json: Value = serde_json::from_str(err.body()).unwrap();
            json!({"status": err.status.as_u16(), "error": json["errors"][0]})
        })
    }

    #[test]
    fn a_dynamic_template_is_rendered_per_personalization() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("d-welcome.subject"), "Welcome, {{name}}").unwrap();
        std::fs::write(dir.path().join("d-welcome.html"), "<p>Hi {{name}}</p>").unwrap();
        let templates = Templates::new(Some(dir.path().to_path_buf()));
        let body = json!({
            "personalizations": [
                {"to": [{"email": "ann@example.test"}], "dynamic_template_data": {"name": "Ann & Co"}},
                {"to": [{"email": "bob@example.test"}], "dynamic_template_data": {"name": "Bob"}},
            ],
            "from": {"email": "app@example.test"},
            "template_id": "d-welcome",
        });
        let checked = check(body.to_string().as_bytes(), &templates).unwrap();
        let parsed: Vec<_> =
            checked.messages.iter().map(|m| mail_parser::MessageParser::default().parse(&m.raw).unwrap()).collect();
        assert_eq!(parsed[0].subject(), Some("Welcome, Ann & Co"));
        assert_eq!(parsed[0].body_html(0).as_deref().map(str::trim_end), Some("<p>Hi Ann &amp; Co</p>"));
        assert_eq!(parsed[1].subject(), Some("Welcome, Bob"));

        let unknown = json!({
            "personalizations": [{"to": [{"email": "ann@example.test"}]}],
            "from": {"email": "app@example.test"},
            "template_id": "d-missing",
        });
        let Err(refused) = check(unknown.to_string().as_bytes(), &templates) else { panic!("refused") };
        let error: Value = serde_json::from_str(refused.body()).unwrap();
        assert_eq!(error["errors"][0]["field"], "template_id");
        assert!(error["errors"][0]["message"].as_str().unwrap().contains("add d-missing.html"), "{error}");
    }

    fn minimal() -> Value {
        json!({
            "personalizations": [{"to": [{"email": "ann@example.test"}]}],
            "from": {"email": "app@example.test"},
            "subject": "Hi",
            "content": [{"type": "text/plain", "value": "Hello"}],
        })
    }

    #[test]
    fn takes_the_first_non_empty_block_of_each_content_type() {
        let blocks: Vec<Content> = serde_json::from_value(json!([
            {"type": "text/plain", "value": ""},
            {"type": "application/json", "value": "{}"},
            {"type": "TEXT/PLAIN", "value": "first"},
            {"type": "text/plain", "value": "second"},
            {"type": "text/html", "value": "<p>first</p>"},
            {"type": "text/html", "value": "<p>second</p>"},
        ]))
        .unwrap();
        assert_eq!(content(blocks), (Some("first".to_string()), Some("<p>first</p>".to_string())));
        assert_eq!(content(Vec::new()), (None, None));
    }

    #[test]
    fn builds_one_message_per_personalization() {
        let body = json!({
            "personalizations": [
                {
                    "to": [{"email": "ann@example.test", "name": "Ann"}],
                    "cc": [{"email": "cc@example.test"}],
                    "bcc": [{"email": "hidden@example.test"}],
                    "headers": {"X-Campaign": "personal"},
                    "custom_args": {"user": "7"},
                    "dynamic_template_data": {"name": "Ann"},
                },
                {"to": [{"email": "bob@example.test"}], "subject": "Hi Bob", "from": {"email": "other@example.test"}},
            ],
            "from": {"email": "app@example.test", "name": "App"},
            "reply_to": {"email": "help@example.test"},
            "subject": "Hi",
            "content": [{"type": "text/plain", "value": "Hello"}, {"type": "text/html", "value": "<p>Hello <img src=\"cid:logo\"></p>"}],
            "attachments": [
                {"content": "iVBORw0KGgo=", "filename": "logo.png", "type": "image/png", "disposition": "inline", "content_id": "logo"},
                {"content": "JVBERi0xLjQK", "filename": "a.pdf"},
            ],
            "headers": {"X-Campaign": "spring", "X-Other": "1"},
            "categories": ["welcome", "onboarding"],
            "custom_args": {"order": 42},
            "send_at": 1700000000,
        });
        let checked = checked(body).unwrap();
        assert!(!checked.sandbox);
        let [first, second] = &checked.messages[..] else { panic!("two messages") };
        assert_eq!(first.mail_from, "app@example.test");
        assert_eq!(first.rcpt_to, ["ann@example.test", "cc@example.test", "hidden@example.test"]);
        let headers = detail::headers(&first.raw);
        assert_eq!(headers["Subject"], ["Hi"]);
        assert!(!headers.contains_key("Bcc"), "delivered mail has no Bcc header");
        assert_eq!(headers["Reply-To"], ["help@example.test"]);
        assert_eq!(headers["X-Campaign"], ["personal"]);
        assert_eq!(headers["X-Other"], ["1"]);
        assert_eq!(headers["X-Tags"], ["welcome, onboarding"]);
        assert_eq!(headers["X-Sendgrid-Custom-Args"], [r#"{"order":42,"user":"7"}"#]);
        assert_eq!(headers["X-Sendgrid-Send-At"], ["1700000000"]);
        assert_eq!(headers["X-Sendgrid-Template-Data"], [r#"{"name":"Ann"}"#]);
        let (_, content_ids) = detail::html_body_and_content_ids(&first.raw).unwrap();
        assert_eq!(content_ids, [("logo".to_string(), "1.2".to_string())]);
        assert_eq!(detail::part(&first.raw, "2").unwrap().body, b"%PDF-1.4\n");

        assert_eq!(
            (second.mail_from.as_str(), &second.rcpt_to[..]),
            ("other@example.test", &["bob@example.test".to_string()][..])
        );
        assert_eq!(detail::headers(&second.raw)["Subject"], ["Hi Bob"]);
    }

    #[test]
    fn sandbox_mode_is_checked_and_kept() {
        let mut body = minimal();
        body["mail_settings"] = json!({"sandbox_mode": {"enable": true}});
        assert!(checked(body).unwrap().sandbox);
        let mut body = minimal();
        body["mail_settings"] = json!({"sandbox_mode": {"enable": true}});
        body["from"] = json!({});
        assert!(checked(body).is_err(), "sandbox requests are validated too");
    }

    #[test]
    fn errors_are_sendgrids() {
        let with = |change: fn(&mut Value)| {
            let mut body = minimal();
            change(&mut body);
            checked(body).expect_err("refused")
        };
        // A change to a valid request, the field SendGrid names, words of its message.
        type Case = (fn(&mut Value), &'static str, &'static str);
        let cases: [Case; 12] = [
            (|b| b["from"] = json!({}), "from.email", "The from object must be provided"),
            (|b| b["from"] = json!({"email": "nope"}), "from.email", "does not contain a valid address"),
            (|b| b["personalizations"] = json!([]), "personalizations", "at least one personalization"),
            (|b| b["personalizations"][0]["to"] = json!([]), "personalizations.0.to", "The to array is required"),
            (
                |b| b["personalizations"][0]["to"][0]["email"] = json!("x@"),
                "personalizations.0.to.0.email",
                "Does not contain a valid address.",
            ),
            (|b| b["subject"] = json!(""), "subject", "The subject is required"),
            (|b| b["content"] = json!([]), "content", "the content parameter is required"),
            (
                |b| b["attachments"] = json!([{"content": "not base64!", "filename": "a.txt"}]),
                "attachments.0.content",
                "must be base64 encoded",
            ),
            (
                |b| b["attachments"] = json!([{"content": "AA==", "filename": "a.png", "disposition": "inline"}]),
                "attachments.0.content_id",
                "content_id parameter is required",
            ),
            (|b| b["headers"] = json!({"X-A": "a\r\nBcc: x@example.test"}), "headers", "line breaks"),
            (|b| b["headers"] = json!({"Bad Name": "x"}), "headers", "invalid header name"),
            (|b| b["subject"] = json!("Hi\r\nBcc: x@example.test"), "subject", "line breaks"),
        ];
        for (change, field, message) in cases {
            let error = with(change);
            assert_eq!(error["status"], 400, "{error}");
            let text = error["error"]["message"].as_str().unwrap();
            assert!(text.contains(message), "{field}: {text}");
            assert_eq!(error["error"]["field"], field);
            assert_eq!(error["error"]["help"], Value::Null);
        }
    }

    #[test]
    fn ten_thousand_recipients_are_refused() {
        let mut body = minimal();
        let to: Vec<Value> = (0..10_000).map(|i| json!({"email": format!("r{i}@example.test")})).collect();
        body["personalizations"][0]["to"] = Value::Array(to);
        let error = checked(body).unwrap_err();
        assert_eq!(error["error"]["field"], "personalizations.0");
        assert!(error["error"]["message"].as_str().unwrap().contains("this one has 10000"));
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        for body in [&b"{"[..], b"not json", b"[1]", br#"{"personalizations": "x"}"#] {
            let err = check(body, &Templates::default()).expect_err("refused");
            assert_eq!(err.status, StatusCode::BAD_REQUEST);
            let json: Value = serde_json::from_str(err.body()).unwrap();
            assert_eq!(json["errors"][0]["field"], Value::Null, "{json}");
        }
    }
}
