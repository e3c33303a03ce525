//! `/api/v1/openapi.json` checked against a real `pigeonhole serve`: the document
//! validates against the OpenAPI 3.1 schema (`data/openapi-3.1-schema.json`, the
//! OpenAPI Initiative's schema of 2022-10-07, as shipped by openapi-spec-validator)
//! with every reference resolved and every component a JSON Schema, each documented path answers
//! exactly its documented methods, and every documented operation, called for real
//! after an SMTP delivery, answers a documented status whose JSON validates against
//! the documented schema (objects closed: no key the document does not name).

mod common;

use std::collections::BTreeSet;

use common::*;
use reqwest::Method;
use reqwest::blocking::Response;
use serde_json::{Value, json};

/// A message with a text part, an HTML part, a link, a code and a PNG attachment,
/// so that each view, part and check has something to show.
fn rich_message() -> Vec<u8> {
    const PNG: &str =
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
    format!(
        "From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: openapi check\r\n\
         X-Tags: first\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"m\"\r\n\r\n\
         --m\r\nContent-Type: multipart/alternative; boundary=\"a\"\r\n\r\n\
         --a\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nYour code is 482913. See http://127.0.0.1:9/x\r\n\
         --a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
         <p>Your code is <b>482913</b>. <a href=\"http://127.0.0.1:9/x\">See</a></p>\r\n--a--\r\n\
         --m\r\nContent-Type: image/png; name=\"dot.png\"\r\nContent-Disposition: attachment; filename=\"dot.png\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{PNG}\r\n--m--\r\n"
    )
    .into_bytes()
}

/// The served document, with what the checks need of it.
struct Document {
    doc: Value,
}

impl Document {
    /// Every (method, path template) documented.
    fn operations(&self) -> BTreeSet<(String, String)> {
        let mut operations = BTreeSet::new();
        for (path, item) in self.doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                if ["get", "put", "post", "delete", "patch", "head", "options"].contains(&method.as_str()) {
                    operations.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
        operations
    }

    /// The template `path` (no query) is an instance of.
    fn template_of(&self, path: &str) -> String {
        let path = path.split('?').next().unwrap();
        let matching: Vec<&String> =
            self.doc["paths"].as_object().unwrap().keys().filter(|t| matches_template(t, path)).collect();
        // A literal path wins over a template (`/api/v1/messages` is not `/api/v1/messages/{ID}`).
        let best = matching.iter().min_by_key(|t| t.matches('{').count());
        best.unwrap_or_else(|| panic!("{path}: no documented path")).to_string()
    }

    /// The schema documented for `status` of an operation, for JSON answers;
    /// `None` when it is documented without a JSON body. Panics when the status is
    /// not documented at all.
    fn json_schema(&self, method: &str, template: &str, status: u16) -> Option<Value> {
        let operation = &self.doc["paths"][template][method.to_lowercase()];
        let mut response = &operation["responses"][status.to_string()];
        assert!(!response.is_null(), "{method} {template}: status {status} is not documented");
        if let Some(reference) = response["$ref"].as_str() {
            response = &self.doc["components"]["responses"][reference.rsplit('/').next().unwrap()];
        }
        let content = response["content"].as_object()?;
        content.iter().find(|(media, _)| media.contains("json")).map(|(_, c)| c["schema"].clone())
    }

    /// A JSON Schema validator for `schema`, its `$ref`s resolved from the document's
    /// components, every object with named properties closed to other keys.
    fn validator(&self, schema: &Value) -> jsonschema::Validator {
        let mut components = self.doc["components"].clone();
        close_objects(&mut components);
        let mut root = schema.clone();
        close_objects(&mut root);
        let root = json!({ "allOf": [root], "components": components });
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("schema {schema}: {e}"))
    }
}

fn matches_template(template: &str, path: &str) -> bool {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter().zip(&p).all(|(t, p)| match t.split_once('}') {
            // `{ID}.html`: any non-empty name, then the literal suffix.
            Some((param, suffix)) if param.starts_with('{') => p.len() > suffix.len() && p.ends_with(suffix),
            _ => t == p,
        })
}

/// `additionalProperties: false` on every object schema that names its properties
/// and says nothing of others: the server must send no undocumented key.
fn close_objects(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(close_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

/// Every `$ref` in `value` names something in the document.
fn assert_refs_resolve(doc: &Value, value: &Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                let pointer = reference.strip_prefix('#').unwrap_or_else(|| panic!("non-local $ref {reference}"));
                assert!(doc.pointer(pointer).is_some(), "unresolved $ref {reference}");
            }
            map.values().for_each(|v| assert_refs_resolve(doc, v));
        }
        Value::Array(items) => items.iter().for_each(|v| assert_refs_resolve(doc, v)),
        _ => {}
    }
}

/// Calls the server and checks each answer against the document, remembering
/// which operations were checked.
struct Checker<'a> {
    server: &'a Server,
    doc: &'a Document,
    checked: BTreeSet<(String, String)>,
}

impl Checker<'_> {
    /// `method path` with an optional body (JSON, or bytes of a content type);
    /// the answer must carry a documented status and validate. Returns the JSON.
    fn call(&mut self, method: Method, path: &str, body: Option<(&str, Vec<u8>)>) -> Value {
        let mut request = self.server.client().request(method.clone(), self.server.url(path));
        if let Some((content_type, bytes)) = body {
            request = request.header("Content-Type", content_type).body(bytes);
        }
        let response = request.send().unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        self.check(method.as_str(), path, response)
    }

    fn json(&mut self, method: Method, path: &str, body: Value) -> Value {
        self.call(method, path, Some(("application/json", body.to_string().into_bytes())))
    }

    fn get(&mut self, path: &str) -> Value {
        self.call(Method::GET, path, None)
    }

    fn check(&mut self, method: &str, path: &str, response: Response) -> Value {
        let template = self.doc.template_of(path);
        let status = response.status().as_u16();
        let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
        let body = response.bytes().unwrap();
        let text = String::from_utf8_lossy(&body);
        let schema = self.doc.json_schema(method, &template, status);
        self.checked.insert((method.to_string(), template.clone()));
        let Some(schema) = schema else {
            assert!(
                !content_type.as_deref().unwrap_or("").contains("json"),
                "{method} {path} {status}: JSON answer where the document has none: {text}"
            );
            return Value::Null;
        };
        let value: Value = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{method} {path} {status}: not JSON ({e}): {text}"));
        let validator = self.doc.validator(&schema);
        let errors: Vec<String> =
            validator.iter_errors(&value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(
            errors.is_empty(),
            "{method} {path} {status} does not match {schema}:\n{}\n{value:#}",
            errors.join("\n")
        );
        value
    }
}

#[test]
fn openapi_document_matches_the_server() {
    // SpamAssassin on, with no spamd there (port 1 refuses): sa-check answers its
    // documented 200 with `Error` set (tests/spamassassin.rs asks a real spamd).
    let server = Server::start_with(&["--enable-chaos", "--enable-spamassassin", "127.0.0.1:1"]);
    let id = send_one(server.smtp, "alice@example.test", "bob@example.test", &rich_message());

    let response = server.get("/api/v1/openapi.json");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let doc: Value = response.json().expect("the document is JSON");

    // OpenAPI 3.1, ours, and complete.
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Pigeonhole");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["components"]["securitySchemes"]["basicAuth"]["scheme"], "basic");
    assert_eq!(doc["components"]["securitySchemes"]["bearerAuth"]["scheme"], "bearer");
    let requirements: Vec<&str> = doc["security"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_object().unwrap().keys())
        .map(String::as_str)
        .collect();
    assert_eq!(requirements, ["basicAuth", "bearerAuth"], "either scheme, or none");
    let meta: Value = serde_json::from_str(include_str!("data/openapi-3.1-schema.json")).unwrap();
    let meta = jsonschema::draft202012::new(&meta).expect("the OpenAPI 3.1 schema compiles");
    let errors: Vec<String> = meta.iter_errors(&doc).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "not a valid OpenAPI 3.1 document:\n{}", errors.join("\n"));
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        assert!(jsonschema::meta::is_valid(schema), "components/schemas/{name} is not a JSON Schema");
    }
    assert_refs_resolve(&doc, &doc);
    let doc = Document { doc };
    let operations = doc.operations();

    // Each path template's parameters are declared, and each path answers exactly
    // its documented methods: PATCH, which no route takes, gets 405 with `Allow`
    // (a path the router lacks would get 404). GET routes take HEAD too.
    let part =
        server.get_json(&format!("/api/v1/message/{id}"))["Attachments"][0]["PartID"].as_str().unwrap().to_string();
    let concrete = |template: &str| template.replace("{ID}", &id).replace("{PartID}", &part).replace("{Tag}", "first");
    let paths: BTreeSet<&String> = operations.iter().map(|(_, path)| path).collect();
    for template in &paths {
        for (method, item) in doc.doc["paths"][template.as_str()].as_object().unwrap() {
            let names: BTreeSet<&str> = item["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            let wanted: BTreeSet<&str> =
                template.split('{').skip(1).map(|rest| rest.split('}').next().unwrap()).collect();
            assert_eq!(names, wanted, "{method} {template}: path parameters");
        }
        let url = server.url(&concrete(template));
        let answer = server.client().patch(&url).send().unwrap();
        assert_eq!(answer.status(), 405, "PATCH {template}: the path is not routed");
        let allowed: BTreeSet<String> =
            answer.headers()["allow"].to_str().unwrap().split(',').map(|m| m.trim().to_string()).collect();
        let mut documented: BTreeSet<String> =
            operations.iter().filter(|(_, p)| p == *template).map(|(m, _)| m.clone()).collect();
        if documented.contains("GET") {
            documented.insert("HEAD".to_string());
        }
        assert_eq!(allowed, documented, "{template}: methods served vs documented");
    }

    // Every operation, for real.
    let mut c = Checker { server: &server, doc: &doc, checked: BTreeSet::new() };
    c.get("/livez");
    c.get("/readyz");
    c.get("/api/v1/openapi.json");
    c.get("/api/v1/info");
    c.get("/api/v1/webui");
    c.get("/api/v1/messages?limit=10");
    c.get("/api/v1/messages?start=1&start=2");
    c.get("/api/v1/search?query=openapi");
    c.get("/api/v1/search");
    c.get("/api/v1/inboxes");
    c.get("/api/v1/tags");
    c.get("/api/v1/intake");
    c.json(Method::PUT, "/api/v1/intake", json!({"Paused": false}));
    c.get("/api/v1/storage");
    c.get("/api/v1/chaos");
    c.json(Method::PUT, "/api/v1/chaos", json!({"Sender": {"ErrorCode": 451, "Probability": 0}}));
    c.json(Method::PUT, "/api/v1/chaos", json!({"Sender": {"ErrorCode": 200}}));
    c.get("/api/v1/rules");
    c.json(Method::PUT, "/api/v1/rules", json!({"Rules": "[[rule]]\nrecipient = \"*@x.test\"\naction = \"reject\"\n"}));
    c.json(Method::PUT, "/api/v1/rules", json!({"Rules": "[[rule]]\naction = \"bouce\"\n"}));
    for route in [
        "",
        "/raw",
        "/headers",
        "/parts",
        "/envelope",
        "/links",
        "/codes",
        "/checks",
        "/checks?links=true",
        "/html-check",
        "/view-notes?view=outlook",
        "/view-notes?view=nope",
        "/link-check",
        "/sa-check",
    ] {
        c.get(&format!("/api/v1/message/{id}{route}"));
    }
    c.get("/api/v1/message/latest?query=openapi");
    c.get("/api/v1/message/nosuchmessage0000000000");
    c.get("/api/v1/message/nosuchmessage0000000000/checks");
    c.get(&format!("/api/v1/message/{id}/part/{part}"));
    c.get(&format!("/api/v1/message/{id}/part/{part}/thumb"));
    c.get(&format!("/api/v1/message/{id}/part/9"));
    // Chromium from PATH, as CI installs it (tests/screenshot.rs checks the PNGs).
    c.get(&format!("/api/v1/message/{id}/screenshot.png?width=300"));
    c.get(&format!("/api/v1/message/{id}/screenshot.png?width=100"));
    c.get(&format!("/view/{id}.txt"));
    c.get(&format!("/view/{id}.html"));
    c.get(&format!("/view/{id}.html?embed=1&dark=1"));
    c.get("/api/v1/wait?after=2000-01-01T00:00:00Z&query=openapi");
    c.get("/api/v1/wait?timeout=soon");
    c.get("/api/v1/wait?timeout=100ms&query=nothing-matches-this");
    c.get("/api/v2/messages");
    c.get("/api/v2/search?kind=to&query=bob");
    c.get("/api/v2/search?kind=nope&query=bob");
    c.get(&format!("/api/v1/messages/{id}"));
    // No relay configured: the documented 400.
    c.json(Method::POST, &format!("/api/v1/messages/{id}/release"), json!({"Email": "bob@example.test"}));
    c.json(Method::PUT, "/api/v1/messages", json!({"IDs": [id], "Read": true}));
    c.json(Method::PUT, "/api/v1/messages", json!({"IDs": [id], "Search": "x"}));
    c.json(Method::PUT, "/api/v1/tags", json!({"IDs": [id], "Tags": ["first", "second"]}));
    c.json(Method::PUT, "/api/v1/tags/second", json!({"Name": "renamed"}));
    c.call(Method::DELETE, "/api/v1/tags/renamed", None);
    c.call(Method::DELETE, "/api/v1/tags/renamed", None);
    c.json(Method::POST, &format!("/api/v1/message/{id}/release"), json!({"To": ["x@example.test"]}));
    let sent = c.json(
        Method::POST,
        "/api/v1/send",
        json!({"From": {"Email": "api@example.test"}, "To": [{"Email": "bob@example.test"}], "Subject": "sent"}),
    );
    c.json(Method::POST, "/api/v1/send", json!({"To": [{"Email": "bob@example.test"}]}));
    c.json(Method::POST, "/api/v1/export", json!({"IDs": [id]}));
    c.json(Method::POST, "/api/v1/export", json!({}));
    let raw = server.raw(&id);
    c.call(Method::POST, "/api/v1/import", Some(("message/rfc822", raw)));
    c.call(Method::POST, "/api/v1/import", Some(("text/plain", b"hello".to_vec())));
    c.get(&format!("/api/v1/diff?a={id}&b=latest&ignore=Subject&volatile=true"));
    c.get(&format!("/api/v1/diff?a={id}&b=nosuchmessage0000000000"));
    c.get(&format!("/api/v1/diff?a={id}"));
    c.get(&format!("/api/v1/diff?a={id}&b=latest&visual=1&width=300&threshold=0.5"));
    c.get(&format!("/api/v1/diff?a={id}&b=latest&visual=1&threshold=-1"));
    c.get(&format!("/api/v1/diff.png?a={id}&b=latest&width=300"));
    c.get(&format!("/api/v1/diff.png?a={id}&b=latest&width=100"));
    c.call(Method::POST, &format!("/api/v1/diff?a={id}&visual=1"), Some(("message/rfc822", server.raw(&id))));
    c.call(Method::POST, &format!("/api/v1/diff?a={id}&name=golden.eml"), Some(("message/rfc822", server.raw(&id))));
    c.call(Method::POST, &format!("/api/v1/diff?b={id}"), Some(("text/plain", b"hello".to_vec())));
    let eml = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(server.raw(&id))
    };
    let files = json!({"A": {"Name": "a.eml", "Eml": eml}, "B": {"Name": "b.eml", "Eml": eml}});
    let files_report = c.json(Method::POST, "/api/v1/diff?visual=1&width=300", files.clone());
    c.get(files_report["Visual"]["DifferenceUrl"].as_str().unwrap());
    c.get("/api/v1/diff/capture/nosuchkey.png");
    c.json(Method::POST, &format!("/api/v1/diff?a={id}"), files);
    c.call(Method::DELETE, &format!("/api/v1/messages/{}", sent["ID"].as_str().unwrap()), None);
    c.call(Method::DELETE, "/api/v1/search?query=nothing-matches-this", None);
    c.call(Method::DELETE, "/api/v1/search", None);
    c.get("/api/v1/webhooks");
    c.json(
        Method::PUT,
        "/api/v1/webhooks",
        json!({"Webhooks": [{"Provider": "postmark", "URL": "", "Enabled": false, "Headers": {}}]}),
    );
    c.json(Method::PUT, "/api/v1/webhooks", json!({"Webhooks": [{"Provider": "gmail"}]}));
    c.get("/api/v1/webhooks/log");
    c.get("/api/v1/webhooks/log?message=not-an-id");
    c.get("/api/v1/webhooks/sns-certificate.pem");
    c.get("/api/v1/webhooks/sns?Action=ConfirmSubscription&TopicArn=arn&Token=not-the-token");
    c.get("/api/v1/webhooks/sns?Action=Unsubscribe&SubscriptionArn=arn");
    // SMTP mail has no provider events: the documented 400.
    c.json(Method::POST, &format!("/api/v1/message/{id}/events"), json!({"Event": "open"}));
    c.get("/api/events"); // not an upgrade request: the documented 400
    let events = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
        use futures_util::StreamExt;
        let (mut ws, answer) =
            tokio_tungstenite::connect_async(format!("ws://{}/api/events", server.http)).await.unwrap();
        let first = ws.next().await.unwrap().unwrap();
        (answer.status().as_u16(), serde_json::from_str::<Value>(first.to_text().unwrap()).unwrap())
    });
    let (status, frame) = events;
    assert_eq!(status, 101);
    assert!(doc.doc["paths"]["/api/events"]["get"]["responses"]["101"].is_object());
    let event = doc.validator(&json!({"$ref": "#/components/schemas/Event"}));
    assert!(event.is_valid(&frame), "the first frame is not an Event: {frame}");
    c.call(Method::DELETE, "/api/v1/messages", None);

    let unchecked: Vec<_> = operations.difference(&c.checked).collect();
    assert!(unchecked.is_empty(), "documented operations never called: {unchecked:?}");
}
