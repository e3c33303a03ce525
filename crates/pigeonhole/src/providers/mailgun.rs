//! Mailgun's send API: `POST /v3/{domain}/messages` (a message described by form
//! fields) and `POST /v3/{domain}/messages.mime` (a MIME message as given, with
//! its recipients in `to`). mailgun.js always sends `multipart/form-data`; curl
//! examples in Mailgun's documentation also send `x-www-form-urlencoded`, so both
//! are read into the same list of [`Field`]s.
//!
//! The fields map onto a [`Draft`] as Mailgun documents them: `to`, `cc` and
//! `bcc` repeat and each may hold a comma-separated list; `attachment` and
//! `inline` are files (an inline file's Content-ID is its file name, as Mailgun
//! makes it); `h:X-Name` is a header; `v:name` goes into the
//! `X-Mailgun-Variables` JSON header; each `o:tag` into an `X-Mailgun-Tag`
//! header of its own (as Mailgun delivers them) and into Pigeonhole's tags; `o:testmode` into `X-Mailgun-Drop-Message`, the header
//! Mailgun's SMTP side reads for test mode. With `recipient-variables` (batch
//! sending) each `to` recipient gets a message of its own with its
//! `%recipient.name%` placeholders filled in, as Mailgun delivers a batch. With
//! `template`, the stored template of that name (a copy in `--provider-templates`,
//! [`super::templates`]) is rendered with `t:variables`, else the `v:` variables.
//!
//! The credential is HTTP Basic `api:KEY`; the inbox is `mailgun:<domain>` (or
//! the name `--provider-keys` maps the key to). Answers are Mailgun's: 200
//! `{"id": "<…@domain>", "message": "Queued. Thank you."}`; 400 with
//! `{"message": …}` in Mailgun's words; 401 `Forbidden` in plain text for a
//! missing or unknown key.

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use lettre::message::{Mailbox, Mailboxes};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::draft::{self, Built, Draft, DraftAttachment};
use super::templates::{Template, Templates};
use super::{Call, Credential, Provider, ProviderError, ProviderState, Refusal};

/// Mailgun's answer to a request that is not a valid message.
pub const MISSING_FROM: &str = "from parameter is missing";
pub const MISSING_TO: &str = "to parameter is missing";
pub const MISSING_BODY: &str = "Need at least one of 'text' or 'html' parameters specified";
pub const MISSING_MESSAGE: &str = "message parameter is missing";
/// Mailgun refuses more recipients than this in one request.
pub const MAX_RECIPIENTS: usize = 1000;

/// One form field as sent: a text value, or a file with its name and type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    /// Set for a file part (`filename=` in its Content-Disposition).
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

impl Field {
    /// The value as text (a form's text fields are UTF-8).
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

/// The fields of an `application/x-www-form-urlencoded` body.
pub fn urlencoded_fields(body: &[u8]) -> Vec<Field> {
    form_urlencoded::parse(body)
        .map(|(name, value)| Field {
            name: name.into_owned(),
            data: value.into_owned().into_bytes(),
            ..Field::default()
        })
        .collect()
}

/// A `/messages` request read into drafts: one, or one per `to` recipient for a
/// batch send (`recipient-variables`). `message_id` becomes each message's
/// `Message-ID`, as Mailgun's answer names it, unless `h:Message-Id` sets one.
pub fn drafts(fields: &[Field], message_id: &str, templates: &Templates) -> Result<Vec<Draft>, String> {
    let message = Message::read(fields, templates)?;
    match &message.recipient_variables {
        None => Ok(vec![message.draft(message.to.clone(), None, message_id)?]),
        Some(variables) => message
            .to
            .iter()
            .map(|recipient| {
                let own = variables.get(&recipient.email.to_string()).and_then(Value::as_object);
                message.draft(vec![recipient.clone()], Some(own.cloned().unwrap_or_default()), message_id)
            })
            .collect(),
    }
}

/// A `/messages.mime` request: the MIME message (a file, or text as mailgun.js
/// sends a string) and the recipients `to` names.
pub fn mime(fields: &[Field]) -> Result<(Vec<u8>, Vec<String>), String> {
    let recipients = recipients(fields, "to")?;
    if recipients.is_empty() {
        return Err(MISSING_TO.into());
    }
    let message = fields.iter().find(|f| f.name == "message").ok_or(MISSING_MESSAGE)?;
    Ok((message.data.clone(), recipients.into_iter().map(|mailbox| mailbox.email.to_string()).collect()))
}

/// A Mailgun message ID for `domain`: `<time.random@domain>`, as Mailgun's own.
pub fn message_id(domain: &str, now: OffsetDateTime) -> String {
    let stamp = time::macros::format_description!("[year][month][day][hour][minute][second]");
    let time = now.format(&stamp).expect("the stamp formats every date");
    format!("<{time}.{:016x}@{domain}>", fastrand::u64(..))
}

/// Mailgun's limit on a request (its 25 MB message limit, with the form around it).
pub const MAX_REQUEST: usize = 25 * 1024 * 1024 + 64 * 1024;

/// Mailgun's answer to a message it took.
const QUEUED: &str = "Queued. Thank you.";

/// `POST /v3/{domain}/messages`: a message from form fields.
pub async fn messages(
    State(state): State<ProviderState>,
    Path(domain): Path<String>,
    parts: Parts,
    body: Body,
) -> Result<Json<Value>, ProviderError> {
    let (call, fields) = admit(&state, &domain, &parts, body).await?;
    let id = message_id(&domain, OffsetDateTime::now_utc());
    let built = drafts(&fields, &id, &state.templates)
        .and_then(|drafts| drafts.into_iter().map(Draft::build).collect::<Result<Vec<_>, _>>())
        .map_err(bad_request)?;
    // One request, one answer: every message of a batch is stored, or none.
    let messages = built.into_iter().map(|message| (message, id.clone())).collect();
    call.submit_all(&state, messages).await.map_err(refused)?;
    Ok(queued(&id))
}

/// `POST /v3/{domain}/messages.mime`: a MIME message as given.
pub async fn messages_mime(
    State(state): State<ProviderState>,
    Path(domain): Path<String>,
    parts: Parts,
    body: Body,
) -> Result<Json<Value>, ProviderError> {
    let (call, fields) = admit(&state, &domain, &parts, body).await?;
    let (raw, rcpt_to) = mime(&fields).map_err(bad_request)?;
    let (mail_from, _) = crate::archive::import::header_envelope(&raw);
    let id = message_id(&domain, OffsetDateTime::now_utc());
    call.submit(&state, Built { raw, mail_from, rcpt_to }, &id).await.map_err(refused)?;
    Ok(queued(&id))
}

/// The request's key checked and its form read.
async fn admit(
    state: &ProviderState,
    domain: &str,
    parts: &Parts,
    body: Body,
) -> Result<(Call, Vec<Field>), ProviderError> {
    let (call, body) = Call::admit(state, Provider::Mailgun, parts, body, MAX_REQUEST, credential(parts, domain))
        .await
        .map_err(refused)?;
    let fields = form_fields(parts, body).await?;
    Ok((call, fields))
}

/// Mailgun's credential: HTTP Basic `api:KEY`; the domain names the inbox.
fn credential(parts: &Parts, domain: &str) -> Option<Credential> {
    api_key(&parts.headers).map(|key| Credential::named(&key, domain.to_string()))
}

/// Whether the request carries Mailgun's credential (see [`super::takes_signed_form`]).
pub fn is_api_credential(headers: &HeaderMap) -> bool {
    api_key(headers).is_some()
}

/// The KEY of an `Authorization: Basic base64(api:KEY)` header.
fn api_key(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    match decoded.split_once(':') {
        Some(("api", key)) if !key.is_empty() => Some(key.to_string()),
        _ => None,
    }
}

/// The body's fields: `multipart/form-data` (what mailgun.js sends) or a
/// urlencoded form.
async fn form_fields(parts: &Parts, body: Vec<u8>) -> Result<Vec<Field>, ProviderError> {
    let content_type = parts.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !content_type.to_ascii_lowercase().starts_with("multipart/form-data") {
        return Ok(urlencoded_fields(&body));
    }
    let request = axum::extract::Request::from_parts(parts.clone(), Body::from(body));
    let mut multipart = Multipart::from_request(request, &()).await.map_err(|err| bad_request(err.body_text()))?;
    let mut fields = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(|err| bad_request(err.body_text()))? {
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(str::to_string);
        let data = field.bytes().await.map_err(|err| bad_request(err.body_text()))?.to_vec();
        fields.push(Field { name, file_name, content_type, data });
    }
    Ok(fields)
}

fn queued(id: &str) -> Json<Value> {
    Json(json!({"id": id, "message": QUEUED}))
}

/// Mailgun's error body: `{"message": …}`.
fn error(status: StatusCode, message: impl Into<String>) -> ProviderError {
    ProviderError::json(status, json!({"message": message.into()}))
}

fn bad_request(message: impl Into<String>) -> ProviderError {
    error(StatusCode::BAD_REQUEST, message)
}

fn refused(refusal: Refusal) -> ProviderError {
    match refusal {
        Refusal::Dropped => ProviderError::dropped(),
        // Mailgun answers a missing and a wrong key alike, in plain text.
        Refusal::MissingCredential | Refusal::UnknownCredential => {
            ProviderError::text(StatusCode::UNAUTHORIZED, "text/plain; charset=utf-8", "Forbidden")
        }
        Refusal::Body { status: StatusCode::PAYLOAD_TOO_LARGE, .. } => {
            error(StatusCode::PAYLOAD_TOO_LARGE, "Request entity too large: the message is over Mailgun's 25 MB limit")
        }
        refusal => error(refusal.status(), refusal.to_string()),
    }
}

/// The fields of a `/messages` request, checked.
struct Message {
    from: Mailbox,
    to: Vec<Mailbox>,
    cc: Vec<Mailbox>,
    bcc: Vec<Mailbox>,
    subject: String,
    text: Option<String>,
    html: Option<String>,
    /// `attachment` and `inline` file fields, in order.
    files: Vec<Field>,
    /// `h:` fields: header name and value.
    headers: Vec<(String, String)>,
    /// `v:` fields, for `X-Mailgun-Variables`.
    variables: Map<String, Value>,
    tags: Vec<String>,
    testmode: bool,
    recipient_variables: Option<Map<String, Value>>,
}

/// The stored template `name` rendered with `data`.
fn render_template(name: &str, data: &Value, templates: &Templates) -> Result<Template, String> {
    let template = templates.required(name).map_err(|err| err.to_string())?;
    template.render(data).map_err(|err| err.to_string())
}

impl Message {
    fn read(fields: &[Field], templates: &Templates) -> Result<Message, String> {
        let text_of =
            |name: &str| fields.iter().rev().find(|f| f.name == name && f.file_name.is_none()).map(Field::text);
        let from = text_of("from").filter(|from| !from.trim().is_empty()).ok_or(MISSING_FROM)?;
        let from = match from.parse::<Mailboxes>().map(|list| list.into_iter().collect::<Vec<_>>()) {
            Ok(mut list) if list.len() == 1 => list.remove(0),
            _ => return Err(invalid_address("from")),
        };
        let (to, cc, bcc) = (recipients(fields, "to")?, recipients(fields, "cc")?, recipients(fields, "bcc")?);
        if to.is_empty() {
            return Err(MISSING_TO.into());
        }
        if to.len() + cc.len() + bcc.len() > MAX_RECIPIENTS {
            return Err(format!("Too many recipients; max is {MAX_RECIPIENTS}"));
        }
        let (text, html) = (text_of("text"), text_of("html"));
        let template = text_of("template").filter(|name| !name.trim().is_empty());
        if text.is_none() && html.is_none() && template.is_none() {
            return Err(MISSING_BODY.into());
        }
        let recipient_variables = match text_of("recipient-variables") {
            None => None,
            Some(json) => match serde_json::from_str(&json) {
                Ok(Value::Object(map)) => Some(map),
                _ => return Err("recipient-variables parameter is not a valid JSON object".into()),
            },
        };
        let mut message = Message {
            from,
            to,
            cc,
            bcc,
            subject: text_of("subject").unwrap_or_default(),
            text,
            html,
            files: Vec::new(),
            headers: Vec::new(),
            variables: Map::new(),
            tags: Vec::new(),
            testmode: false,
            recipient_variables,
        };
        for field in fields {
            let name = field.name.as_str();
            if name == "attachment" || name == "inline" {
                if field.file_name.is_none() {
                    return Err(format!("'{name}' parameter is not a file"));
                }
                message.files.push(field.clone());
            } else if let Some(header) = name.strip_prefix("h:") {
                message.headers.push((header.to_string(), field.text()));
            } else if let Some(variable) = name.strip_prefix("v:") {
                message.variables.insert(variable.to_string(), Value::String(field.text()));
            } else if name == "o:tag" {
                message.tags.push(field.text());
            } else if name == "o:testmode" {
                message.testmode = matches!(field.text().trim().to_ascii_lowercase().as_str(), "yes" | "true");
            }
        }
        if let Some(name) = template {
            // Mailgun fills a template from `t:variables`, else from the `v:` variables.
            let data = match text_of("t:variables") {
                Some(json) => serde_json::from_str(&json).map_err(|_| "t:variables is not a valid JSON object")?,
                None => Value::Object(message.variables.clone()),
            };
            let rendered = render_template(&name, &data, templates)?;
            message.subject = rendered.subject.unwrap_or(message.subject);
            (message.text, message.html) = (rendered.text.or(message.text), rendered.html.or(message.html));
        }
        Ok(message)
    }

    /// The draft of this message to `to`, with `%recipient.…%` filled from
    /// `variables` when it is part of a batch.
    fn draft(
        &self,
        to: Vec<Mailbox>,
        variables: Option<Map<String, Value>>,
        message_id: &str,
    ) -> Result<Draft, String> {
        let fill = |text: &str| match &variables {
            Some(variables) => fill_recipient_variables(text, variables),
            None => text.to_string(),
        };
        let mut headers = vec![draft::header("Message-ID", message_id)?];
        if !self.variables.is_empty() {
            headers.push(draft::header("X-Mailgun-Variables", &Value::Object(self.variables.clone()).to_string())?);
        }
        if self.testmode {
            headers.push(draft::header("X-Mailgun-Drop-Message", "yes")?);
        }
        for (name, value) in &self.headers {
            headers.push(draft::header(name, value)?);
        }
        let attachments = self
            .files
            .iter()
            .map(|file| {
                let file_name = file.file_name.clone().unwrap_or_default();
                DraftAttachment {
                    content_id: (file.name == "inline").then(|| file_name.clone()),
                    filename: file_name,
                    content: file.data.clone(),
                    content_type: file.content_type.as_deref().and_then(draft::content_type),
                }
            })
            .collect();
        Ok(Draft {
            from: Some(self.from.clone()),
            to,
            cc: self.cc.clone(),
            bcc: self.bcc.clone(),
            reply_to: Vec::new(),
            subject: fill(&self.subject),
            text: self.text.as_deref().map(fill),
            html: self.html.as_deref().map(fill),
            attachments,
            headers,
            added_headers: self.tags.iter().map(|tag| draft::header("X-Mailgun-Tag", tag)).collect::<Result<_, _>>()?,
            tags: self.tags.clone(),
            keep_bcc: false,
            return_path: false,
        })
    }
}

/// Every address of the `name` fields (each may hold a comma-separated list).
fn recipients(fields: &[Field], name: &str) -> Result<Vec<Mailbox>, String> {
    let mut all = Vec::new();
    for field in fields.iter().filter(|f| f.name == name) {
        let text = field.text();
        if text.trim().is_empty() {
            continue;
        }
        let list: Mailboxes = text.parse().map_err(|_| invalid_address(name))?;
        all.extend(list);
    }
    Ok(all)
}

fn invalid_address(field: &str) -> String {
    format!("'{field}' parameter is not a valid address. please check documentation")
}

/// `text` with each `%recipient.KEY%` replaced by the recipient's value for KEY
/// (empty when it has none), as Mailgun fills a batch message.
fn fill_recipient_variables(text: &str, variables: &Map<String, Value>) -> String {
    const OPEN: &str = "%recipient.";
    let mut filled = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        filled.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        match after.find('%') {
            Some(end) if after[..end].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') => {
                match variables.get(&after[..end]) {
                    Some(Value::String(value)) => filled.push_str(value),
                    Some(Value::Null) | None => {}
                    Some(other) => filled.push_str(&other.to_string()),
                }
                rest = &after[end + 1..];
            }
            _ => {
                filled.push_str(OPEN);
                rest = after;
            }
        }
    }
    filled.push_str(rest);
    filled
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::detail;

    fn text(name: &str, value: &str) -> Field {
        Field { name: name.into(), data: value.as_bytes().to_vec(), ..Field::default() }
    }

    fn file(name: &str, file_name: &str, content_type: &str, data: &[u8]) -> Field {
        Field {
            name: name.into(),
            file_name: Some(file_name.into()),
            content_type: Some(content_type.into()),
            data: data.to_vec(),
        }
    }

    const ID: &str = "<20260101000000.0123456789abcdef@mg.example.test>";

    #[test]
    fn builds_every_field() {
        let png = [0x89, b'P', b'N', b'G', 0, 1, 2, 0xff];
        let fields = vec![
            text("from", "App <app@mg.example.test>"),
            text("to", "Ann <ann@example.test>, bob@example.test"),
            text("to", "\"Doe, Carl\" <carl@example.test>"),
            text("cc", "cc@example.test"),
            text("bcc", "hidden@example.test"),
            text("subject", "Grüße"),
            text("text", "Hello"),
            text("html", "<p>Hello <img src=\"cid:logo.png\"></p>"),
            file("inline", "logo.png", "image/png", &png),
            file("attachment", "report.pdf", "application/pdf", b"%PDF-1.4\n"),
            text("h:X-Campaign", "spring"),
            text("h:Reply-To", "reply@example.test"),
            text("v:user-id", "42"),
            text("o:tag", "welcome"),
            text("o:tag", "onboarding"),
            text("o:testmode", "yes"),
        ];
        let mut built = drafts(&fields, ID, &Templates::default()).unwrap();
        assert_eq!(built.len(), 1);
        let built = built.remove(0).build().unwrap();
        assert_eq!(built.mail_from, "app@mg.example.test");
        assert_eq!(
            built.rcpt_to,
            ["ann@example.test", "bob@example.test", "carl@example.test", "cc@example.test", "hidden@example.test"]
        );
        let headers = detail::headers(&built.raw);
        assert_eq!(headers["Message-Id"], [ID]);
        assert_eq!(headers["X-Campaign"], ["spring"]);
        assert_eq!(headers["Reply-To"], ["reply@example.test"]);
        assert_eq!(headers["X-Mailgun-Variables"], [r#"{"user-id":"42"}"#]);
        assert_eq!(headers["X-Mailgun-Tag"], ["welcome", "onboarding"]);
        assert_eq!(headers["X-Tags"], ["welcome, onboarding"]);
        assert_eq!(headers["X-Mailgun-Drop-Message"], ["yes"]);
        assert!(!headers.contains_key("Bcc"));
        let parsed = crate::mail::summarize(&built.raw);
        assert_eq!(parsed.subject, "Grüße");
        assert_eq!(parsed.to[2].name, "Doe, Carl");

        let (_, content_ids) = detail::html_body_and_content_ids(&built.raw).unwrap();
        assert_eq!(content_ids, [("logo.png".to_string(), "1.2".to_string())]);
        assert_eq!(detail::part(&built.raw, "1.2").unwrap().body, png);
        assert_eq!(detail::part(&built.raw, "2").unwrap().body, b"%PDF-1.4\n");
    }

    #[test]
    fn a_template_is_rendered_with_t_variables_or_else_the_v_variables() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("welcome.html"), "<p>Hi {{name}}</p>").unwrap();
        std::fs::write(dir.path().join("welcome.subject"), "Welcome {{name}}").unwrap();
        let templates = Templates::new(Some(dir.path().to_path_buf()));
        let base =
            || vec![text("from", "app@mg.example.test"), text("to", "ann@example.test"), text("template", "welcome")];
        let mut with_t = base();
        with_t.push(text("t:variables", r#"{"name": "Ann"}"#));
        let built = drafts(&with_t, ID, &templates).unwrap().remove(0).build().unwrap();
        assert_eq!(crate::mail::summarize(&built.raw).subject, "Welcome Ann");
        let mut with_v = base();
        with_v.push(text("v:name", "Bob"));
        let built = drafts(&with_v, ID, &templates).unwrap().remove(0).build().unwrap();
        let (html, _) = detail::html_body_and_content_ids(&built.raw).unwrap();
        assert!(html.contains("<p>Hi Bob</p>"), "{html}");
        let missing = drafts(&base(), ID, &Templates::default()).unwrap_err();
        assert!(missing.contains("--provider-templates"), "{missing}");
    }

    #[test]
    fn batch_sends_one_message_per_recipient() {
        let fields = vec![
            text("from", "app@mg.example.test"),
            text("to", "ann@example.test, bob@example.test"),
            text("subject", "Hi %recipient.first%"),
            text("text", "Your id: %recipient.id%; %recipient.missing%|%recipient.bad key%"),
            text("recipient-variables", r#"{"ann@example.test": {"first": "Ann", "id": 1}}"#),
        ];
        let built: Vec<_> =
            drafts(&fields, ID, &Templates::default()).unwrap().into_iter().map(|d| d.build().unwrap()).collect();
        assert_eq!(built.len(), 2);
        assert_eq!(built[0].rcpt_to, ["ann@example.test"]);
        assert_eq!(crate::mail::summarize(&built[0].raw).subject, "Hi Ann");
        assert_eq!(built[1].rcpt_to, ["bob@example.test"]);
        assert_eq!(crate::mail::summarize(&built[1].raw).subject.trim_end(), "Hi");
        let text = detail::part(&built[0].raw, "1").unwrap().body;
        assert_eq!(String::from_utf8_lossy(&text).trim_end(), "Your id: 1; |%recipient.bad key%");
    }

    #[test]
    fn reads_urlencoded_forms() {
        let fields = urlencoded_fields(b"from=a%40example.test&to=b%40example.test&to=c%40example.test&text=Hi+there");
        let built = drafts(&fields, ID, &Templates::default()).unwrap().remove(0).build().unwrap();
        assert_eq!(built.rcpt_to, ["b@example.test", "c@example.test"]);
    }

    #[test]
    fn says_what_is_wrong_in_mailguns_words() {
        let from = text("from", "a@example.test");
        let to = text("to", "b@example.test");
        let body = text("text", "x");
        for (fields, error) in [
            (vec![to.clone(), body.clone()], MISSING_FROM),
            (vec![from.clone(), body.clone()], MISSING_TO),
            (vec![from.clone(), to.clone()], MISSING_BODY),
            (vec![text("from", "nope"), to.clone(), body.clone()], "'from' parameter is not a valid address"),
            (vec![from.clone(), text("to", "x@"), body.clone()], "'to' parameter is not a valid address"),
            (
                vec![from.clone(), to.clone(), body.clone(), text("attachment", "x")],
                "'attachment' parameter is not a file",
            ),
            (vec![from.clone(), to.clone(), body.clone(), text("h:Bad Name", "x")], "invalid header name"),
            (vec![from.clone(), to.clone(), body.clone(), text("h:X-A", "a\r\nBcc: x")], "line breaks"),
            (vec![from.clone(), to.clone(), body.clone(), text("recipient-variables", "[")], "recipient-variables"),
        ] {
            let err = drafts(&fields, ID, &Templates::default())
                .and_then(|d| d.into_iter().map(Draft::build).collect::<Result<Vec<_>, _>>());
            let err = err.unwrap_err();
            assert!(err.contains(error), "{fields:?}: {err}");
        }
        let many = (0..=MAX_RECIPIENTS).map(|i| format!("r{i}@example.test")).collect::<Vec<_>>().join(",");
        let err = drafts(&[from.clone(), text("to", &many), body], ID, &Templates::default()).unwrap_err();
        assert_eq!(err, "Too many recipients; max is 1000");
    }

    #[test]
    fn mime_keeps_the_message_and_takes_recipients_from_to() {
        let raw = b"From: a@example.test\r\nTo: x@example.test\r\nSubject: s\r\n\r\nbody\r\n";
        let fields = vec![text("to", "b@example.test, c@example.test"), file("message", "MimeMessage", "", raw)];
        let (stored, rcpt_to) = mime(&fields).unwrap();
        assert_eq!(stored, raw);
        assert_eq!(rcpt_to, ["b@example.test", "c@example.test"]);
        assert_eq!(mime(&[text("to", "b@example.test")]).unwrap_err(), MISSING_MESSAGE);
        assert_eq!(mime(&[file("message", "m", "", raw)]).unwrap_err(), MISSING_TO);
    }

    #[test]
    fn forms_need_the_provider_credential() {
        let with = |authorization: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, authorization.parse().unwrap());
            headers
        };
        let api = with(&format!("Basic {}", STANDARD.encode("api:key-1")));
        let ui_user = with(&format!("Basic {}", STANDARD.encode("admin:secret")));
        let sigv4 = with("AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/ses/aws4_request");
        assert!(super::super::takes_signed_form("/v3/mg.example.test/messages", &api));
        assert!(super::super::takes_signed_form("/v3/mg.example.test/messages.mime", &api));
        assert!(super::super::takes_signed_form("/", &sigv4));
        for (path, headers) in [
            ("/v3/mg.example.test/messages", &ui_user),
            ("/v3/mg.example.test/messages", &HeaderMap::new()),
            ("/v3/mg.example.test/messages", &sigv4),
            ("/", &api),
            ("/api/v1/send", &api),
            ("/api/v1/send", &sigv4),
            ("/v3//messages", &api),
        ] {
            assert!(!super::super::takes_signed_form(path, headers), "{path} {headers:?}");
        }
    }

    #[test]
    fn message_ids_look_like_mailguns() {
        let id = message_id("mg.example.test", time::macros::datetime!(2026-01-02 03:04:05 UTC));
        assert!(id.starts_with("<20260102030405.") && id.ends_with("@mg.example.test>"), "{id}");
        assert_eq!(id.len(), "<20260102030405.".len() + 16 + "@mg.example.test>".len());
    }
}
