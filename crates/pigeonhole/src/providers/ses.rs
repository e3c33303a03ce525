//! Amazon SES's send APIs: v2 `POST /v2/email/outbound-emails` (JSON, what
//! `@aws-sdk/client-sesv2` and boto3's `sesv2` send) and the v1 query API
//! `POST /` (a form with `Action=SendEmail` or `SendRawEmail`, what boto3's `ses`
//! client sends), both signed with SigV4 ([`sigv4`]).
//!
//! Both read into [`Built`]: a `Simple` message (v2) or `SendEmail` (v1) through a
//! [`Draft`], a raw one (`Content.Raw`, `SendRawEmail`) kept byte for byte with
//! its envelope from `Source`/`Destinations` or else its headers. Tags
//! (`EmailTags`, `Tags.member.N`) become SES's `X-SES-MESSAGE-TAGS` header and
//! Pigeonhole tags (their values); a configuration set `X-SES-CONFIGURATION-SET`,
//! the headers SES's SMTP interface reads. A built message carries
//! `Message-ID: <MessageId@email.amazonses.com>`, as SES writes it.
//!
//! The inbox is `ses:<access key ID>` (or the name `--provider-keys` maps the key
//! to); with a `secret` for that key in the keys file, the signature is checked.
//!
//! Answers and errors are SES's: v2 JSON (`{"MessageId": …}`; errors named by the
//! `x-amzn-ErrorType` header with `{"message": …}`, which the SDK reads) and v1
//! XML (`SendEmailResponse`, `ErrorResponse`).

pub mod sigv4;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use lettre::message::Mailbox;
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;

use super::draft::{self, Built, Draft, DraftAttachment};
use super::templates::{Template, Templates};
use super::{Call, Credential, Provider, ProviderState, Refusal};
use sigv4::Authorization;

/// The XML namespace of SES's v1 answers.
pub const XMLNS: &str = "http://ses.amazonaws.com/doc/2010-12-01/";

/// SES takes at most this many recipients (To, Cc and Bcc) in one message.
pub const MAX_RECIPIENTS: usize = 50;

/// SES's limit on a request: a raw message may be 40 MB once base64-decoded in
/// v2 (more as base64 in JSON), 10 MB in v1.
pub const MAX_REQUEST: usize = 56 * 1024 * 1024;

/// `POST /v2/email/outbound-emails`: v2's SendEmail.
pub async fn outbound_emails(State(state): State<ProviderState>, parts: Parts, body: Body) -> Response {
    let sent = async {
        let (call, body) = admit(&state, &parts, body).await?;
        let message_id = message_id(OffsetDateTime::now_utc());
        let message = v2(&body, &message_id, &state.templates)?;
        call.submit(&state, message, &message_id).await?;
        Ok::<_, Failure>(message_id)
    };
    match sent.await {
        Ok(message_id) => Json(json!({"MessageId": message_id})).into_response(),
        Err(failure) => failure.v2_response(),
    }
}

/// `POST /`: the v1 query API's `SendEmail` and `SendRawEmail`; without an
/// `Authorization` header, the 405 any other POST to `/` gets.
pub async fn query_api(State(state): State<ProviderState>, parts: Parts, body: Body) -> Response {
    // Without a SigV4 header this is no SES client but a POST to the UI's page,
    // answered as the API answers any method a path does not take.
    if Authorization::from_headers(&parts.headers) == Err(sigv4::Refusal::Missing) {
        return crate::api::ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed").into_response();
    }
    let request_id = uuid::Uuid::new_v4().to_string();
    let sent = async {
        let (call, body) = admit(&state, &parts, body).await?;
        let form = V1Form::parse(&body);
        let action = form.get("Action").unwrap_or_default().to_string();
        let message_id = message_id(OffsetDateTime::now_utc());
        let message = match action.as_str() {
            "SendEmail" => form.send_email(&message_id)?,
            "SendRawEmail" => form.send_raw_email()?,
            "SendTemplatedEmail" => form.send_templated_email(&message_id, &state.templates)?,
            other => {
                return Err(Failure {
                    status: StatusCode::BAD_REQUEST,
                    v1_code: "InvalidAction",
                    v2_type: "InvalidAction",
                    message: format!(
                        "Could not find operation {other} for version 2010-12-01 (Pigeonhole takes SendEmail, SendRawEmail and SendTemplatedEmail)"
                    ),
                    drops_connection: false,
                });
            }
        };
        call.submit(&state, message, &message_id).await?;
        Ok::<_, Failure>((action, message_id))
    };
    match sent.await {
        Ok((action, message_id)) => xml(StatusCode::OK, &request_id, v1_response(&action, &message_id, &request_id)),
        Err(failure) => failure.v1_response(&request_id),
    }
}

/// The request's signature read (and checked, when the user gave the key's
/// secret) and its access key admitted.
async fn admit(state: &ProviderState, parts: &Parts, body: Body) -> Result<(Call, Vec<u8>), Failure> {
    let authorization = Authorization::from_headers(&parts.headers)?;
    let credential = Credential::named(&authorization.access_key_id, authorization.access_key_id.clone());
    let (call, body) = Call::admit(state, Provider::Ses, parts, body, MAX_REQUEST, Some(credential.clone())).await?;
    if let Some(secret) = state.keys.secret(Provider::Ses, &credential) {
        authorization.verify(secret, &parts.method, &parts.uri, &parts.headers, &body)?;
    }
    Ok((call, body))
}

/// A request SES refuses as invalid (400): its v1 error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// v1's `<Code>` (`InvalidParameterValue`, `MessageRejected` …).
    pub code: &'static str,
    pub message: String,
}

impl Invalid {
    fn parameter(message: impl Into<String>) -> Invalid {
        Invalid { code: "InvalidParameterValue", message: message.into() }
    }

    fn missing(parameter: &str) -> Invalid {
        Invalid {
            code: "ValidationError",
            message: format!(
                "1 validation error detected: Value null at '{parameter}' failed to satisfy constraint: Member must not be null"
            ),
        }
    }

    fn rejected(message: impl Into<String>) -> Invalid {
        Invalid { code: "MessageRejected", message: message.into() }
    }
}

/// Any failure, named as each of SES's APIs names it.
#[derive(Debug)]
struct Failure {
    status: StatusCode,
    /// v1's `<Code>`.
    v1_code: &'static str,
    /// v2's `x-amzn-ErrorType`, which the SDKs turn into the error's name.
    v2_type: &'static str,
    message: String,
    /// Whether the connection is closed instead of answered (a `disconnect` rule).
    drops_connection: bool,
}

impl From<Invalid> for Failure {
    fn from(invalid: Invalid) -> Failure {
        // v2 answers most invalid requests BadRequestException.
        let v2_type = if invalid.code == "MessageRejected" { "MessageRejected" } else { "BadRequestException" };
        Failure {
            status: StatusCode::BAD_REQUEST,
            v1_code: invalid.code,
            v2_type,
            message: invalid.message,
            drops_connection: false,
        }
    }
}

impl From<sigv4::Refusal> for Failure {
    fn from(refusal: sigv4::Refusal) -> Failure {
        let (v1_code, v2_type) = match refusal {
            sigv4::Refusal::Missing => ("MissingAuthenticationToken", "MissingAuthenticationTokenException"),
            sigv4::Refusal::Malformed(_) => ("IncompleteSignature", "IncompleteSignatureException"),
            sigv4::Refusal::Mismatch => ("SignatureDoesNotMatch", "InvalidSignatureException"),
        };
        Failure { status: StatusCode::FORBIDDEN, v1_code, v2_type, message: refusal.message(), drops_connection: false }
    }
}

impl From<Refusal> for Failure {
    fn from(refusal: Refusal) -> Failure {
        let status = refusal.status();
        let (v1_code, v2_type, message) = match &refusal {
            Refusal::MissingCredential => {
                ("MissingAuthenticationToken", "MissingAuthenticationTokenException", refusal.to_string())
            }
            Refusal::UnknownCredential => (
                "InvalidClientTokenId",
                "UnrecognizedClientException",
                "The security token included in the request is invalid.".to_string(),
            ),
            Refusal::Body { status: StatusCode::PAYLOAD_TOO_LARGE, .. } => {
                ("RequestEntityTooLarge", "RequestEntityTooLargeException", refusal.to_string())
            }
            Refusal::Body { .. } => ("MalformedInput", "BadRequestException", refusal.to_string()),
            // SES's own words for a send over its rate: SDKs retry it.
            Refusal::Store(crate::store::SubmitError::Busy) => {
                ("Throttling", "TooManyRequestsException", "Maximum sending rate exceeded.".to_string())
            }
            Refusal::Store(_) => ("ServiceUnavailable", "InternalFailure", refusal.to_string()),
            // A simulated permanent refusal is SES's rejection of the message.
            Refusal::Simulated { reply, .. } if reply.code >= 500 => {
                let invalid = Invalid::rejected(refusal.to_string());
                return Failure { status: StatusCode::BAD_REQUEST, ..Failure::from(invalid) };
            }
            Refusal::Simulated { .. } | Refusal::Dropped => {
                ("ServiceUnavailable", "ServiceUnavailableException", refusal.to_string())
            }
        };
        let drops_connection = matches!(refusal, Refusal::Dropped);
        Failure { status, v1_code, v2_type, message, drops_connection }
    }
}

impl Failure {
    /// v2's error: the type in `x-amzn-ErrorType`, the message in the JSON body.
    fn v2_response(self) -> Response {
        if self.drops_connection {
            return super::dropped_connection();
        }
        let mut response = (self.status, Json(json!({"message": self.message}))).into_response();
        response.headers_mut().insert("x-amzn-ErrorType", HeaderValue::from_static(self.v2_type));
        response
    }

    /// v1's `ErrorResponse` document.
    fn v1_response(self, request_id: &str) -> Response {
        if self.drops_connection {
            return super::dropped_connection();
        }
        let body = format!(
            "<ErrorResponse xmlns=\"{XMLNS}\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>{}</Code>\n    \
             <Message>{}</Message>\n  </Error>\n  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n",
            self.v1_code,
            xml_escape(&self.message)
        );
        xml(self.status, request_id, body)
    }
}

/// An XML answer with its request ID, as the query API sends them.
fn xml(status: StatusCode, request_id: &str, body: String) -> Response {
    let mut response = (status, [(CONTENT_TYPE, HeaderValue::from_static("text/xml"))], body).into_response();
    if let Ok(id) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-amzn-RequestId", id);
    }
    response
}

/// The v1 answer to `action` (`SendEmail` or `SendRawEmail`).
fn v1_response(action: &str, message_id: &str, request_id: &str) -> String {
    format!(
        "<{action}Response xmlns=\"{XMLNS}\">\n  <{action}Result>\n    <MessageId>{message_id}</MessageId>\n  \
         </{action}Result>\n  <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n\
         </{action}Response>\n"
    )
}

/// A message ID in SES's shape: 16 hex digits (the time first), a UUID, `-000000`.
pub fn message_id(now: OffsetDateTime) -> String {
    let millis = (now.unix_timestamp_nanos() / 1_000_000) as u64;
    format!("0100{:012x}-{}-000000", millis & 0xffff_ffff_ffff, uuid::Uuid::new_v4())
}

// ------------------------------------------------------------------------ v2

/// v2's `SendEmail` request (the fields Pigeonhole reads; others are ignored).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct V2Request {
    from_email_address: Option<String>,
    destination: Option<V2Destination>,
    reply_to_addresses: Option<Vec<String>>,
    content: Option<V2Content>,
    email_tags: Option<Vec<Tag>>,
    configuration_set_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct V2Destination {
    to_addresses: Option<Vec<String>>,
    cc_addresses: Option<Vec<String>>,
    bcc_addresses: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct V2Content {
    simple: Option<V2Simple>,
    raw: Option<V2Raw>,
    template: Option<V2Template>,
}

/// `Content.Template`: a stored template by name or ARN, or one given inline, and
/// the data to render it with (a JSON object, as a string).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct V2Template {
    template_name: Option<String>,
    template_arn: Option<String>,
    template_content: Option<V2TemplateContent>,
    template_data: Option<String>,
    headers: Option<Vec<V2Header>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct V2TemplateContent {
    subject: Option<String>,
    text: Option<String>,
    html: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct V2Simple {
    subject: Option<V2Text>,
    body: Option<V2Body>,
    headers: Option<Vec<V2Header>>,
    attachments: Option<Vec<V2Attachment>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct V2Text {
    data: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct V2Body {
    text: Option<V2Text>,
    html: Option<V2Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct V2Header {
    name: Option<String>,
    value: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct V2Attachment {
    /// The file's bytes (a blob: base64 in JSON).
    raw_content: Option<String>,
    /// `ATTACHMENT` (the default) or `INLINE`.
    content_disposition: Option<String>,
    file_name: Option<String>,
    content_id: Option<String>,
    content_type: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct V2Raw {
    /// The MIME message (a blob: base64 in JSON).
    data: Option<String>,
}

/// A message tag: `EmailTags` in v2, `Tags.member.N` in v1.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Tag {
    name: Option<String>,
    value: Option<String>,
}

/// A v2 `SendEmail` body, built into a message with `message_id`.
pub fn v2(body: &[u8], message_id: &str, templates: &Templates) -> Result<Built, Invalid> {
    let request: V2Request = serde_json::from_slice(body).map_err(|err| Invalid {
        code: "SerializationException",
        message: format!("Could not read the request body as JSON: {err}"),
    })?;
    let destination = request.destination.unwrap_or_default();
    let to = destination.to_addresses.unwrap_or_default();
    let cc = destination.cc_addresses.unwrap_or_default();
    let bcc = destination.bcc_addresses.unwrap_or_default();
    let tags = request.email_tags.unwrap_or_default();
    let configuration_set = request.configuration_set_name;
    let content = request.content.ok_or_else(|| Invalid::missing("content"))?;
    if let Some(raw) = content.raw {
        let raw = decode_base64(raw.data.as_deref().ok_or_else(|| Invalid::missing("content.raw.data"))?, "Raw.Data")?;
        let recipients = to.into_iter().chain(cc).chain(bcc).collect();
        return raw_message(raw, request.from_email_address, recipients, &tags, configuration_set.as_deref());
    }
    let from = request.from_email_address.ok_or_else(|| Invalid::missing("fromEmailAddress"))?;
    let header_pairs = |headers: Option<Vec<V2Header>>| -> Vec<(String, String)> {
        headers
            .unwrap_or_default()
            .into_iter()
            .map(|h| (h.name.unwrap_or_default(), h.value.unwrap_or_default()))
            .collect()
    };
    let (subject, text, html, headers, attachments) = match (content.template, content.simple) {
        (Some(template), _) => {
            let rendered = render_template(&template, templates)?;
            let subject = rendered.subject.unwrap_or_default();
            (subject, rendered.text, rendered.html, header_pairs(template.headers), Vec::new())
        }
        (None, Some(simple)) => {
            let body = simple.body.unwrap_or_default();
            let attachments = simple
                .attachments
                .unwrap_or_default()
                .into_iter()
                .enumerate()
                .map(|(i, attachment)| {
                    let name = attachment.file_name.filter(|n| !n.trim().is_empty());
                    let name = name
                        .ok_or_else(|| Invalid::missing(&format!("content.simple.attachments.{}.fileName", i + 1)))?;
                    let content = decode_base64(attachment.raw_content.as_deref().unwrap_or_default(), "RawContent")?;
                    let inline = attachment.content_disposition.is_some_and(|d| d.eq_ignore_ascii_case("INLINE"));
                    Ok(DraftAttachment {
                        content_id: if inline { attachment.content_id.or_else(|| Some(name.clone())) } else { None },
                        content_type: attachment.content_type.as_deref().and_then(draft::content_type),
                        filename: name,
                        content,
                    })
                })
                .collect::<Result<Vec<_>, Invalid>>()?;
            let subject = simple.subject.and_then(|s| s.data).unwrap_or_default();
            (
                subject,
                body.text.and_then(|t| t.data),
                body.html.and_then(|h| h.data),
                header_pairs(simple.headers),
                attachments,
            )
        }
        (None, None) => return Err(Invalid::missing("content.simple")),
    };
    let simple = Simple {
        from,
        to,
        cc,
        bcc,
        reply_to: request.reply_to_addresses.unwrap_or_default(),
        subject,
        text,
        html,
        headers,
        attachments,
    };
    simple.build(&tags, configuration_set.as_deref(), message_id)
}

/// A v2 template rendered with its data: the inline content, or the stored
/// template named (by name, or by the last part of its ARN).
fn render_template(template: &V2Template, templates: &Templates) -> Result<Template, Invalid> {
    let data = match template.template_data.as_deref().filter(|data| !data.trim().is_empty()) {
        Some(data) => serde_json::from_str(data)
            .map_err(|err| Invalid::parameter(format!("TemplateData is not valid JSON: {err}")))?,
        None => serde_json::Value::Null,
    };
    let source = match &template.template_content {
        Some(content) => {
            Template { subject: content.subject.clone(), html: content.html.clone(), text: content.text.clone() }
        }
        None => {
            let arn_name =
                template.template_arn.as_deref().and_then(|arn| arn.rsplit_once("template/")).map(|(_, n)| n);
            let name = template
                .template_name
                .as_deref()
                .or(arn_name)
                .ok_or_else(|| Invalid::missing("content.template.templateName"))?;
            templates.required(name).map_err(|err| Invalid::parameter(err.to_string()))?
        }
    };
    source.render(&data).map_err(|err| Invalid::parameter(err.to_string()))
}

// ------------------------------------------------------------------------ v1

/// The v1 query API's form (`Action=SendEmail` or `SendRawEmail`), read as
/// name/value pairs.
pub struct V1Form(Vec<(String, String)>);

impl V1Form {
    pub fn parse(body: &[u8]) -> V1Form {
        V1Form(form_urlencoded::parse(body).map(|(name, value)| (name.into_owned(), value.into_owned())).collect())
    }

    /// The value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// `prefix.member.1`, `prefix.member.2` … in order, up to the first missing.
    fn members(&self, prefix: &str) -> Vec<String> {
        (1..).map_while(|i| self.get(&format!("{prefix}.member.{i}")).map(str::to_string)).collect()
    }

    fn tags(&self) -> Vec<Tag> {
        (1..)
            .map_while(|i| {
                let name = self.get(&format!("Tags.member.{i}.Name"))?;
                Some(Tag {
                    name: Some(name.to_string()),
                    value: self.get(&format!("Tags.member.{i}.Value")).map(str::to_string),
                })
            })
            .collect()
    }

    /// `Action=SendEmail`, built into a message with `message_id`.
    pub fn send_email(&self, message_id: &str) -> Result<Built, Invalid> {
        let subject = self.get("Message.Subject.Data").ok_or_else(|| Invalid::missing("message.subject"))?;
        let text = self.get("Message.Body.Text.Data").map(str::to_string);
        let html = self.get("Message.Body.Html.Data").map(str::to_string);
        self.simple(subject.to_string(), text, html)?.build(&self.tags(), self.get("ConfigurationSetName"), message_id)
    }

    /// `Action=SendTemplatedEmail`: a stored template (`Template` or
    /// `TemplateArn`) rendered with `TemplateData`.
    pub fn send_templated_email(&self, message_id: &str, templates: &Templates) -> Result<Built, Invalid> {
        let template = V2Template {
            template_name: self.get("Template").map(str::to_string),
            template_arn: self.get("TemplateArn").map(str::to_string),
            template_data: Some(self.get("TemplateData").ok_or_else(|| Invalid::missing("templateData"))?.to_string()),
            ..V2Template::default()
        };
        let rendered = render_template(&template, templates)?;
        let simple = self.simple(rendered.subject.unwrap_or_default(), rendered.text, rendered.html)?;
        simple.build(&self.tags(), self.get("ConfigurationSetName"), message_id)
    }

    /// A formatted message from `Source`, the destinations and reply-to.
    fn simple(&self, subject: String, text: Option<String>, html: Option<String>) -> Result<Simple, Invalid> {
        Ok(Simple {
            from: self.get("Source").ok_or_else(|| Invalid::missing("source"))?.to_string(),
            to: self.members("Destination.ToAddresses"),
            cc: self.members("Destination.CcAddresses"),
            bcc: self.members("Destination.BccAddresses"),
            reply_to: self.members("ReplyToAddresses"),
            subject,
            text,
            html,
            headers: Vec::new(),
            attachments: Vec::new(),
        })
    }

    /// `Action=SendRawEmail`: the message as given.
    pub fn send_raw_email(&self) -> Result<Built, Invalid> {
        let data = self.get("RawMessage.Data").ok_or_else(|| Invalid::missing("rawMessage.data"))?;
        let raw = decode_base64(data, "RawMessage.Data")?;
        let source = self.get("Source").map(str::to_string);
        raw_message(raw, source, self.members("Destinations"), &self.tags(), self.get("ConfigurationSetName"))
    }
}

// ------------------------------------------------------------------------ shared

/// A formatted message as v2's `Simple` and v1's `SendEmail` describe it.
struct Simple {
    from: String,
    to: Vec<String>,
    cc: Vec<String>,
    bcc: Vec<String>,
    reply_to: Vec<String>,
    subject: String,
    text: Option<String>,
    html: Option<String>,
    headers: Vec<(String, String)>,
    attachments: Vec<DraftAttachment>,
}

impl Simple {
    fn build(self, tags: &[Tag], configuration_set: Option<&str>, message_id: &str) -> Result<Built, Invalid> {
        if self.to.is_empty() && self.cc.is_empty() && self.bcc.is_empty() {
            return Err(Invalid::parameter("Missing final '@domain'"));
        }
        if self.to.len() + self.cc.len() + self.bcc.len() > MAX_RECIPIENTS {
            return Err(too_many_recipients());
        }
        if self.text.is_none() && self.html.is_none() {
            return Err(Invalid::missing("message.body"));
        }
        let mut headers = vec![header("Message-ID", &format!("<{message_id}@email.amazonses.com>"))?];
        for (name, value) in ses_headers(tags, configuration_set) {
            headers.push(header(name, &value)?);
        }
        for (name, value) in &self.headers {
            headers.push(header(name, value)?);
        }
        let draft = Draft {
            from: Some(mailbox(&self.from)?),
            to: mailboxes(&self.to)?,
            cc: mailboxes(&self.cc)?,
            bcc: mailboxes(&self.bcc)?,
            reply_to: mailboxes(&self.reply_to)?,
            subject: self.subject,
            text: self.text,
            html: self.html,
            attachments: self.attachments,
            headers,
            added_headers: Vec::new(),
            tags: tag_values(tags),
            keep_bcc: false,
            return_path: false,
        };
        draft.build().map_err(Invalid::rejected)
    }
}

/// A raw message: kept as given, after the SES headers its tags and configuration
/// set call for; the sender and recipients from the request, else its headers.
fn raw_message(
    raw: Vec<u8>,
    source: Option<String>,
    destinations: Vec<String>,
    tags: &[Tag],
    configuration_set: Option<&str>,
) -> Result<Built, Invalid> {
    let (header_from, header_recipients) = crate::archive::import::header_envelope(&raw);
    let mail_from = match source {
        Some(source) => mailbox(&source)?.email.to_string(),
        None => header_from,
    };
    if mail_from.is_empty() {
        return Err(Invalid::rejected("Missing required header 'From'."));
    }
    let rcpt_to = if destinations.is_empty() {
        header_recipients
    } else {
        mailboxes(&destinations)?.into_iter().map(|m| m.email.to_string()).collect()
    };
    if rcpt_to.is_empty() {
        return Err(Invalid::parameter("Missing final '@domain'"));
    }
    if rcpt_to.len() > MAX_RECIPIENTS {
        return Err(too_many_recipients());
    }
    let mut prefix = String::new();
    for (name, value) in ses_headers(tags, configuration_set) {
        header(name, &value)?;
        prefix.push_str(&format!("{name}: {value}\r\n"));
    }
    let tag_values = tag_values(tags);
    if !tag_values.is_empty() {
        prefix.push_str(&format!("X-Tags: {}\r\n", tag_values.join(", ")));
    }
    let mut stored = prefix.into_bytes();
    stored.extend_from_slice(&raw);
    Ok(Built { raw: stored, mail_from, rcpt_to })
}

/// SES's refusal of more than [`MAX_RECIPIENTS`].
fn too_many_recipients() -> Invalid {
    Invalid::parameter(format!("Recipient count exceeds {MAX_RECIPIENTS}."))
}

/// `X-SES-MESSAGE-TAGS` (`name=value, …`) and `X-SES-CONFIGURATION-SET`, as
/// names and values (unchecked).
fn ses_headers(tags: &[Tag], configuration_set: Option<&str>) -> Vec<(&'static str, String)> {
    let mut headers = Vec::new();
    if !tags.is_empty() {
        let pairs: Vec<String> = tags
            .iter()
            .map(|tag| {
                format!("{}={}", tag.name.as_deref().unwrap_or_default(), tag.value.as_deref().unwrap_or_default())
            })
            .collect();
        headers.push(("X-SES-MESSAGE-TAGS", pairs.join(", ")));
    }
    if let Some(set) = configuration_set.filter(|s| !s.is_empty()) {
        headers.push(("X-SES-CONFIGURATION-SET", set.to_string()));
    }
    headers
}

/// The tags' values, as Pigeonhole tags.
fn tag_values(tags: &[Tag]) -> Vec<String> {
    tags.iter().filter_map(|tag| tag.value.clone()).collect()
}

fn header(name: &str, value: &str) -> Result<lettre::message::header::HeaderValue, Invalid> {
    draft::header(name, value).map_err(Invalid::parameter)
}

/// An address as SES takes it: `a@b` or `Name <a@b>`.
fn mailbox(address: &str) -> Result<Mailbox, Invalid> {
    address.trim().parse().map_err(|_| Invalid::parameter(format!("Illegal address: {address}")))
}

fn mailboxes(addresses: &[String]) -> Result<Vec<Mailbox>, Invalid> {
    addresses.iter().map(|a| mailbox(a)).collect()
}

fn decode_base64(data: &str, field: &str) -> Result<Vec<u8>, Invalid> {
    let compact: String = data.split_whitespace().collect();
    STANDARD.decode(compact).map_err(|_| Invalid::parameter(format!("{field} is not valid base64")))
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::mail::detail;

    const ID: &str = "0100018c00000000-00000000-0000-0000-0000-000000000000-000000";

    #[test]
    fn v2_templates_render_inline_or_stored_and_say_what_is_missing() {
        let inline = json!({
            "FromEmailAddress": "app@example.test",
            "Destination": {"ToAddresses": ["ann@example.test"]},
            "Content": {"Template": {
                "TemplateContent": {"Subject": "Order {{order}}", "Text": "Thanks, {{name}}", "Html": "<b>{{name}}</b>"},
                "TemplateData": "{\"order\": 42, \"name\": \"Ann <3\"}",
            }},
        });
        let built = v2(inline.to_string().as_bytes(), ID, &Templates::default()).unwrap();
        let parsed = mail_parser::MessageParser::default().parse(&built.raw).unwrap();
        assert_eq!(parsed.subject(), Some("Order 42"));
        assert_eq!(parsed.body_text(0).as_deref().map(str::trim_end), Some("Thanks, Ann <3"));
        assert_eq!(parsed.body_html(0).as_deref().map(str::trim_end), Some("<b>Ann &lt;3</b>"));

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("receipt.subject"), "Receipt {{order}}").unwrap();
        std::fs::write(dir.path().join("receipt.txt"), "Order {{order}} is paid.").unwrap();
        let templates = Templates::new(Some(dir.path().to_path_buf()));
        let stored = json!({
            "FromEmailAddress": "app@example.test",
            "Destination": {"ToAddresses": ["ann@example.test"]},
            "Content": {"Template": {"TemplateArn": "arn:aws:ses:us-east-1:1:template/receipt", "TemplateData": "{\"order\": 7}"}},
        });
        let built = v2(stored.to_string().as_bytes(), ID, &templates).unwrap();
        let parsed = mail_parser::MessageParser::default().parse(&built.raw).unwrap();
        assert_eq!(parsed.subject(), Some("Receipt 7"));
        let refused = v2(stored.to_string().as_bytes(), ID, &Templates::default()).unwrap_err();
        assert!(refused.message.contains("--provider-templates"), "{}", refused.message);
        let bad_data = inline.to_string().replace("{\\\"order", "not json{\\\"order");
        let refused = v2(bad_data.as_bytes(), ID, &Templates::default()).unwrap_err();
        assert!(refused.message.contains("TemplateData is not valid JSON"), "{}", refused.message);
    }

    #[test]
    fn v2_simple_builds_every_field() {
        let png = [0x89u8, b'P', b'N', b'G', 0, 0xff];
        let body = json!({
            "FromEmailAddress": "App <app@example.test>",
            "Destination": {"ToAddresses": ["ann@example.test"], "CcAddresses": ["cc@example.test"], "BccAddresses": ["hidden@example.test"]},
            "ReplyToAddresses": ["reply@example.test"],
            "Content": {"Simple": {
                "Subject": {"Data": "Grüße", "Charset": "UTF-8"},
                "Body": {"Text": {"Data": "Hello"}, "Html": {"Data": "<p>Hello <img src=\"cid:logo\"></p>"}},
                "Headers": [{"Name": "X-Campaign", "Value": "spring"}],
                "Attachments": [
                    {"RawContent": STANDARD.encode(png), "FileName": "logo.png", "ContentDisposition": "INLINE", "ContentId": "logo", "ContentType": "image/png"},
                    {"RawContent": STANDARD.encode(b"%PDF-1.4\n"), "FileName": "a.pdf"},
                ],
            }},
            "EmailTags": [{"Name": "campaign", "Value": "welcome"}],
            "ConfigurationSetName": "dev",
        });
        let built = v2(body.to_string().as_bytes(), ID, &Templates::default()).unwrap();
        assert_eq!(built.mail_from, "app@example.test");
        assert_eq!(built.rcpt_to, ["ann@example.test", "cc@example.test", "hidden@example.test"]);
        let headers = detail::headers(&built.raw);
        assert_eq!(headers["Message-Id"], [format!("<{ID}@email.amazonses.com>")]);
        assert_eq!(headers["X-Ses-Message-Tags"], ["campaign=welcome"]);
        assert_eq!(headers["X-Ses-Configuration-Set"], ["dev"]);
        assert_eq!(headers["X-Tags"], ["welcome"]);
        assert_eq!(headers["X-Campaign"], ["spring"]);
        assert!(!headers.contains_key("Bcc"));
        assert_eq!(crate::mail::summarize(&built.raw).subject, "Grüße");
        let (_, content_ids) = detail::html_body_and_content_ids(&built.raw).unwrap();
        assert_eq!(content_ids, [("logo".to_string(), "1.2".to_string())]);
        assert_eq!(detail::part(&built.raw, "1.2").unwrap().body, png);
        assert_eq!(detail::part(&built.raw, "2").unwrap().body, b"%PDF-1.4\n");
    }

    #[test]
    fn raw_keeps_the_message() {
        let raw = b"From: a@example.test\r\nTo: b@example.test\r\nCc: c@example.test\r\nSubject: s\r\n\r\nbody\r\n";
        let body = json!({"Content": {"Raw": {"Data": STANDARD.encode(raw)}}});
        let built = v2(body.to_string().as_bytes(), ID, &Templates::default()).unwrap();
        assert_eq!((built.raw.as_slice(), built.mail_from.as_str()), (&raw[..], "a@example.test"));
        assert_eq!(built.rcpt_to, ["b@example.test", "c@example.test"]);

        let form = format!(
            "Action=SendRawEmail&Source=bounce%40example.test&Destinations.member.1=x%40example.test&Tags.member.1.Name=k&Tags.member.1.Value=v&RawMessage.Data={}",
            percent_encoding::utf8_percent_encode(&STANDARD.encode(raw), percent_encoding::NON_ALPHANUMERIC)
        );
        let built = V1Form::parse(form.as_bytes()).send_raw_email().unwrap();
        assert_eq!(
            (built.mail_from.as_str(), built.rcpt_to.as_slice()),
            ("bounce@example.test", &["x@example.test".to_string()][..])
        );
        assert_eq!(built.raw, [&b"X-SES-MESSAGE-TAGS: k=v\r\nX-Tags: v\r\n"[..], raw].concat());
    }

    #[test]
    fn v1_send_email() {
        let form = "Action=SendEmail&Source=App+%3Capp%40example.test%3E&Destination.ToAddresses.member.1=a%40example.test\
                    &Destination.ToAddresses.member.2=b%40example.test&Destination.BccAddresses.member.1=h%40example.test\
                    &Message.Subject.Data=Hi&Message.Body.Text.Data=Hello&ReplyToAddresses.member.1=r%40example.test";
        let built = V1Form::parse(form.as_bytes()).send_email(ID).unwrap();
        assert_eq!(built.mail_from, "app@example.test");
        assert_eq!(built.rcpt_to, ["a@example.test", "b@example.test", "h@example.test"]);
        assert_eq!(detail::headers(&built.raw)["Reply-To"], ["r@example.test"]);
    }

    #[test]
    fn says_what_is_wrong_in_ses_words() {
        let to = json!({"ToAddresses": ["b@example.test"]});
        let simple = json!({"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}});
        for (body, code, message) in [
            ("{".to_string(), "SerializationException", "JSON"),
            (json!({"Destination": to}).to_string(), "ValidationError", "'content'"),
            (json!({"Destination": to, "Content": {"Simple": simple}}).to_string(), "ValidationError", "'fromEmailAddress'"),
            (json!({"FromEmailAddress": "nope", "Destination": to, "Content": {"Simple": simple}}).to_string(), "InvalidParameterValue", "Illegal address"),
            (json!({"FromEmailAddress": "a@example.test", "Content": {"Simple": simple}}).to_string(), "InvalidParameterValue", "Missing final '@domain'"),
            (json!({"FromEmailAddress": "a@example.test", "Destination": to, "Content": {"Raw": {"Data": "%%%"}}}).to_string(), "InvalidParameterValue", "not valid base64"),
            (
                json!({"FromEmailAddress": "a@example.test", "Destination": to, "Content": {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}, "Headers": [{"Name": "X-A", "Value": "a\r\nBcc: x"}]}}}).to_string(),
                "InvalidParameterValue",
                "line breaks",
            ),
        ] {
            let refusal = v2(body.as_bytes(), ID, &Templates::default()).unwrap_err();
            assert_eq!(refusal.code, code, "{body}: {refusal:?}");
            assert!(refusal.message.contains(message), "{body}: {refusal:?}");
        }
        let refusal =
            V1Form::parse(b"Action=SendEmail&Destination.ToAddresses.member.1=a%40x.test").send_email(ID).unwrap_err();
        assert_eq!(refusal.code, "ValidationError");
        assert_eq!(Failure::from(refusal).v2_type, "BadRequestException");
    }

    #[test]
    fn answers_in_ses_shapes() {
        let xml = v1_response("SendEmail", ID, "req-1");
        assert!(xml.starts_with(&format!("<SendEmailResponse xmlns=\"{XMLNS}\">")), "{xml}");
        assert!(xml.contains(&format!("<SendEmailResult>\n    <MessageId>{ID}</MessageId>")), "{xml}");
        let error = Failure::from(Invalid::rejected("a <b> & c")).v1_response("req-1");
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        let body =
            futures_util::FutureExt::now_or_never(axum::body::to_bytes(error.into_body(), 1 << 16)).unwrap().unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(body.contains("<Type>Sender</Type>") && body.contains("<Code>MessageRejected</Code>"), "{body}");
        assert!(body.contains("<Message>a &lt;b&gt; &amp; c</Message>"), "{body}");
        let id = message_id(time::macros::datetime!(2026-01-02 03:04:05 UTC));
        assert!(id.starts_with("0100") && id.ends_with("-000000") && id.len() == 16 + 1 + 36 + 7, "{id}");
    }
}
