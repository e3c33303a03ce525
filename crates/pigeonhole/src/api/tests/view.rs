//! /view/{ID}.txt and .html (view.rs), the HTML part under its own policy.

use axum::body::Body;
use axum::http::{Method, StatusCode};

use super::{Api, HOST, MULTIPART, plain};
use crate::api::view;

#[tokio::test]
async fn view_text_part() {
    let api = Api::new().await;
    for uri in ["/view/latest.txt", "/view/nope.txt"] {
        assert_eq!(api.get(uri).await.assert_error(StatusCode::NOT_FOUND), "Message not found", "{uri}");
    }

    let multipart = api.submit(MULTIPART, None).await;
    let answer = api.get(&format!("/view/{multipart}.txt")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(std::str::from_utf8(&answer.body).unwrap().trim_end(), "Plain body");

    let simple = api.submit(&plain("Simple"), None).await;
    let latest = api.get("/view/latest.txt").await;
    assert_eq!(&latest.body[..], b"Body of Simple\r\n");
    let matching = api.get("/view/latest.txt?query=subject%3A%22Caf%C3%A9%20report%22").await;
    assert_eq!(std::str::from_utf8(&matching.body).unwrap().trim_end(), "Plain body");
    assert_eq!(api.get(&format!("/view/{simple}.txt")).await.status, StatusCode::OK);

    // Viewing is not reading.
    assert!(api.read_flags().await.iter().all(|(_, read)| !read));

    let attachment_only = concat!(
        "From: a@example.com\r\nSubject: Scan\r\nMIME-Version: 1.0\r\n",
        "Content-Type: application/pdf; name=\"scan.pdf\"\r\nContent-Disposition: attachment; filename=\"scan.pdf\"\r\n",
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
    );
    let no_text = api.submit(attachment_only.as_bytes(), None).await;
    let empty = api.get(&format!("/view/{no_text}.txt")).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.body.is_empty(), "{:?}", empty.body);

    // Only `.txt` and `.html` are served here.
    for uri in
        [format!("/view/{simple}"), format!("/view/{simple}.eml"), "/view/.txt".to_string(), "/view/.html".into()]
    {
        assert_eq!(api.get(&uri).await.assert_error(StatusCode::NOT_FOUND), "Not found", "{uri}");
    }
}

#[tokio::test]
async fn view_html_part() {
    // The sanitized document (`?embed=1`, the UI's preview).
    const BLOCK_REMOTE: &str = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; \
        font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";
    const ALLOW_REMOTE: &str = "default-src 'none'; img-src * data:; style-src * 'unsafe-inline'; \
        font-src * data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";
    // The part as sent: sandboxed, and images and fonts only from the message's parts.
    let part_policy = |id: &str| {
        format!(
            "sandbox; default-src 'none'; img-src {HOST}/api/v1/message/{id}/part/ data:; style-src 'unsafe-inline'; \
             font-src {HOST}/api/v1/message/{id}/part/ data:; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'self'"
        )
    };
    let part_policy_remote = format!("sandbox; {ALLOW_REMOTE}");

    let api = Api::new().await;
    assert_eq!(api.get("/view/nope.html").await.assert_error(StatusCode::NOT_FOUND), "Message not found");
    assert_eq!(api.get("/view/nope.html?embed=1").await.assert_error(StatusCode::NOT_FOUND), "Message not found");

    // As sent: the part's text byte for byte, but for its cid: URL.
    let multipart = api.submit(MULTIPART, None).await;
    let logo = format!("/api/v1/message/{multipart}/part/1.2");
    let answer = api.get(&format!("/view/{multipart}.html")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(answer.header("content-security-policy"), Some(part_policy(&multipart).as_str()));
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(answer.header("x-pigeonhole-remote-content"), Some("0"));
    assert_eq!(answer.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert_eq!(std::str::from_utf8(&answer.body).unwrap(), format!("<p>HTML body <img src=\"{logo}\"></p>"));

    // Sanitized, as a standalone document.
    let answer = api.get(&format!("/view/{multipart}.html?embed=1")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(answer.header("content-security-policy"), Some(BLOCK_REMOTE));
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(answer.header("x-pigeonhole-remote-content"), Some("0"));
    assert_eq!(answer.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let document = std::str::from_utf8(&answer.body).unwrap();
    assert!(document.contains("<meta charset=\"utf-8\"><base target=\"_blank\">"), "{document}");
    assert!(document.contains(&format!("<img src=\"{logo}\">")), "{document}");
    // The image the cid: pointed at is there.
    let image = api.get(&logo).await;
    assert_eq!((image.status, image.header("content-type")), (StatusCode::OK, Some("image/png")));

    let hostile_part = concat!(
        "<style>p { background: url(http://t.example.test/bg.png) }</style>\n",
        "<p>Hi<script>alert(1)</script><img src=x onerror=\"alert(2)\">",
        "<a href=\"javascript:alert(3)\">x</a><img src=\"http://t.example.test/p.gif\">",
        "<a href=\"https://ok.example.test/\" target=\"_self\" rel=\"opener\">ok</a></p>",
    );
    let hostile = format!(
        "From: a@example.com\r\nSubject: Hostile\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n{}\r\n",
        hostile_part.replace('\n', "\r\n")
    );
    let hostile = api.submit(hostile.as_bytes(), None).await;

    // As sent (line breaks as LF), script and all: the policy is what forbids it (a
    // sandbox without allow-scripts, and no script-src under default-src 'none').
    let answer = api.get(&format!("/view/{hostile}.html")).await;
    assert_eq!(std::str::from_utf8(&answer.body).unwrap().trim_end(), hostile_part);
    let policy = answer.header("content-security-policy").unwrap();
    assert_eq!(policy, part_policy(&hostile));
    assert!(policy.starts_with("sandbox; default-src 'none';") && !policy.contains("allow-"), "{policy}");
    assert!(!policy.contains("script-src") && !policy.contains("img-src 'self'"), "{policy}");
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(answer.header("x-pigeonhole-remote-content"), Some("2"));
    let remote = api.get(&format!("/view/{hostile}.html?remote=1")).await;
    assert_eq!(remote.header("content-security-policy"), Some(part_policy_remote.as_str()));
    assert_eq!(remote.body, answer.body);
    // A Host that cannot be written into the policy: no own-origin images at all.
    assert_eq!(
        view::part_policy(Some("[::1]:8025"), &hostile),
        "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
    );
    assert_eq!(view::part_policy(Some("a.test; script-src *"), &hostile), view::part_policy(None, "x"));
    // `dark` is for the sanitized document only.
    let dark = api.get(&format!("/view/{hostile}.html?dark=1")).await;
    assert_eq!(dark.body, answer.body);

    // Sanitized: no script, every link opening outside with no opener or referrer.
    let answer = api.get(&format!("/view/{hostile}.html?embed=1")).await;
    let document = std::str::from_utf8(&answer.body).unwrap();
    assert!(
        !document.contains("alert") && !document.contains("onerror") && !document.contains("<script"),
        "{document}"
    );
    assert!(document.contains("<a target=\"_blank\" rel=\"noreferrer noopener\">x</a>"), "{document}");
    assert!(
        document.contains("<a href=\"https://ok.example.test/\" target=\"_blank\" rel=\"noreferrer noopener\">ok</a>"),
        "{document}"
    );
    assert_eq!(answer.header("x-pigeonhole-remote-content"), Some("2"));
    assert_eq!(answer.header("content-security-policy"), Some(BLOCK_REMOTE));
    let remote = api.get(&format!("/view/{hostile}.html?embed=1&remote=1")).await;
    assert_eq!(remote.header("content-security-policy"), Some(ALLOW_REMOTE));
    assert_eq!(remote.body, answer.body);
    // The dark preview: the same document with dark defaults first, same policy.
    let dark = api.get(&format!("/view/{hostile}.html?embed=1&dark=1")).await;
    assert_eq!(dark.header("content-security-policy"), Some(BLOCK_REMOTE));
    let dark = std::str::from_utf8(&dark.body).unwrap();
    assert!(dark.contains("<style>:root{color-scheme:dark}</style>") && !dark.contains("alert"), "{dark}");
    // Only `embed=1` asks for it.
    let not_embed = api.get(&format!("/view/{hostile}.html?embed=0")).await;
    assert_eq!(not_embed.body, api.get(&format!("/view/{hostile}.html")).await.body);

    // HEAD tells the count without the document, in both forms; `latest` is the hostile one.
    for uri in ["/view/latest.html", "/view/latest.html?embed=1"] {
        let head = api.request(Method::HEAD, uri, Body::empty(), &[]).await;
        assert_eq!(head.status, StatusCode::OK, "{uri}");
        assert_eq!(head.header("x-pigeonhole-remote-content"), Some("2"), "{uri}");
        assert!(head.body.is_empty(), "{uri}");
    }

    let simple = api.submit(&plain("Simple"), None).await;
    for uri in [format!("/view/{simple}.html"), format!("/view/{simple}.html?embed=1")] {
        assert_eq!(api.get(&uri).await.assert_error(StatusCode::NOT_FOUND), "Message has no HTML part", "{uri}");
    }

    // Viewing is not reading.
    assert!(api.read_flags().await.iter().all(|(_, read)| !read));
}

/// HTML nested too deep is rendered flattened, and both the document and a header
/// say so; the part as sent is served whole, with no such header.
#[tokio::test]
async fn view_html_cut_to_bounds() {
    let api = Api::new().await;
    let html = format!("{}deep{}", "<div>".repeat(1_000), "</div>".repeat(1_000));
    let raw = format!("Subject: deep\r\nContent-Type: text/html\r\n\r\n{html}\r\n");
    let id = api.submit(raw.as_bytes(), None).await;
    let said = "nesting deeper than 512 levels flattened (488 tags)";

    let answer = api.get(&format!("/view/{id}.html?embed=1")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("x-pigeonhole-html-cut"), Some(said));
    let document = std::str::from_utf8(&answer.body).unwrap();
    assert!(document.contains(&format!("Pigeonhole shows this message shortened: {said}.")), "{document:.800}");

    let answer = api.get(&format!("/view/{id}.html")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("x-pigeonhole-html-cut"), None);
    assert_eq!(std::str::from_utf8(&answer.body).unwrap().trim_end(), html);

    let plain_html = api.submit(MULTIPART, None).await;
    assert_eq!(api.get(&format!("/view/{plain_html}.html?embed=1")).await.header("x-pigeonhole-html-cut"), None);
}

#[tokio::test]
async fn view_html_highlights_an_element() {
    const BLOCK_REMOTE: &str = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; \
        font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";
    let api = Api::new().await;
    let html = "<html><body><p>One</p><table><tr><td><img alt=\"first\"></td><td><img alt=\"second\"></td></tr></table></body></html>";
    let message = format!(
        "From: a@example.com\r\nSubject: Highlight\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n"
    );
    let id = api.submit(message.as_bytes(), None).await;
    let plain_view = api.get(&format!("/view/{id}.html?embed=1")).await;
    let plain_view = std::str::from_utf8(&plain_view.body).unwrap().to_string();

    // A check's path from the root (tbody is the parser's): that one image is marked.
    let selector =
        "html > body > table:nth-of-type(1) > tbody > tr:nth-of-type(1) > td:nth-of-type(2) > img:nth-of-type(1)";
    let query: String = percent_encoding::utf8_percent_encode(selector, percent_encoding::NON_ALPHANUMERIC).to_string();
    let answer = api.get(&format!("/view/{id}.html?embed=1&highlight={query}")).await;
    assert_eq!(answer.status, StatusCode::OK);
    // The mark's inline style is all it adds: the policy stays the preview's.
    assert_eq!(answer.header("content-security-policy"), Some(BLOCK_REMOTE));
    let document = std::str::from_utf8(&answer.body).unwrap();
    assert_eq!(document.matches("id=\"pigeonhole-highlight\"").count(), 1, "{document}");
    assert!(document.contains("<img alt=\"second\" id=\"pigeonhole-highlight\" style=\"outline:"), "{document}");
    assert!(document.contains("<td><img alt=\"first\"></td>"), "{document}");

    // The part as sent is marked the same way.
    let answer = api.get(&format!("/view/{id}.html?highlight=p")).await;
    let document = std::str::from_utf8(&answer.body).unwrap();
    assert!(document.contains("<p id=\"pigeonhole-highlight\" style=\"outline:"), "{document}");

    // A selector that matches nothing, or is not one: the preview unchanged.
    for selector in ["video", "html%20%3E%20body%20%3E%20p%3Anth-of-type(2)", "p%5B", "%3C%2Fp%3E"] {
        let answer = api.get(&format!("/view/{id}.html?embed=1&highlight={selector}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{selector}");
        assert_eq!(std::str::from_utf8(&answer.body).unwrap(), plain_view, "{selector}");
    }
}

/// `?view=` renders the message as a client shows it, says what it removed in a
/// header and at `/view-notes`; `?dark=` rewrites colours; unknown values are a
/// 400 naming the valid ones.
#[tokio::test]
async fn view_html_as_a_client_in_a_dark_mode() {
    let api = Api::new().await;
    let html = "<div style=\"border-radius: 6px; color: #000000; background-color: #ffffff\">Hi</div>";
    let raw = format!("Subject: styled\r\nContent-Type: text/html\r\n\r\n{html}\r\n");
    let id = api.submit(raw.as_bytes(), None).await;

    let outlook = api.get(&format!("/view/{id}.html?embed=1&view=outlook")).await;
    assert_eq!(outlook.status, StatusCode::OK);
    let document = std::str::from_utf8(&outlook.body).unwrap();
    assert!(!document.contains("border-radius"), "{document}");
    let header = outlook.header("x-pigeonhole-view-removed").expect("the removal header");
    let decoded = percent_encoding::percent_decode_str(header).decode_utf8().unwrap();
    let from_header: serde_json::Value = serde_json::from_str(&decoded).unwrap();
    assert_eq!(from_header["Removed"][0]["Feature"], "css-border-radius");
    let notes = api.get(&format!("/api/v1/message/{id}/view-notes?view=outlook")).await;
    assert_eq!(notes.status, StatusCode::OK);
    assert_eq!(notes.json(), from_header);
    assert_eq!(notes.json()["Summary"], "Outlook dropped 1 declaration: border-radius ×1");

    let as_sent = api.get(&format!("/view/{id}.html?embed=1")).await;
    assert!(std::str::from_utf8(&as_sent.body).unwrap().contains("border-radius"));

    let partial = api.get(&format!("/view/{id}.html?embed=1&view=outlook-com&dark=partial")).await;
    let document = std::str::from_utf8(&partial.body).unwrap();
    assert!(document.contains("background-color: #121212") && document.contains("color: #ededed"), "{document}");
    // `dark=1` is still `prefers`.
    let prefers = api.get(&format!("/view/{id}.html?embed=1&dark=1")).await;
    assert!(std::str::from_utf8(&prefers.body).unwrap().contains("color-scheme:dark"));

    let bad_view = api.get(&format!("/view/{id}.html?embed=1&view=lotus-notes")).await;
    let message = bad_view.assert_error(StatusCode::BAD_REQUEST);
    assert!(message.contains("as-sent, gmail, outlook, outlook-com, apple-mail, yahoo, gmail-android"), "{message}");
    let bad_dark = api.get(&format!("/view/{id}.html?embed=1&dark=sepia")).await;
    assert!(bad_dark.assert_error(StatusCode::BAD_REQUEST).contains("none, partial, full, prefers"));
    let bad_notes = api.get(&format!("/api/v1/message/{id}/view-notes?view=nope")).await;
    assert_eq!(bad_notes.status, StatusCode::BAD_REQUEST);
}
