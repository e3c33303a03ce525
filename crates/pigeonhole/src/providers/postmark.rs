//! Postmark's email API, `POST /email` and `POST /email/batch`, as the `postmark`
//! SDK's `ServerClient` calls it: the server token in `X-Postmark-Server-Token`,
//! a JSON message (an array of up to 500 for a batch), and `200` with
//! `{To, SubmittedAt, MessageID, ErrorCode: 0, Message: "OK"}` (an array of those
//! for a batch, where each message has its own `ErrorCode`).
//!
//! `To`, `Cc`, `Bcc` and `ReplyTo` are address lists as a header writes them; Bcc
//! recipients are in the envelope only. What Postmark acts on rather than sends is
//! kept as headers, as Postmark's own SMTP service reads them: `Tag` as `X-PM-Tag`
//! (and a Pigeonhole tag), `Metadata` as one `X-PM-Metadata-<key>` each,
//! `MessageStream` as `X-PM-Message-Stream`. `TrackOpens` and `TrackLinks` are
//! ignored. An attachment with a `ContentID` (`cid:logo`) is inline.
//!
//! `POST /email/withTemplate` and `POST /email/batchWithTemplates` (`{Messages:
//! [...]}`) send a stored template (`TemplateId` or `TemplateAlias`) rendered with
//! `TemplateModel`, from the copies in `--provider-templates` ([`super::templates`]):
//! its subject, HTML and text replace the message's.
//!
//! Errors are Postmark's `{ErrorCode, Message}`: 422 with code 300 (invalid email
//! request), 402 (invalid JSON) or 1101 (no such template), 401 with code 10 (a
//! missing or wrong server token). Failures on our side carry their HTTP status as
//! the code.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::draft::{self, Built, Draft, DraftAttachment};
use super::templates::{Template, Templates};
use super::{Call, Credential, Provider, ProviderError, ProviderState, Refusal};

/// Postmark's limits: a batch request (the limit of its routes here), and a
/// message, attachments included.
const MAX_REQUEST: usize = 50 * 1024 * 1024;
const MAX_MESSAGE: usize = 10 * 1024 * 1024;
/// Messages per batch, and recipients (To, Cc and Bcc together) per message.
const MAX_BATCH: usize = 500;
const MAX_RECIPIENTS: usize = 50;

/// The header that carries the server token.
const TOKEN_HEADER: &str = "X-Postmark-Server-Token";

/// Postmark's code for an invalid email request.
const INVALID_REQUEST: u32 = 300;
/// Postmark's code for a template ID or alias it does not know.
const UNKNOWN_TEMPLATE: u32 = 1101;
/// Postmark's code for a recipient on its suppression list: what a recipient a
/// simulation rule refuses for good is.
const INACTIVE_RECIPIENT: u32 = 406;

/// Postmark's message for an inactive recipient, with the simulated reply.
fn inactive(recipient: &str, reply: &str) -> String {
    format!(
        "You tried to send to recipient(s) that have been marked as inactive. Found inactive addresses: {recipient}. \
         Inactive recipients are ones that have generated a hard bounce, a spam complaint, or a manual suppression. \
         ({reply})"
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct Email {
    from: Option<String>,
    to: Option<String>,
    cc: Option<String>,
    bcc: Option<String>,
    subject: Option<String>,
    tag: Option<String>,
    html_body: Option<String>,
    text_body: Option<String>,
    reply_to: Option<String>,
    headers: Vec<Header>,
    metadata: BTreeMap<String, Value>,
    attachments: Vec<Attachment>,
    message_stream: Option<String>,
    /// With a template (the `withTemplate` routes): its ID or alias, and the model.
    template_id: Option<Value>,
    template_alias: Option<String>,
    template_model: Option<Value>,
}

/// `POST /email/batchWithTemplates`'s body.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct TemplatedBatch {
    messages: Vec<Email>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct Header {
    name: String,
    value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct Attachment {
    name: Option<String>,
    content: Option<String>,
    content_type: Option<String>,
    #[serde(rename = "ContentID")]
    content_id: Option<String>,
}

/// One message's answer, alone or in a batch.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Sent {
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    submitted_at: Option<String>,
    #[serde(rename = "MessageID", skip_serializing_if = "Option::is_none")]
    message_id: Option<String>,
    error_code: u32,
    message: String,
}

/// `POST /email`.
pub async fn email(State(state): State<ProviderState>, parts: Parts, body: Body) -> Result<Json<Sent>, ProviderError> {
    send_one(&state, &parts, body, None).await
}

/// `POST /email/withTemplate`.
pub async fn email_with_template(
    State(state): State<ProviderState>,
    parts: Parts,
    body: Body,
) -> Result<Json<Sent>, ProviderError> {
    send_one(&state, &parts, body, Some(&state.templates)).await
}

/// One message, rendered from its template when `templates` is given.
async fn send_one(
    state: &ProviderState,
    parts: &Parts,
    body: Body,
    templates: Option<&Templates>,
) -> Result<Json<Sent>, ProviderError> {
    let (call, body) = admit(state, parts, body).await?;
    let email: Email = serde_json::from_slice(&body).map_err(|_| invalid_json())?;
    let (to, built) =
        check(email, templates).map_err(|(code, message)| error(StatusCode::UNPROCESSABLE_ENTITY, code, message))?;
    let sent = submit(state, &call, to, built).await.map_err(refused)?;
    Ok(Json(sent))
}

/// `POST /email/batch`: every message checked and stored on its own, a failure
/// answered in its message's entry.
pub async fn batch(
    State(state): State<ProviderState>,
    parts: Parts,
    body: Body,
) -> Result<Json<Vec<Sent>>, ProviderError> {
    let (call, body) = admit(&state, &parts, body).await?;
    let emails: Vec<Email> = serde_json::from_slice(&body).map_err(|_| invalid_json())?;
    send_batch(&state, &call, emails, None).await
}

/// `POST /email/batchWithTemplates`: as `/email/batch`, each message rendered from
/// its template.
pub async fn batch_with_templates(
    State(state): State<ProviderState>,
    parts: Parts,
    body: Body,
) -> Result<Json<Vec<Sent>>, ProviderError> {
    let (call, body) = admit(&state, &parts, body).await?;
    let batch: TemplatedBatch = serde_json::from_slice(&body).map_err(|_| invalid_json())?;
    send_batch(&state, &call, batch.messages, Some(&state.templates)).await
}

async fn send_batch(
    state: &ProviderState,
    call: &Call,
    emails: Vec<Email>,
    templates: Option<&Templates>,
) -> Result<Json<Vec<Sent>>, ProviderError> {
    if emails.len() > MAX_BATCH {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            INVALID_REQUEST,
            format!("A batch may hold at most {MAX_BATCH} messages; this one has {}.", emails.len()),
        ));
    }
    let mut answers = Vec::with_capacity(emails.len());
    for email in emails {
        let answer = match check(email, templates) {
            Ok((to, built)) => match submit(state, call, to, built).await {
                Ok(sent) => sent,
                Err(Refusal::Dropped) => return Err(ProviderError::dropped()),
                // Any other failure is that message's entry, as a refused
                // recipient is: the answer says which messages were stored.
                Err(refusal) => {
                    let (_, error_code, message) = failure(refusal);
                    Sent { to: None, submitted_at: None, message_id: None, error_code, message }
                }
            },
            Err((error_code, message)) => Sent { to: None, submitted_at: None, message_id: None, error_code, message },
        };
        answers.push(answer);
    }
    Ok(Json(answers))
}

/// The request's server token checked and its body read.
async fn admit(state: &ProviderState, parts: &Parts, body: Body) -> Result<(Call, Vec<u8>), ProviderError> {
    Call::admit(state, Provider::Postmark, parts, body, MAX_REQUEST, credential(parts)).await.map_err(refused)
}

async fn submit(state: &ProviderState, call: &Call, to: String, built: Built) -> Result<Sent, Refusal> {
    let message_id = uuid::Uuid::new_v4().to_string();
    call.submit(state, built, &message_id).await?;
    let submitted_at = OffsetDateTime::now_utc().format(&Rfc3339).expect("a current time formats as RFC 3339");
    Ok(Sent {
        to: Some(to),
        submitted_at: Some(submitted_at),
        message_id: Some(message_id),
        error_code: 0,
        message: "OK".to_string(),
    })
}

/// The server token; Postmark's tokens have no part that names them without
/// giving them away.
fn credential(parts: &Parts) -> Option<Credential> {
    let token = parts.headers.get(TOKEN_HEADER)?.to_str().ok()?.trim();
    (!token.is_empty()).then(|| Credential::fingerprinted(token))
}

/// Postmark's error body.
fn error(status: StatusCode, code: u32, message: impl Into<String>) -> ProviderError {
    ProviderError::json(status, json!({"ErrorCode": code, "Message": message.into()}))
}

fn invalid_json() -> ProviderError {
    error(StatusCode::UNPROCESSABLE_ENTITY, 402, "Received invalid JSON input.")
}

fn refused(refusal: Refusal) -> ProviderError {
    match refusal {
        Refusal::Dropped => ProviderError::dropped(),
        refusal => {
            let (status, code, message) = failure(refusal);
            error(status, code, message)
        }
    }
}

/// A failure's HTTP status, Postmark `ErrorCode` and message.
fn failure(refusal: Refusal) -> (StatusCode, u32, String) {
    match refusal {
        Refusal::MissingCredential => (
            StatusCode::UNAUTHORIZED,
            10,
            "No Account or Server API tokens were supplied in the HTTP headers. Please add a header for either \
             X-Postmark-Server-Token or X-Postmark-Account-Token."
                .to_string(),
        ),
        Refusal::UnknownCredential => (
            StatusCode::UNAUTHORIZED,
            10,
            "The Server Token you provided in the X-Postmark-Server-Token request header was invalid. Please verify \
             that you are using a valid token."
                .to_string(),
        ),
        Refusal::Body { status: StatusCode::PAYLOAD_TOO_LARGE, .. } => (
            StatusCode::PAYLOAD_TOO_LARGE,
            INVALID_REQUEST,
            "The request is larger than Postmark takes (10 MB a message, 50 MB a batch).".to_string(),
        ),
        Refusal::Simulated { recipient, reply } if reply.code >= 500 => {
            (StatusCode::UNPROCESSABLE_ENTITY, INACTIVE_RECIPIENT, inactive(&recipient, &reply.to_string()))
        }
        refusal => (refusal.status(), u32::from(refusal.status().as_u16()), refusal.to_string()),
    }
}

/// One message checked as Postmark checks it, rendered from its template when
/// `templates` is given (the `withTemplate` routes), built; its `To` as given for
/// the answer. The error is the answer's `ErrorCode` and `Message`.
fn check(mut email: Email, templates: Option<&Templates>) -> Result<(String, Built), (u32, String)> {
    if let Some(templates) = templates {
        let rendered = render_template(&email, templates).map_err(|message| (UNKNOWN_TEMPLATE, message))?;
        (email.subject, email.html_body, email.text_body) = (rendered.subject, rendered.html, rendered.text);
    }
    build(email).map_err(|message| (INVALID_REQUEST, message))
}

/// The message's template (by `TemplateId` or `TemplateAlias`) rendered with its
/// `TemplateModel`.
fn render_template(email: &Email, templates: &Templates) -> Result<Template, String> {
    let id = match (&email.template_id, &email.template_alias) {
        (Some(Value::Number(id)), _) => id.to_string(),
        (Some(Value::String(id)), _) => id.clone(),
        (_, Some(alias)) if !alias.trim().is_empty() => alias.clone(),
        _ => return Err("Provide either 'TemplateId' or 'TemplateAlias'.".to_string()),
    };
    let template = templates.required(&id).map_err(|err| format!("{err}."))?;
    template.render(email.template_model.as_ref().unwrap_or(&Value::Null)).map_err(|err| format!("{err}."))
}

/// One message checked as Postmark checks it, built; its `To` as given for the
/// answer. The error is the answer's `Message`.
fn build(email: Email) -> Result<(String, Built), String> {
    let from = email.from.unwrap_or_default();
    let from = draft::address("From", &from).map_err(|_| format!("Invalid 'From' address: '{from}'."))?;
    let list = |field: &str, list: &Option<String>| {
        let list = list.as_deref().unwrap_or_default();
        draft::address_list(field, list).map_err(|_| format!("Invalid '{field}' address: '{list}'."))
    };
    let (to, cc, bcc) = (list("To", &email.to)?, list("Cc", &email.cc)?, list("Bcc", &email.bcc)?);
    let recipients = to.len() + cc.len() + bcc.len();
    if recipients == 0 {
        return Err("Zero recipients specified".to_string());
    }
    if recipients > MAX_RECIPIENTS {
        return Err(format!(
            "Invalid 'To' address: a message may have at most {MAX_RECIPIENTS} recipients (To, Cc and Bcc); this one \
             has {recipients}."
        ));
    }
    let (text, html) = (email.text_body.filter(|t| !t.is_empty()), email.html_body.filter(|h| !h.is_empty()));
    if text.is_none() && html.is_none() {
        return Err("Provide either email TextBody or HtmlBody or both.".to_string());
    }
    let subject = draft::subject(email.subject.as_deref().unwrap_or_default())
        .map_err(|err| format!("Invalid 'Subject': {err}."))?;
    let header =
        |name: &str, value: &str| draft::header(name, value).map_err(|err| format!("Invalid 'Headers': {err}."));
    let mut headers = email.headers.iter().map(|h| header(&h.name, &h.value)).collect::<Result<Vec<_>, _>>()?;
    let tag = email.tag.filter(|tag| !tag.trim().is_empty());
    if let Some(tag) = &tag {
        headers.push(header("X-PM-Tag", tag)?);
    }
    for (key, value) in &email.metadata {
        let value = value.as_str().map_or_else(|| value.to_string(), str::to_string);
        headers.push(header(&format!("X-PM-Metadata-{key}"), &value)?);
    }
    if let Some(stream) = email.message_stream.filter(|s| !s.trim().is_empty()) {
        headers.push(header("X-PM-Message-Stream", &stream)?);
    }
    let draft = Draft {
        from: Some(from),
        to,
        cc,
        bcc,
        reply_to: list("ReplyTo", &email.reply_to)?,
        subject,
        text,
        html,
        attachments: attachments(email.attachments)?,
        headers,
        added_headers: Vec::new(),
        tags: tag.into_iter().collect(),
        keep_bcc: false,
        return_path: true,
    };
    let built = draft.build()?;
    if built.raw.len() > MAX_MESSAGE {
        return Err(format!("The message is {} bytes; Postmark takes at most {MAX_MESSAGE}.", built.raw.len()));
    }
    Ok((email.to.unwrap_or_default(), built))
}

fn attachments(attachments: Vec<Attachment>) -> Result<Vec<DraftAttachment>, String> {
    let decode = |attachment: Attachment| {
        let filename = attachment.name.filter(|n| !n.trim().is_empty()).ok_or("Attachment 'Name' is required.")?;
        let content = STANDARD
            .decode(attachment.content.unwrap_or_default().trim())
            .map_err(|_| format!("Invalid attachment content for '{filename}' - illegal base64 string."))?;
        let content_type = match attachment.content_type.filter(|t| !t.trim().is_empty()) {
            Some(given) => Some(
                draft::content_type(&given)
                    .ok_or_else(|| format!("Invalid attachment 'ContentType' for '{filename}': {given}"))?,
            ),
            None => None,
        };
        let content_id = attachment.content_id.map(|cid| cid.trim().trim_start_matches("cid:").to_string());
        Ok(DraftAttachment { filename, content, content_type, content_id })
    };
    attachments.into_iter().map(decode).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::detail;

    fn email(json: Value) -> Result<(String, Built), String> {
        check(serde_json::from_value(json).unwrap(), None).map_err(|(_, message)| message)
    }

    #[test]
    fn a_template_is_rendered_by_id_or_alias_with_its_model() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("welcome.subject"), "Hi {{name}}").unwrap();
        std::fs::write(dir.path().join("welcome.txt"), "Welcome, {{name}}!").unwrap();
        std::fs::write(dir.path().join("4242.html"), "<p>{{name}}</p>").unwrap();
        let templates = Templates::new(Some(dir.path().to_path_buf()));
        let templated = |extra: Value| {
            let mut json =
                json!({"From": "app@example.test", "To": "ann@example.test", "TemplateModel": {"name": "Ann"}});
            json.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            check(serde_json::from_value(json).unwrap(), Some(&templates))
        };
        let (_, built) = templated(json!({"TemplateAlias": "welcome"})).unwrap();
        let parsed = mail_parser::MessageParser::default().parse(&built.raw).unwrap();
        assert_eq!(parsed.subject(), Some("Hi Ann"));
        assert_eq!(parsed.body_text(0).as_deref().map(str::trim_end), Some("Welcome, Ann!"));
        let (_, built) = templated(json!({"TemplateId": 4242})).unwrap();
        let parsed = mail_parser::MessageParser::default().parse(&built.raw).unwrap();
        assert_eq!(parsed.body_html(0).as_deref().map(str::trim_end), Some("<p>Ann</p>"));
        let Err((code, message)) = templated(json!({"TemplateAlias": "nope"})) else { panic!("refused") };
        assert_eq!(code, UNKNOWN_TEMPLATE);
        assert!(message.contains("add nope.html"), "{message}");
        let Err((code, _)) = templated(json!({})) else { panic!("refused") };
        assert_eq!(code, UNKNOWN_TEMPLATE);
    }

    fn minimal() -> Value {
        json!({"From": "app@example.test", "To": "ann@example.test", "Subject": "Hi", "TextBody": "Hello"})
    }

    #[test]
    fn builds_every_field() {
        let (to, built) = email(json!({
            "From": "App <app@example.test>",
            "To": "Ann <ann@example.test>, bob@example.test",
            "Cc": "cc@example.test",
            "Bcc": "hidden@example.test",
            "Subject": "Welcome",
            "Tag": "onboarding",
            "HtmlBody": "<p>Hi <img src=\"cid:logo.png\"></p>",
            "TextBody": "Hi",
            "ReplyTo": "help@example.test",
            "Headers": [{"Name": "X-Campaign", "Value": "spring"}],
            "Metadata": {"order": "42", "user": 7},
            "Attachments": [
                {"Name": "logo.png", "Content": "iVBORw0KGgo=", "ContentType": "image/png", "ContentID": "cid:logo.png"},
                {"Name": "a.pdf", "Content": "JVBERi0xLjQK", "ContentType": "application/pdf"},
            ],
            "MessageStream": "outbound",
            "TrackOpens": true,
        }))
        .unwrap();
        assert_eq!(to, "Ann <ann@example.test>, bob@example.test");
        assert_eq!(built.mail_from, "app@example.test");
        assert_eq!(built.rcpt_to, ["ann@example.test", "bob@example.test", "cc@example.test", "hidden@example.test"]);
        let headers = detail::headers(&built.raw);
        assert!(!headers.contains_key("Bcc"));
        assert_eq!(headers["Reply-To"], ["help@example.test"]);
        assert_eq!(headers["X-Campaign"], ["spring"]);
        assert_eq!(headers["X-Pm-Tag"], ["onboarding"]);
        assert_eq!(headers["X-Tags"], ["onboarding"]);
        assert_eq!(headers["X-Pm-Metadata-Order"], ["42"]);
        assert_eq!(headers["X-Pm-Metadata-User"], ["7"]);
        assert_eq!(headers["X-Pm-Message-Stream"], ["outbound"]);
        let (_, content_ids) = detail::html_body_and_content_ids(&built.raw).unwrap();
        assert_eq!(content_ids, [("logo.png".to_string(), "1.2".to_string())]);
        assert_eq!(detail::part(&built.raw, "2").unwrap().body, b"%PDF-1.4\n");
    }

    #[test]
    fn errors_are_postmarks() {
        let with = |key: &str, value: Value| {
            let mut body = minimal();
            body[key] = value;
            email(body).expect_err("refused")
        };
        assert_eq!(with("From", json!("nope")), "Invalid 'From' address: 'nope'.");
        assert_eq!(with("From", Value::Null), "Invalid 'From' address: ''.");
        assert_eq!(with("To", json!("a@example.test, x@")), "Invalid 'To' address: 'a@example.test, x@'.");
        assert_eq!(with("To", json!("")), "Zero recipients specified");
        assert_eq!(with("TextBody", json!("")), "Provide either email TextBody or HtmlBody or both.");
        assert!(with("Subject", json!("a\r\nBcc: x@example.test")).contains("line breaks"));
        assert!(with("Headers", json!([{"Name": "X-A", "Value": "a\nb"}])).contains("line breaks"));
        assert!(with("Headers", json!([{"Name": "X A", "Value": "a"}])).contains("invalid header name"));
        let bad_base64 = with("Attachments", json!([{"Name": "a.txt", "Content": "%%%", "ContentType": "text/plain"}]));
        assert_eq!(bad_base64, "Invalid attachment content for 'a.txt' - illegal base64 string.");
        let many: Vec<String> = (0..10_000).map(|i| format!("r{i}@example.test")).collect();
        assert!(with("To", json!(many.join(", "))).contains("this one has 10000"));
    }

    #[test]
    fn refusals_are_postmarks() {
        let body =
            |err: ProviderError| -> (u16, Value) { (err.status.as_u16(), serde_json::from_str(err.body()).unwrap()) };
        let (status, json) = body(refused(Refusal::MissingCredential));
        assert_eq!((status, &json["ErrorCode"]), (401, &json!(10)));
        assert_eq!(body(invalid_json()), (422, json!({"ErrorCode": 402, "Message": "Received invalid JSON input."})));
        let (status, json) = body(refused(Refusal::Store(crate::store::SubmitError::Busy)));
        assert_eq!((status, &json["ErrorCode"]), (429, &json!(429)));
    }
}
