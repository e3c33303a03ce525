//! The provider APIs as merged into the router (crate::providers): stored mail
//! and its envelope, credentials and keys, the body limit, and which of the API's
//! layers stand in front of them.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Answer, Api};
use crate::api::router;
use crate::login::Users;
use crate::providers::ProviderKeys;

const SENDGRID_KEY: &str = "SG.shopkey.s3cret-part-of-the-key";

fn sendgrid_body(subject: &str) -> Value {
    json!({
        "personalizations": [{"to": [{"email": "ann@example.test"}], "bcc": [{"email": "hidden@example.test"}]}],
        "from": {"email": "app@example.test"},
        "subject": subject,
        "content": [{"type": "text/plain", "value": "Hello"}],
        "categories": ["welcome"],
    })
}

impl Api {
    async fn sendgrid(&self, body: impl Into<axum::body::Body>, headers: &[(&str, &str)]) -> Answer {
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        self.request(Method::POST, "/v3/mail/send", body, &all).await
    }
}

fn sendgrid_error(answer: &Answer, status: StatusCode) -> Value {
    assert_eq!(answer.status, status, "{:?}", answer.body);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let json = answer.json();
    assert_eq!(json["errors"].as_array().unwrap().len(), 1, "{json}");
    json["errors"][0].clone()
}

#[tokio::test]
async fn sendgrid_mail_is_stored_with_its_request() {
    let api = Api::new().await;
    let bearer = format!("Bearer {SENDGRID_KEY}");
    let answer = api.sendgrid(sendgrid_body("Welcome").to_string(), &[("authorization", &bearer)]).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{:?}", answer.body);
    assert!(answer.body.is_empty());
    let message_id = answer.header("x-message-id").unwrap().to_string();
    assert_eq!(message_id.len(), 22);

    let page = api.get_json("/api/v1/messages").await;
    assert_eq!(page["total"], 1);
    let summary = &page["messages"][0];
    assert_eq!(summary["Subject"], "Welcome");
    assert_eq!(summary["Username"], "sendgrid:SG.shopkey");
    assert_eq!(summary["Tags"], json!(["welcome"]));
    let id = summary["ID"].as_str().unwrap();
    let envelope = api.get_json(&format!("/api/v1/message/{id}/envelope")).await;
    assert_eq!(envelope["RcptTo"], json!(["ann@example.test", "hidden@example.test"]));
    assert_eq!(envelope["MailFrom"], "app@example.test");
    assert_eq!(envelope["Helo"], "sendgrid-api");
    assert_eq!(envelope["AuthUser"], "sendgrid:SG.shopkey");
    assert_eq!(envelope["Api"]["Provider"], "sendgrid");
    assert_eq!(envelope["Api"]["ProviderMessageId"], message_id);
    let request = envelope["Api"]["Request"].as_str().unwrap();
    assert!(request.starts_with("POST /v3/mail/send HTTP/1.1\n"), "{request}");
    assert!(request.contains("authorization: Bearer SG.s…\n"), "{request}");
    assert!(!request.contains("s3cret"), "{request}");
    assert!(request.ends_with(&sendgrid_body("Welcome").to_string()), "{request}");
}

#[tokio::test]
async fn sendgrid_refusals_are_in_its_shape_and_store_nothing() {
    let api = Api::new().await;
    let missing = api.sendgrid(sendgrid_body("x").to_string(), &[]).await;
    let error = sendgrid_error(&missing, StatusCode::UNAUTHORIZED);
    assert_eq!(
        error,
        json!({"message": "The provided authorization grant is invalid, expired, or revoked", "field": null, "help": null})
    );
    let basic = api.sendgrid(sendgrid_body("x").to_string(), &[("authorization", "Basic YXBpOmtleQ==")]).await;
    sendgrid_error(&basic, StatusCode::UNAUTHORIZED);

    let bearer = ("authorization", "Bearer SG.a.b");
    let mut no_from = sendgrid_body("x");
    no_from.as_object_mut().unwrap().remove("from");
    let error = sendgrid_error(&api.sendgrid(no_from.to_string(), &[bearer]).await, StatusCode::BAD_REQUEST);
    assert_eq!(error["field"], "from.email");
    sendgrid_error(&api.sendgrid("{\"personalizations\":", &[bearer]).await, StatusCode::BAD_REQUEST);

    let mut sandbox = sendgrid_body("x");
    sandbox["mail_settings"] = json!({"sandbox_mode": {"enable": true}});
    let answer = api.sendgrid(sandbox.to_string(), &[bearer]).await;
    assert_eq!((answer.status, answer.body.is_empty()), (StatusCode::OK, true));
    assert_eq!(answer.header("x-message-id"), None);

    assert_eq!(api.get_json("/api/v1/messages").await["total"], 0);
}

/// 50 MB is over SendGrid's 30 MB and over the API's own 10 MB cap: SendGrid's 413,
/// read no further than its limit.
#[tokio::test]
async fn sendgrid_answers_an_oversized_request_413() {
    let api = Api::new().await;
    let body = vec![b' '; 50 * 1000 * 1000];
    let answer = api.sendgrid(body, &[("authorization", "Bearer SG.a.b")]).await;
    let error = sendgrid_error(&answer, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(error["message"].as_str().unwrap().contains("too large"), "{error}");

    // Over the API's 10 MB cap but within SendGrid's limit: taken.
    let mut big = sendgrid_body("big");
    big["content"] = json!([{"type": "text/plain", "value": "a".repeat(11 * 1024 * 1024)}]);
    let answer = api.sendgrid(big.to_string(), &[("authorization", "Bearer SG.a.b")]).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{:?}", answer.body);
}

/// With `--provider-keys`, a listed key's mail goes to its inbox and any other key
/// is refused; the UI's basic auth does not apply to provider routes, the guard
/// does.
#[tokio::test]
async fn keys_auth_and_guard() {
    let mut api = Api::new().await;
    let keys = api.dir.path().join("keys.toml");
    std::fs::write(&keys, format!("[[key]]\nprovider = \"sendgrid\"\nkey = \"{SENDGRID_KEY}\"\ninbox = \"shop\"\n"))
        .unwrap();
    let users = api.dir.path().join("htpasswd");
    std::fs::write(&users, "alice:pw\n").unwrap();
    let state = api
        .state
        .clone()
        .with_provider_keys(ProviderKeys::load(&keys).unwrap())
        .with_auth(Some(Users::load(&users).unwrap()));
    api.router = router(state);

    let bearer = format!("Bearer {SENDGRID_KEY}");
    let answer = api.sendgrid(sendgrid_body("Mapped").to_string(), &[("authorization", &bearer)]).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{:?}", answer.body);
    let other = api.sendgrid(sendgrid_body("Other").to_string(), &[("authorization", "Bearer SG.other.key")]).await;
    sendgrid_error(&other, StatusCode::UNAUTHORIZED);

    let cross_site = api
        .sendgrid(sendgrid_body("CSRF").to_string(), &[("authorization", &bearer), ("origin", "https://evil.example")])
        .await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);

    // Our API still asks for the password.
    assert_eq!(api.get("/api/v1/messages").await.status, StatusCode::UNAUTHORIZED);
    let alice = ("authorization", "Basic YWxpY2U6cHc=");
    let page = api.request(Method::GET, "/api/v1/messages", axum::body::Body::empty(), &[alice]).await.json();
    assert_eq!(page["total"], 1);
    assert_eq!(page["messages"][0]["Username"], "shop");
    assert_eq!(page["messages"][0]["Subject"], "Mapped");
}

#[tokio::test]
async fn postmark_single_and_batch() {
    let api = Api::new().await;
    let token = ("x-postmark-server-token", "0f3c9a2e-1b4d-4c6e-8f00-123456789abc");
    let json = ("content-type", "application/json");
    let email = json!({"From": "app@example.test", "To": "ann@example.test", "Subject": "One", "TextBody": "Hi"});
    let answer = api.request(Method::POST, "/email", email.to_string(), &[json, token]).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let sent = answer.json();
    assert_eq!(
        (&sent["To"], &sent["ErrorCode"], &sent["Message"]),
        (&json!("ann@example.test"), &json!(0), &json!("OK"))
    );
    let message_id = sent["MessageID"].as_str().unwrap();

    let batch = json!([email, {"From": "nope", "To": "ann@example.test", "TextBody": "x"}]);
    let answer = api.request(Method::POST, "/email/batch", batch.to_string(), &[json, token]).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let answers = answer.json();
    assert_eq!(answers[0]["ErrorCode"], 0);
    assert_eq!(answers[1], json!({"ErrorCode": 300, "Message": "Invalid 'From' address: 'nope'."}));

    let missing = api.request(Method::POST, "/email", email.to_string(), &[json]).await;
    assert_eq!((missing.status, &missing.json()["ErrorCode"]), (StatusCode::UNAUTHORIZED, &json!(10)));
    let not_json = api.request(Method::POST, "/email", "{", &[json, token]).await;
    assert_eq!(not_json.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(not_json.json(), json!({"ErrorCode": 402, "Message": "Received invalid JSON input."}));

    let page = api.get_json("/api/v1/messages").await;
    assert_eq!(page["total"], 2);
    let first = page["messages"][1]["ID"].as_str().unwrap();
    let envelope = api.get_json(&format!("/api/v1/message/{first}/envelope")).await;
    assert_eq!(envelope["Api"]["ProviderMessageId"], message_id);
    assert!(envelope["AuthUser"].as_str().unwrap().starts_with("postmark:key-"));
    assert!(envelope["Api"]["Request"].as_str().unwrap().contains("x-postmark-server-token: 0f3c…\n"));
}

#[tokio::test]
async fn resend_single_batch_and_keys() {
    let mut api = Api::new().await;
    let keys = api.dir.path().join("keys.toml");
    std::fs::write(&keys, "[[key]]\nprovider = \"resend\"\nkey = \"re_abc123_secretpart\"\n").unwrap();
    api.router = router(api.state.clone().with_provider_keys(ProviderKeys::load(&keys).unwrap()));
    let key = ("authorization", "Bearer re_abc123_secretpart");
    let json = ("content-type", "application/json");
    let email = json!({"from": "App <app@example.test>", "to": "ann@example.test", "subject": "One", "text": "Hi"});
    let answer = api.request(Method::POST, "/emails", email.to_string(), &[json, key]).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let id = answer.json()["id"].as_str().unwrap().to_string();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 4);

    let batch = json!([email, email]);
    let answer = api.request(Method::POST, "/emails/batch", batch.to_string(), &[json, key]).await;
    assert_eq!(answer.json()["data"].as_array().unwrap().len(), 2);
    // One bad email refuses the whole batch.
    let batch = json!([email, {"from": "app@example.test", "subject": "x"}]);
    let answer = api.request(Method::POST, "/emails/batch", batch.to_string(), &[json, key]).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        answer.json(),
        json!({"statusCode": 422, "name": "missing_required_field", "message": "emails[1]: Missing `to` field."})
    );

    let missing = api.request(Method::POST, "/emails", email.to_string(), &[json]).await;
    assert_eq!((missing.status, &missing.json()["name"]), (StatusCode::UNAUTHORIZED, &json!("missing_api_key")));
    let wrong =
        api.request(Method::POST, "/emails", email.to_string(), &[json, ("authorization", "Bearer re_x_y")]).await;
    assert_eq!((wrong.status, &wrong.json()["name"]), (StatusCode::FORBIDDEN, &json!("invalid_api_key")));

    let page = api.get_json("/api/v1/messages").await;
    assert_eq!(page["total"], 3);
    assert_eq!(page["messages"][0]["Username"], "resend:re_abc123");
}

/// The simulator addresses through the provider APIs: refusals in each
/// provider's shape with nothing stored, effects and tarpits recorded.
#[tokio::test]
async fn simulator_addresses_answer_in_each_providers_shape() {
    let api = Api::new().await;
    let json = ("content-type", "application/json");
    let sendgrid_to = |to: &str| {
        let mut body = sendgrid_body(&format!("To {to}"));
        body["personalizations"] = json!([{"to": [{"email": to}]}]);
        body.to_string()
    };
    let bearer = ("authorization", "Bearer SG.a.b");

    let suppressed = api.sendgrid(sendgrid_to("suppressed@simulator.test"), &[bearer]).await;
    let error = sendgrid_error(&suppressed, StatusCode::BAD_REQUEST);
    assert!(error["message"].as_str().unwrap().starts_with("suppressed@simulator.test: 550 5.7.1"), "{error}");

    // Greylisted: 503 at first, taken on a retry a second later from the same client.
    let greylisted = api.sendgrid(sendgrid_to("greylist@simulator.test"), &[bearer]).await;
    let error = sendgrid_error(&greylisted, StatusCode::SERVICE_UNAVAILABLE);
    assert!(error["message"].as_str().unwrap().contains("451 4.7.1"), "{error}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let retried = api.sendgrid(sendgrid_to("greylist@simulator.test"), &[bearer]).await;
    assert_eq!(retried.status, StatusCode::ACCEPTED, "{:?}", retried.body);

    let started = std::time::Instant::now();
    let slow = api.sendgrid(sendgrid_to("slow@simulator.test"), &[bearer]).await;
    assert_eq!(slow.status, StatusCode::ACCEPTED);
    assert!(started.elapsed() >= std::time::Duration::from_millis(1000), "the answer is held");

    let token = ("x-postmark-server-token", "token");
    let email =
        |to: &str| json!({"From": "app@example.test", "To": to, "Subject": format!("To {to}"), "TextBody": "x"});
    let batch = json!([email("suppressed@simulator.test"), email("ann@example.test")]);
    let answers = api.request(Method::POST, "/email/batch", batch.to_string(), &[json, token]).await.json();
    assert_eq!(answers[0]["ErrorCode"], 406, "{answers}");
    assert!(answers[0]["Message"].as_str().unwrap().contains("suppressed@simulator.test"));
    assert_eq!(answers[1]["ErrorCode"], 0);

    let key = ("authorization", "Bearer re_x_y");
    let bounce =
        json!({"from": "app@example.test", "to": "bounce@simulator.test", "subject": "To bounce", "text": "x"});
    let answer = api.request(Method::POST, "/emails", bounce.to_string(), &[json, key]).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let refused = json!({"from": "app@example.test", "to": "suppressed@simulator.test", "subject": "x", "text": "x"});
    let answer = api.request(Method::POST, "/emails", refused.to_string(), &[json, key]).await;
    assert_eq!((answer.status, &answer.json()["name"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("validation_error")));

    let page = api.get_json("/api/v1/messages").await;
    let subjects: Vec<&str> =
        page["messages"].as_array().unwrap().iter().map(|m| m["Subject"].as_str().unwrap()).collect();
    assert_eq!(
        subjects,
        ["To bounce", "To ann@example.test", "To slow@simulator.test", "To greylist@simulator.test"],
        "refused mail is not stored"
    );
    let mut simulations = Vec::new();
    for message in page["messages"].as_array().unwrap() {
        let id = message["ID"].as_str().unwrap();
        simulations.push(api.get_json(&format!("/api/v1/message/{id}/envelope")).await["Simulation"].clone());
    }
    let bounced = &simulations[0];
    assert_eq!(
        (&bounced["Rule"], &bounced["Action"], &bounced["Reply"]),
        (&json!("bounce@simulator.test"), &json!("bounce"), &json!("200 OK"))
    );
    // Its effect's line is added once the effect is carried out, which this API
    // alone (no effects task) does not do; tests/clients/sendgrid.test.mjs sees it.
    assert_eq!(bounced["Effects"], json!([]), "{bounced}");
    assert_eq!(simulations[1], Value::Null, "no rule matched");
    assert_eq!(simulations[2]["Reply"], "202 Accepted (held 1000 ms)");
    assert_eq!(simulations[3]["Action"], "defer");
}

/// A `disconnect` rule drops an API send's connection before any byte of an
/// answer, at every provider, as a network failure would; nothing is stored.
/// Over a real socket, since the point is what reaches the client.
#[tokio::test]
async fn a_disconnect_rule_closes_the_connection_without_an_answer() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let api = Api::new().await;
    let rules = "[[rule]]\nname = \"drop\"\nrecipient = \"*@drop.test\"\naction = \"disconnect\"\n";
    let saved = api.send_json(Method::PUT, "/api/v1/rules", json!({"Rules": rules})).await;
    assert_eq!(saved.status, StatusCode::OK, "{:?}", saved.body);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(axum::serve(listener, api.router.clone()).into_future());

    let json = "application/json";
    let to = "ann@drop.test";
    let requests = [
        (
            "/v3/mail/send",
            json,
            "Bearer SG.a.b",
            json!({"personalizations": [{"to": [{"email": to}]}], "from": {"email": "app@example.test"},
                   "subject": "x", "content": [{"type": "text/plain", "value": "x"}]})
            .to_string(),
        ),
        ("/email", json, "", json!({"From": "app@example.test", "To": to, "TextBody": "x"}).to_string()),
        (
            "/emails",
            json,
            "Bearer re_x_y",
            json!({"from": "app@example.test", "to": to, "subject": "x", "text": "x"}).to_string(),
        ),
        (
            "/v3/example.test/messages",
            "application/x-www-form-urlencoded",
            "Basic YXBpOmtleS0x",
            format!("from=app%40example.test&to={}&text=x", to.replace('@', "%40")),
        ),
        (
            "/v2/email/outbound-emails",
            json,
            concat!(
                "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/ses/aws4_request, SignedHeaders=host, ",
                "Signature=0000000000000000000000000000000000000000000000000000000000000000"
            ),
            json!({"FromEmailAddress": "app@example.test", "Destination": {"ToAddresses": [to]},
                   "Content": {"Simple": {"Subject": {"Data": "x"}, "Body": {"Text": {"Data": "x"}}}}})
            .to_string(),
        ),
    ];
    for (path, content_type, authorization, body) in requests {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let credential = match authorization {
            "" => "X-Postmark-Server-Token: token".to_string(),
            authorization => format!("Authorization: {authorization}"),
        };
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\n{credential}\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
        // Closed (or reset: as good, either way no answer came) with nothing read.
        assert!(read.is_ok(), "{path}: the connection stayed open: {}", String::from_utf8_lossy(&answer));
        assert_eq!(String::from_utf8_lossy(&answer), "", "{path} answered");
    }
    assert_eq!(api.get_json("/api/v1/messages").await["total"], 0);
}

/// Mailgun writes one `X-Mailgun-Tag` header per `o:tag`, as it delivers them;
/// the tags are Pigeonhole tags too.
#[tokio::test]
async fn mailgun_tags_are_one_header_each() {
    let api = Api::new().await;
    let form =
        "from=app%40example.test&to=ann%40example.test&subject=Tagged&text=x&o%3Atag=welcome&o%3Atag=spring%2C+2026";
    let headers = [("content-type", "application/x-www-form-urlencoded"), ("authorization", "Basic YXBpOmtleS0x")];
    let answer = api.request(Method::POST, "/v3/mg.example.test/messages", form, &headers).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let summary = &api.get_json("/api/v1/messages").await["messages"][0];
    // Pigeonhole's tags are read from X-Tags, where a comma separates them.
    assert_eq!(summary["Tags"], json!(["2026", "spring", "welcome"]));
    let id = summary["ID"].as_str().unwrap();
    let headers = api.get_json(&format!("/api/v1/message/{id}/headers")).await;
    assert_eq!(headers["X-Mailgun-Tag"], json!(["welcome", "spring, 2026"]));
}

/// A store that takes the first messages of a request and fails on a later one
/// (its disk fills up: SQLite reports a database that may not grow as a full
/// disk). SendGrid, Mailgun and Resend's strict batch answer one request with one
/// answer: the error, with none of its messages stored. Postmark's batch answers
/// per message: the failed one's entry says so, the others are stored.
#[tokio::test]
async fn a_store_failure_partway_stores_all_or_what_the_answer_says() {
    let api = Api::with_store(|dir, events| {
        crate::store::Store::open_with(dir, crate::config::StoreConfig::default(), events, |conn| {
            let pages: i64 = conn.query_row("PRAGMA page_count", [], |row| row.get(0))?;
            conn.query_row(&format!("PRAGMA max_page_count = {}", pages + 32), [], |_| Ok(()))
        })
        .unwrap()
    })
    .await;
    // Incompressible letters, far more than the 32 pages the database may grow by.
    let mut x: u32 = 1;
    let big: String = (0..400_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect();
    let json = ("content-type", "application/json");

    let mut sendgrid = sendgrid_body("SendGrid");
    sendgrid["personalizations"] = json!([
        {"to": [{"email": "ann@example.test"}]},
        {"to": [{"email": "bob@example.test"}], "headers": {"X-Big": big}},
    ]);
    let answer = api.sendgrid(sendgrid.to_string(), &[("authorization", "Bearer SG.a.b")]).await;
    sendgrid_error(&answer, StatusCode::SERVICE_UNAVAILABLE);

    let form = format!(
        "from=app%40example.test&to=ann%40example.test&to=bob%40example.test&subject=Mailgun&text=%25recipient.note%25\
         &recipient-variables=%7B%22ann%40example.test%22%3A%7B%22note%22%3A%22hi%22%7D%2C%22bob%40example.test%22%3A\
         %7B%22note%22%3A%22{big}%22%7D%7D"
    );
    let form_headers = [("content-type", "application/x-www-form-urlencoded"), ("authorization", "Basic YXBpOmtleS0x")];
    let answer = api.request(Method::POST, "/v3/mg.example.test/messages", form, &form_headers).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", answer.body);

    let email = |subject: &str, text: &str| json!({"from": "app@example.test", "to": "ann@example.test", "subject": subject, "text": text});
    let batch = json!([email("Resend small", "x"), email("Resend big", &big)]);
    let key = ("authorization", "Bearer re_x_y");
    let answer = api.request(Method::POST, "/emails/batch", batch.to_string(), &[json, key]).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", answer.body);

    assert_eq!(api.get_json("/api/v1/messages").await["total"], 0, "nothing of a failed request is stored");

    let email = |subject: &str, text: &str| json!({"From": "app@example.test", "To": "ann@example.test", "Subject": subject, "TextBody": text});
    let batch = json!([email("Postmark 1", "x"), email("Postmark 2", &big), email("Postmark 3", "x")]);
    let token = ("x-postmark-server-token", "token");
    let answer = api.request(Method::POST, "/email/batch", batch.to_string(), &[json, token]).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let answers = answer.json();
    let codes: Vec<&Value> = answers.as_array().unwrap().iter().map(|a| &a["ErrorCode"]).collect();
    assert_eq!(codes, [&json!(0), &json!(503), &json!(0)], "{answers}");
    assert_eq!(answers[1].get("MessageID"), None);
    let page = api.get_json("/api/v1/messages").await;
    let subjects: Vec<&str> =
        page["messages"].as_array().unwrap().iter().map(|m| m["Subject"].as_str().unwrap()).collect();
    assert_eq!(subjects, ["Postmark 3", "Postmark 1"]);
}
