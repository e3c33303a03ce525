//! One message (message.rs): the full message, raw bytes, headers, parts and the
//! MIME tree, the envelope, thumbnails, and the `latest` and unknown IDs.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{ATTACHMENT_KEYS, Api, MESSAGE_KEYS, MULTIPART, keys, plain, set};

#[tokio::test]
async fn full_message_marks_read() {
    let api = Api::new().await;
    let id = api.submit(MULTIPART, Some("alice")).await;
    assert_eq!(api.read_flags().await, [(id.clone(), false)]);

    let message = api.get_json(&format!("/api/v1/message/{id}")).await;
    assert_eq!(keys(&message), set(MESSAGE_KEYS));
    assert_eq!(message["ID"], id.as_str());
    assert_eq!(message["MessageID"], "multi@example.com");
    assert_eq!(message["From"], json!({"Name": "Sender Smith", "Address": "sender@example.com"}));
    assert_eq!(message["To"], json!([{"Name": "Recipient Ross", "Address": "rcpt@example.com"}]));
    assert_eq!((message["Cc"].clone(), message["Bcc"].clone()), (json!([]), json!([])));
    assert_eq!(message["Subject"], "Café report 🐦");
    assert_eq!(message["ReturnPath"], "sender@example.com");
    assert_eq!(message["Date"], "2024-01-02T10:20:30-05:00");
    assert_eq!(message["Username"], "alice");
    assert_eq!(message["Size"], MULTIPART.len());
    assert_eq!(message["Text"].as_str().unwrap().trim_end(), "Plain body");
    assert!(message["HTML"].as_str().unwrap().contains("<p>HTML body"));
    assert_eq!(keys(&message["ListUnsubscribe"]), set(&["Header", "Links", "Errors", "HeaderPost"]));

    let inline = message["Inline"].as_array().unwrap();
    assert_eq!(inline.len(), 1);
    assert_eq!(keys(&inline[0]), set(ATTACHMENT_KEYS));
    assert_eq!(keys(&inline[0]["Checksums"]), set(&["MD5", "SHA1", "SHA256"]));
    assert_eq!(inline[0]["ContentID"], "logo@x");
    let attachments = message["Attachments"].as_array().unwrap();
    let names: Vec<&str> = attachments.iter().map(|a| a["FileName"].as_str().unwrap()).collect();
    assert_eq!(names, ["report.pdf", "page.html"]);
    assert_eq!(attachments[0]["PartID"], "2");
    assert_eq!(attachments[0]["ContentType"], "application/pdf");
    assert_eq!(attachments[0]["Size"], 9);

    assert_eq!(api.read_flags().await, [(id, true)]);
}

#[tokio::test]
async fn latest_and_unknown_ids() {
    let api = Api::new().await;
    for uri in
        ["/api/v1/message/latest", "/api/v1/message/latest/raw", "/api/v1/message/nope", "/api/v1/message/nope/headers"]
    {
        assert_eq!(api.get(uri).await.assert_error(StatusCode::NOT_FOUND), "Message not found", "{uri}");
    }

    let older = api.submit(&plain("Alpha"), None).await;
    let newer = api.submit(&plain("Beta"), None).await;
    assert_eq!(api.get_json("/api/v1/message/latest").await["ID"], newer.as_str());
    assert_eq!(api.get_json("/api/v1/message/latest?query=subject%3AAlpha").await["ID"], older.as_str());
    assert_eq!(api.get_json("/api/v1/message/latest?query=").await["ID"], newer.as_str());
    let missing = api.get("/api/v1/message/latest?query=subject%3AGamma").await;
    assert_eq!(missing.assert_error(StatusCode::NOT_FOUND), "Message not found");
    for suffix in ["", "/raw", "/headers", "/envelope", "/part/1"] {
        api.get(&format!("/api/v1/message/unknown{suffix}")).await.assert_error(StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn raw_is_the_exact_bytes() {
    let api = Api::new().await;
    // Bare LF, 8-bit bytes that are not UTF-8, no final newline: kept as they are.
    let raw = b"Subject: raw\nX-Latin1: caf\xe9\r\n\r\nline\n.dot\r\nend".to_vec();
    let id = api.submit(&raw, None).await;

    let answer = api.get(&format!("/api/v1/message/{id}/raw")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(&answer.body[..], &raw[..]);
    assert_eq!(answer.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(answer.header("content-disposition"), None);

    let download = api.get(&format!("/api/v1/message/{id}/raw?dl=1")).await;
    assert_eq!(&download.body[..], &raw[..]);
    assert_eq!(download.header("content-disposition").unwrap(), format!("attachment; filename=\"{id}.eml\""));

    let latest = api.get("/api/v1/message/latest/raw?dl=1").await;
    assert_eq!(latest.header("content-disposition").unwrap(), format!("attachment; filename=\"{id}.eml\""));
}

#[tokio::test]
async fn headers_are_canonical_and_decoded() {
    let api = Api::new().await;
    let id = api.submit(MULTIPART, None).await;
    let headers = api.get_json(&format!("/api/v1/message/{id}/headers")).await;
    assert_eq!(
        keys(&headers),
        set(&[
            "Content-Type",
            "Date",
            "From",
            "List-Unsubscribe",
            "List-Unsubscribe-Post",
            "Message-Id",
            "Mime-Version",
            "Subject",
            "To",
            "X-Folded",
        ])
    );
    assert_eq!(headers["Subject"], json!(["Café report 🐦"]));
    assert_eq!(headers["Message-Id"], json!(["<multi@example.com>"]));
}

#[tokio::test]
async fn parts_download() {
    let api = Api::new().await;
    let id = api.submit(MULTIPART, None).await;

    let pdf = api.get(&format!("/api/v1/message/{id}/part/2")).await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert_eq!(&pdf.body[..], b"%PDF-1.4\n");
    assert_eq!(pdf.header("content-type"), Some("application/pdf"));
    assert_eq!(
        pdf.header("content-disposition"),
        Some("inline; filename=\"report.pdf\"; filename*=UTF-8''report%2Epdf")
    );
    assert!(pdf.header("content-security-policy").unwrap().contains("sandbox"));

    let png = api.get(&format!("/api/v1/message/{id}/part/1.2")).await;
    assert_eq!(png.header("content-type"), Some("image/png"));
    assert_eq!(&png.body[..4], b"\x89PNG");

    // A document a browser would run is only offered as a download.
    let html = api.get(&format!("/api/v1/message/{id}/part/3")).await;
    assert_eq!(html.header("content-type"), Some("application/octet-stream"));
    assert!(html.header("content-disposition").unwrap().starts_with("attachment;"));

    // Bodies are parts too.
    let text = api.get("/api/v1/message/latest/part/1.1.1").await;
    assert_eq!(text.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(&text.body[..], b"Plain body");
    let html_body = api.get(&format!("/api/v1/message/{id}/part/1.1.2")).await;
    assert_eq!(
        (html_body.status, html_body.header("content-type")),
        (StatusCode::OK, Some("application/octet-stream"))
    );
    assert!(std::str::from_utf8(&html_body.body).unwrap().contains("<p>HTML body"));

    for part in ["9", "1", "1.2.3", "x"] {
        let message = api.get(&format!("/api/v1/message/{id}/part/{part}")).await.assert_error(StatusCode::NOT_FOUND);
        assert_eq!(message, "Part not found");
    }
}

#[tokio::test]
async fn parts_tree() {
    let api = Api::new().await;
    assert_eq!(api.get("/api/v1/message/nope/parts").await.assert_error(StatusCode::NOT_FOUND), "Message not found");
    let id = api.submit(MULTIPART, None).await;

    let tree = api.get_json(&format!("/api/v1/message/{id}/parts")).await;
    let node_keys = set(&["PartID", "ContentType", "FileName", "Size", "Headers", "Parts"]);
    assert_eq!(keys(&tree), node_keys);
    assert_eq!((&tree["PartID"], &tree["ContentType"]), (&json!(""), &json!("multipart/mixed")));
    assert_eq!(tree["Headers"][0], json!(["From", "Sender Smith <sender@example.com>"]));
    let ids = |node: &Value| -> Vec<String> {
        node["Parts"].as_array().unwrap().iter().map(|p| p["PartID"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(ids(&tree), ["1", "2", "3"]);
    assert_eq!(ids(&tree["Parts"][0]), ["1.1", "1.2"]);
    assert_eq!(ids(&tree["Parts"][0]["Parts"][0]), ["1.1.1", "1.1.2"]);
    let pdf = &tree["Parts"][1];
    assert_eq!(keys(pdf), node_keys);
    assert_eq!((&pdf["FileName"], &pdf["Size"], &pdf["Parts"]), (&json!("report.pdf"), &json!(9), &json!([])));

    // Every leaf downloads, with the size the tree gives.
    let mut stack = vec![tree];
    while let Some(node) = stack.pop() {
        let parts = node["Parts"].as_array().unwrap().clone();
        if parts.is_empty() {
            let part = api.get(&format!("/api/v1/message/{id}/part/{}", node["PartID"].as_str().unwrap())).await;
            assert_eq!(part.status, StatusCode::OK, "{node}");
            assert_eq!(json!(part.body.len()), node["Size"], "{node}");
        }
        stack.extend(parts);
    }

    let single = api.get_json("/api/v1/message/latest/parts").await;
    assert_eq!((&single["PartID"], &single["ContentType"]), (&json!(""), &json!("multipart/mixed")));
    api.submit(&plain("Single"), None).await;
    let single = api.get_json("/api/v1/message/latest/parts").await;
    assert_eq!(
        (&single["PartID"], &single["ContentType"], &single["Parts"]),
        (&json!("1"), &json!("text/plain"), &json!([]))
    );
}

#[tokio::test]
async fn envelope() {
    let api = Api::new().await;
    let id = api.submit(&plain("Env"), Some("bob")).await;
    let envelope = api.get_json(&format!("/api/v1/message/{id}/envelope")).await;
    assert_eq!(
        keys(&envelope),
        set(&["MailFrom", "RcptTo", "Helo", "Peer", "Tls", "AuthUser", "Transcript", "Api", "Simulation"])
    );
    assert_eq!(envelope["RcptTo"], json!(["b@example.com"]));
    assert_eq!(envelope["AuthUser"], "bob");
}

#[tokio::test]
async fn thumbnail_is_a_180_by_120_jpeg() {
    use base64::Engine as _;
    let api = Api::new().await;
    let mut png = Vec::new();
    image::RgbImage::from_pixel(600, 200, image::Rgb([0, 128, 0]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let raw = format!(
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: picture\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee attached\r\n\
         --b\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"green.png\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        base64::engine::general_purpose::STANDARD.encode(&png)
    );
    let id = api.submit(raw.as_bytes(), None).await;

    for part in ["2", "1"] {
        // The image, and the text part (not an image: a blank frame).
        let thumb = api.get(&format!("/api/v1/message/{id}/part/{part}/thumb")).await;
        assert_eq!((thumb.status, thumb.header("content-type")), (StatusCode::OK, Some("image/jpeg")));
        assert_eq!(image::guess_format(&thumb.body).unwrap(), image::ImageFormat::Jpeg);
        let decoded = image::load_from_memory(&thumb.body).unwrap().to_rgb8();
        assert_eq!(decoded.dimensions(), (180, 120));
        let centre = decoded.get_pixel(90, 60).0;
        let expected = if part == "2" { [0, 128, 0] } else { [255, 255, 255] };
        assert!(centre.iter().zip(expected).all(|(a, b)| a.abs_diff(b) < 12), "part {part}: {centre:?}");
    }
    let missing = api.get(&format!("/api/v1/message/{id}/part/7/thumb")).await;
    assert_eq!(missing.assert_error(StatusCode::NOT_FOUND), "Part not found");
    let missing = api.get("/api/v1/message/nope/part/2/thumb").await;
    assert_eq!(missing.assert_error(StatusCode::NOT_FOUND), "Message not found");
}
