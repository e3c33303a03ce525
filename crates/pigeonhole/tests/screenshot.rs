//! `GET /api/v1/message/{ID}/screenshot.png` and `pigeonhole screenshot` end to end:
//! the real binary, mail over SMTP, the real Chromium (`/usr/bin/chromium`, which
//! scripts/setup.sh installs), the PNGs decoded and their pixels read.

mod common;

use std::io::Cursor;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use image::{ImageFormat, Rgb, RgbImage};

/// The browser the tests use, as CI installs it.
const CHROMIUM: &str = "/usr/bin/chromium";

/// The engine's screenshot timeout (10 s) plus slack for a debug build reading and
/// sanitizing the HTML on a busy 2-core machine.
const BOUND: Duration = Duration::from_secs(30);

fn server() -> Server {
    Server::start_with(&["--browser", CHROMIUM])
}

/// A message with `html` as its HTML body and, if given, `image` as an inline part
/// with Content-ID `logo`.
fn message(subject: &str, html: &str, image: Option<&[u8]>) -> Vec<u8> {
    let head = format!(
        "From: sender@example.test\r\nTo: rcpt@example.test\r\nSubject: {subject}\r\n\
         Date: Mon, 7 Dec 2026 04:00:00 +0000\r\nMessage-ID: <{subject}@example.test>\r\nMIME-Version: 1.0\r\n"
    );
    match image {
        None => format!("{head}Content-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n").into_bytes(),
        Some(png) => {
            use base64::Engine as _;
            let encoded = base64::engine::general_purpose::STANDARD.encode(png);
            let lines: Vec<&str> =
                encoded.as_bytes().chunks(76).map(|line| std::str::from_utf8(line).unwrap()).collect();
            format!(
                "{head}Content-Type: multipart/related; boundary=b\r\n\r\n--b\r\n\
                 Content-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--b\r\n\
                 Content-Type: image/png\r\nContent-ID: <logo>\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
                lines.join("\r\n")
            )
            .into_bytes()
        }
    }
}

fn send(server: &Server, subject: &str, html: &str, image: Option<&[u8]>) -> String {
    send_one(server.smtp, "sender@example.test", "rcpt@example.test", &message(subject, html, image))
}

/// A solid PNG of `width` × `height` in `colour`.
fn solid_png(width: u32, height: u32, colour: [u8; 3]) -> Vec<u8> {
    let mut png = Vec::new();
    RgbImage::from_pixel(width, height, Rgb(colour)).write_to(&mut Cursor::new(&mut png), ImageFormat::Png).unwrap();
    png
}

/// GET the screenshot at `query`; the answer's status, headers and decoded image
/// (when it is a PNG), and how long it took.
fn screenshot(server: &Server, id: &str, query: &str) -> (u16, reqwest::header::HeaderMap, Option<RgbImage>, Duration) {
    let started = Instant::now();
    let answer = server.get(&format!("/api/v1/message/{id}/screenshot.png{query}"));
    let (status, headers) = (answer.status().as_u16(), answer.headers().clone());
    let body = answer.bytes().unwrap();
    let took = started.elapsed();
    let image = (status == 200).then(|| {
        assert_eq!(headers["content-type"], "image/png");
        image::load_from_memory_with_format(&body, ImageFormat::Png).expect("a PNG").to_rgb8()
    });
    if status != 200 {
        eprintln!("{status}: {}", String::from_utf8_lossy(&body));
    }
    (status, headers, image, took)
}

/// The `Error` of a JSON error answer.
fn error_of(server: &Server, path: &str) -> (u16, String) {
    let answer = server.get(path);
    let status = answer.status().as_u16();
    let json: serde_json::Value = answer.json().expect("a JSON error");
    (status, json["Error"].as_str().unwrap_or_default().to_string())
}

fn near(pixel: &Rgb<u8>, colour: [u8; 3]) -> bool {
    pixel.0.iter().zip(colour).all(|(&got, want)| got.abs_diff(want) <= 2)
}

#[test]
fn a_known_message_renders_at_its_size_in_its_colours_with_its_own_image() {
    let server = server();
    let html = "<html><body style=\"margin:0;background:#ff0000\">\
                <img src=\"cid:logo\" width=\"50\" height=\"50\" style=\"display:block\">\
                <div style=\"height:250px\"></div></body></html>";
    let id = send(&server, "known", html, Some(&solid_png(50, 50, [0, 0, 255])));

    let (status, headers, image, _) = screenshot(&server, &id, "?width=400");
    assert_eq!(status, 200);
    assert!(headers.get("x-pigeonhole-screenshot-cut").is_none());
    let image = image.unwrap();
    assert_eq!(image.dimensions(), (400, 300), "the window's width, the page's height");
    assert!(near(image.get_pixel(10, 10), [0, 0, 255]), "the inline image loaded: {:?}", image.get_pixel(10, 10));
    assert!(near(image.get_pixel(200, 200), [255, 0, 0]), "the background: {:?}", image.get_pixel(200, 200));
    assert!(near(image.get_pixel(399, 299), [255, 0, 0]), "no scroll bar or border");

    // The default width, `latest`, and several at once (they take turns).
    let (status, _, image, _) = screenshot(&server, "latest", "");
    assert_eq!(status, 200);
    assert_eq!(image.unwrap().dimensions(), (600, 300));
    let answers: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = [320, 768, 1024]
            .map(|width| {
                let (server, id) = (&server, &id);
                scope.spawn(move || screenshot(server, id, &format!("?width={width}")))
            })
            .into_iter()
            .collect();
        handles
            .into_iter()
            .zip([320, 768, 1024])
            .map(|(handle, width)| {
                let (status, _, image, _) = handle.join().unwrap();
                assert_eq!(image.map(|image| image.width()), Some(width));
                status
            })
            .collect()
    });
    assert_eq!(answers, [200, 200, 200]);

    // Cached: the same request again is answered without the browser.
    let (status, _, _, took) = screenshot(&server, &id, "?width=400");
    assert_eq!(status, 200);
    assert!(took < Duration::from_millis(500), "a cached screenshot took {took:?}");
}

#[test]
fn dark_is_passed_on_to_the_view() {
    let server = server();
    let id = send(&server, "dark", "<p style=\"margin:0;height:100px\">Plain text, no colours of its own</p>", None);
    let (_, _, light, _) = screenshot(&server, &id, "?width=300");
    let (_, _, dark, _) = screenshot(&server, &id, "?width=300&dark=1");
    let (light, dark) = (light.unwrap(), dark.unwrap());
    let brightness = |pixel: &Rgb<u8>| pixel.0.iter().map(|&c| u32::from(c)).sum::<u32>();
    assert!(brightness(light.get_pixel(290, 50)) > 700, "light: {:?}", light.get_pixel(290, 50));
    assert!(brightness(dark.get_pixel(290, 50)) < 150, "dark: {:?}", dark.get_pixel(290, 50));
}

#[test]
fn hostile_layouts_end_within_the_timeout_and_the_next_screenshot_works() {
    let server = server();
    let many = format!("<html><body>{}</body></html>", "<span>x</span>".repeat(100_000));
    let many = send(&server, "many", &many, None);
    let endless = send(&server, "endless", "<div style=\"height:100000000px;background:#00ff00\"></div>", None);
    let plain = send(&server, "plain", "<body style=\"margin:0;background:#0000ff\"><div style=\"height:80px\">", None);

    let (status, _, _, took) = screenshot(&server, &many, "?width=1000");
    assert!(status == 200 || status == 504, "100,000 elements: {status}");
    assert!(took < BOUND, "100,000 elements took {took:?}");

    let (status, headers, image, took) = screenshot(&server, &endless, "?width=200");
    assert!(took < BOUND, "the endless page took {took:?}");
    if status == 200 {
        assert_eq!(image.unwrap().dimensions(), (200, 16_384), "cut at the cap");
        let cut = headers["x-pigeonhole-screenshot-cut"].to_str().unwrap();
        assert!(cut.contains("stops at 16384 px"), "{cut}");
    } else {
        assert_eq!(status, 504);
    }

    let (status, _, image, took) = screenshot(&server, &plain, "?width=250");
    assert_eq!(status, 200, "the engine still takes screenshots");
    assert_eq!(image.unwrap().dimensions(), (250, 80));
    assert!(took < BOUND);
}

#[test]
fn no_request_leaves_the_browser() {
    let canary = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = canary.local_addr().unwrap().port();
    canary.set_nonblocking(true).unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    std::thread::spawn(move || {
        loop {
            if canary.accept().is_ok() {
                counted.fetch_add(1, Ordering::SeqCst);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let server = server();
    let url = format!("http://127.0.0.1:{port}");
    let html = format!(
        "<html><head><style>@import url({url}/import.css); body {{ margin:0 }}</style>\
         <link rel=\"stylesheet\" href=\"{url}/link.css\"></head><body>\
         <img src=\"{url}/img.png\" width=\"20\" height=\"20\">\
         <div style=\"height:50px;background-image:url({url}/background.png)\">text</div>\
         <table background=\"{url}/table.png\"><tr><td>cell</td></tr></table></body></html>"
    );
    let id = send(&server, "remote", &html, None);
    let (status, _, _, _) = screenshot(&server, &id, "?width=300");
    assert_eq!(status, 200);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(connections.load(Ordering::SeqCst), 0, "the browser reached the network");
}

#[test]
fn errors_say_what_to_do() {
    let server = Server::start_with(&["--browser", "/nonexistent/chromium"]);
    let id = send(&server, "nobrowser", "<p>hello</p>", None);
    let (status, error) = error_of(&server, &format!("/api/v1/message/{id}/screenshot.png"));
    assert_eq!(status, 501);
    assert!(error.contains("/nonexistent/chromium") && error.contains("apt install chromium"), "{error}");

    for width in ["100", "2001", "wide"] {
        let (status, error) = error_of(&server, &format!("/api/v1/message/{id}/screenshot.png?width={width}"));
        assert_eq!(status, 400, "width {width}");
        assert!(error.contains("200 to 2000"), "{error}");
    }
    let (status, _) = error_of(&server, "/api/v1/message/nosuchmessage/screenshot.png");
    assert_eq!(status, 404);
    let text_only = send_one(
        server.smtp,
        "sender@example.test",
        "rcpt@example.test",
        b"From: a@example.test\r\nTo: b@example.test\r\nSubject: text\r\n\r\nplain text only\r\n",
    );
    let (status, error) = error_of(&server, &format!("/api/v1/message/{text_only}/screenshot.png"));
    assert_eq!((status, error.as_str()), (404, "Message has no HTML part"), "the view route's own answer");
}

#[test]
fn the_cli_writes_the_png_or_exits_2() {
    let server = server();
    send(&server, "cli", "<body style=\"margin:0\"><div style=\"height:120px\">hello</div>", None);
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("shot.png");
    let url = format!("http://{}", server.http);
    let run = |args: &[&str]| {
        let mut cmd = without_settings(std::process::Command::new(BIN));
        cmd.arg("screenshot").args(args);
        run_to_exit(cmd, IO_TIMEOUT)
    };
    let done = run(&["latest", "--url", &url, "--width", "320", "-o", file.to_str().unwrap()]);
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    let image = image::open(&file).unwrap();
    assert_eq!((image.width(), image.height()), (320, 120));

    let missing = run(&["nosuchmessage", "--url", &url, "-o", file.to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(missing.stderr.contains("404"), "{}", missing.stderr);
    let bad_width = run(&["latest", "--url", &url, "--width", "50", "-o", file.to_str().unwrap()]);
    assert_eq!(bad_width.status.code(), Some(2));
    assert!(bad_width.stderr.contains("200 to 2000"), "{}", bad_width.stderr);
    let nobody = run(&["latest", "--url", "http://127.0.0.1:9", "-o", file.to_str().unwrap()]);
    assert_eq!(nobody.status.code(), Some(2));
    assert!(nobody.stderr.contains("pigeonhole serve"), "{}", nobody.stderr);
}

/// A page of two blocks, the second with `background` as its colour.
fn two_blocks(background: &str) -> String {
    format!(
        "<body style=\"margin:0;background:#fff\"><div style=\"height:100px\">hello</div>\
         <div style=\"height:50px;background:{background}\"></div></body>"
    )
}

#[test]
fn the_visual_diff_counts_changed_pixels_and_gates_equal() {
    let server = server();
    let white = send(&server, "visual-white", &two_blocks("#ffffff"), None);
    let again = send(&server, "visual-white", &two_blocks("#ffffff"), None);
    let grey = send(&server, "visual-grey", &two_blocks("#eeeeee"), None);

    let same = server.get_json(&format!("/api/v1/diff?a={white}&b={again}&visual=1&width=300"));
    let visual = &same["Visual"];
    assert_eq!((visual["ChangedPixels"].as_u64(), visual["TotalPixels"].as_u64()), (Some(0), Some(300 * 150)));
    assert_eq!((visual["Equal"].as_bool(), same["Equal"].as_bool()), (Some(true), Some(true)), "{same}");
    assert_eq!((visual["View"].as_str(), visual["Dark"].as_str()), (Some("as-sent"), Some("none")));

    let differ = server.get_json(&format!("/api/v1/diff?a={white}&b={grey}&visual=1&width=300&ignore=Subject"));
    let visual = &differ["Visual"];
    // Exactly the second block: 300 × 50 pixels of 300 × 150.
    assert_eq!(visual["ChangedPixels"].as_u64(), Some(300 * 50), "{visual}");
    assert!(visual["ChangedPercent"].as_f64().unwrap() > 33.0);
    assert_eq!((visual["Equal"].as_bool(), differ["Equal"].as_bool()), (Some(false), Some(false)));
    // A threshold above the change calls them equal; the screenshots judge the HTML
    // body, so its changed markup no longer counts (the Subject still does).
    let lenient = server.get_json(&format!("/api/v1/diff?a={white}&b={grey}&visual=1&width=300&threshold=40"));
    assert_eq!(lenient["Visual"]["Equal"].as_bool(), Some(true));
    assert_eq!(
        (lenient["Html"]["Lines"]["Equal"].as_bool(), lenient["Html"]["Counted"].as_bool()),
        (Some(false), Some(false))
    );
    assert_eq!((lenient["Headers"]["Equal"].as_bool(), lenient["Equal"].as_bool()), (Some(false), Some(false)));
    let ignoring_subject = server.get_json(&format!(
        "/api/v1/diff?a={white}&b={grey}&visual=1&width=300&threshold=40&ignore=Subject,Message-ID"
    ));
    assert_eq!(ignoring_subject["Equal"].as_bool(), Some(true), "{ignoring_subject}");

    // The URLs it gives answer with the screenshots and the difference image.
    let difference = server.get(visual["DifferenceUrl"].as_str().unwrap());
    assert_eq!(difference.headers()["content-type"], "image/png");
    let difference =
        image::load_from_memory_with_format(&difference.bytes().unwrap(), ImageFormat::Png).unwrap().to_rgb8();
    assert_eq!(difference.dimensions(), (300, 150));
    assert_eq!(*difference.get_pixel(150, 125), Rgb([0xff, 0, 0xff]), "a changed pixel is magenta");
    assert_ne!(*difference.get_pixel(150, 50), Rgb([0xff, 0, 0xff]), "an unchanged one is not");
    for url in ["AUrl", "BUrl"] {
        let shot = server.get(visual[url].as_str().unwrap());
        assert_eq!((shot.status().as_u16(), shot.headers()["content-type"].to_str().unwrap()), (200, "image/png"));
    }

    let (status, error) = error_of(&server, &format!("/api/v1/diff?a={white}&b={grey}&visual=1&threshold=much"));
    assert_eq!(status, 400);
    assert!(error.contains("0 to 100"), "{error}");
}

/// The PNG at `url`, decoded; the test fails on any other answer.
fn png_at(server: &Server, url: &str) -> RgbImage {
    let answer = server.get(url);
    assert_eq!(answer.status().as_u16(), 200, "{url}");
    assert_eq!(answer.headers()["content-type"], "image/png", "{url}");
    image::load_from_memory_with_format(&answer.bytes().unwrap(), ImageFormat::Png).expect("a PNG").to_rgb8()
}

/// A visual diff's `AUrl`, `BUrl` and `DifferenceUrl` answer PNGs of the sizes it
/// gives (the difference image is the size of both together).
fn assert_report_images(server: &Server, visual: &serde_json::Value) {
    let size = |width: &str, height: &str| (visual[width].as_u64().unwrap(), visual[height].as_u64().unwrap());
    let (a, b) = (size("AWidth", "AHeight"), size("BWidth", "BHeight"));
    for (url, (width, height)) in [("AUrl", a), ("BUrl", b), ("DifferenceUrl", (a.0.max(b.0), a.1.max(b.1)))] {
        let image = png_at(server, visual[url].as_str().unwrap());
        assert_eq!((u64::from(image.width()), u64::from(image.height())), (width, height), "{url}: {visual}");
    }
}

/// POST a diff request; its status and JSON body.
fn post_diff(server: &Server, query: &str, content_type: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
    let answer = server
        .client()
        .post(server.url(&format!("/api/v1/diff?{query}")))
        .header("content-type", content_type)
        .body(body)
        .send()
        .unwrap();
    (answer.status().as_u16(), answer.json().expect("a JSON answer"))
}

#[test]
fn the_visual_diff_renders_posted_files_from_their_bytes() {
    let server = server();
    let white = send(&server, "visual-file", &two_blocks("#ffffff"), None);
    let stored_count = || server.get_json("/api/v1/messages")["total"].as_u64();
    let before = stored_count();

    // The file differs only in a colour: exactly the second block changed.
    let grey = message("visual-file", &two_blocks("#eeeeee"), None);
    let (status, differ) =
        post_diff(&server, &format!("a={white}&visual=1&width=300&name=grey.eml"), "message/rfc822", grey);
    assert_eq!(status, 200, "{differ}");
    let visual = &differ["Visual"];
    assert_eq!(visual["ChangedPixels"].as_u64(), Some(300 * 50), "{visual}");
    assert_eq!((visual["Equal"].as_bool(), differ["Equal"].as_bool()), (Some(false), Some(false)));
    assert_eq!(differ["B"]["Label"], "grey.eml");
    // The stored side's screenshot is its route's; the file's and the difference
    // image are answered from the screenshot cache, at the report's sizes.
    assert!(visual["AUrl"].as_str().unwrap().starts_with(&format!("/api/v1/message/{white}/")), "{visual}");
    assert_report_images(&server, visual);
    let difference = png_at(&server, visual["DifferenceUrl"].as_str().unwrap());
    assert_eq!(*difference.get_pixel(150, 125), Rgb([0xff, 0, 0xff]), "a changed pixel is magenta");
    let file_shot = png_at(&server, visual["BUrl"].as_str().unwrap());
    assert!(near(file_shot.get_pixel(150, 125), [0xee, 0xee, 0xee]), "the file's own colours");
    for unknown in ["/api/v1/diff/capture/0000.png", "/api/v1/diff/capture/..%2F..%2Fetc%2Fpasswd"] {
        let (status, error) = error_of(&server, unknown);
        assert_eq!((status, error.as_str()), (404, "the screenshot is no longer cached; compare again"));
    }
    // Only what a diff published: a stored message's screenshot is not answered by
    // its cache key, even when it is cached.
    let key = |url: &str| url.rsplit('/').next().unwrap().trim_end_matches(".png").to_string();
    let published = key(visual["BUrl"].as_str().unwrap());
    assert_eq!(published.len(), 64, "an opaque SHA-256 key: {published}");
    let stored_key: String = {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(format!("300 /view/{white}.html?embed=1"));
        digest.iter().map(|byte| format!("{byte:02x}")).collect()
    };
    let (status, _) = error_of(&server, &format!("/api/v1/diff/capture/{stored_key}.png"));
    assert_eq!(status, 404, "a stored message's cached screenshot is not published");

    // The same bytes as the stored message, as `a` this time: equal.
    let (status, same) =
        post_diff(&server, &format!("b={white}&visual=1&width=300"), "message/rfc822", server.raw(&white));
    assert_eq!(status, 200, "{same}");
    assert_eq!(same["Visual"]["ChangedPixels"].as_u64(), Some(0), "{same}");
    assert_eq!((same["Visual"]["Equal"].as_bool(), same["Equal"].as_bool()), (Some(true), Some(true)), "{same}");

    // Two files, neither stored, as JSON; each one's inline image comes from its own
    // bytes: only the 50 × 50 logo differs.
    use base64::Engine as _;
    let logo = |colour| {
        let html = "<body style=\"margin:0;background:#fff\"><img src=\"cid:logo\" width=\"50\" height=\"50\" \
                    style=\"display:block\"><div style=\"height:50px\"></div></body>";
        base64::engine::general_purpose::STANDARD.encode(message("logo", html, Some(&solid_png(50, 50, colour))))
    };
    let files = |b_colour| {
        serde_json::to_vec(&serde_json::json!({
            "A": { "Name": "blue.eml", "Eml": logo([0, 0, 255]) },
            "B": { "Name": "other.eml", "Eml": logo(b_colour) },
        }))
        .unwrap()
    };
    let (status, logos) = post_diff(&server, "visual=1&width=300", "application/json", files([255, 0, 0]));
    assert_eq!(status, 200, "{logos}");
    assert_eq!(logos["Visual"]["ChangedPixels"].as_u64(), Some(50 * 50), "{logos}");
    assert_report_images(&server, &logos["Visual"]);
    let a_shot = png_at(&server, logos["Visual"]["AUrl"].as_str().unwrap());
    assert!(near(a_shot.get_pixel(25, 25), [0, 0, 255]), "A's logo from A's bytes");
    assert_eq!((logos["A"]["Label"].as_str(), logos["B"]["Label"].as_str()), (Some("blue.eml"), Some("other.eml")));
    let (_, same_logos) = post_diff(&server, "visual=1&width=300", "application/json", files([0, 0, 255]));
    assert_eq!((same_logos["Visual"]["ChangedPixels"].as_u64(), same_logos["Equal"].as_bool()), (Some(0), Some(true)));

    let (status, error) = post_diff(&server, &format!("a={white}"), "application/json", files([0, 0, 255]));
    assert_eq!(status, 400);
    assert!(error["Error"].as_str().unwrap().contains("leave out ?a="), "{error}");
    let (status, error) = post_diff(
        &server,
        "",
        "application/json",
        br#"{"A":{"Name":"x","Eml":"!"},"B":{"Name":"y","Eml":""}}"#.to_vec(),
    );
    assert_eq!(status, 400);
    assert!(error["Error"].as_str().unwrap().contains("not base64"), "{error}");
    assert_eq!(stored_count(), before, "nothing posted was stored");
}

#[test]
fn the_cli_visual_diff_takes_files() {
    let server = server();
    let white = send(&server, "cli-file", &two_blocks("#ffffff"), None);
    let url = format!("http://{}", server.http);
    let run = |args: &[&str]| {
        let mut cmd = without_settings(std::process::Command::new(BIN));
        cmd.arg("diff").args(args).args(["--url", &url, "--visual", "--width", "300"]);
        run_to_exit(cmd, IO_TIMEOUT)
    };
    let folder = tempfile::tempdir().unwrap();
    let file = |name: &str, bytes: &[u8]| {
        let path = folder.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_string()
    };
    let same = file("same.eml", &server.raw(&white));
    let grey = file("grey.eml", &message("cli-file", &two_blocks("#eeeeee"), None));

    let equal = run(&[&same, &white]);
    assert_eq!(equal.status.code(), Some(0), "{}{}", equal.stdout, equal.stderr);
    assert!(equal.stdout.contains("visual: 0 of 45000 pixels changed (0%)"), "{}", equal.stdout);

    let changed = run(&[&white, &grey, "--json"]);
    assert_eq!(changed.status.code(), Some(1), "{}{}", changed.stdout, changed.stderr);
    let report: serde_json::Value = serde_json::from_str(&changed.stdout).unwrap();
    assert_eq!(
        (report["Visual"]["Equal"].as_bool(), report["Visual"]["ChangedPixels"].as_u64()),
        (Some(false), Some(300 * 50))
    );

    // Two files: posted together.
    let files = run(&[&same, &grey]);
    assert_eq!(files.status.code(), Some(1), "{}{}", files.stdout, files.stderr);
    assert!(files.stdout.contains("visual: 15000 of 45000 pixels changed"), "{}", files.stdout);
    assert!(files.stdout.contains("difference image: /api/v1/diff/capture/"), "{}", files.stdout);
    let same_files = run(&[&same, &file("again.eml", &server.raw(&white))]);
    assert_eq!(same_files.status.code(), Some(0), "{}{}", same_files.stdout, same_files.stderr);
}

#[test]
fn the_visual_diff_answers_501_without_a_browser() {
    let server = Server::start_with(&["--browser", "/nonexistent/chromium"]);
    let id = send(&server, "nobrowser", "<p>hello</p>", None);
    let (status, error) = error_of(&server, &format!("/api/v1/diff?a={id}&b={id}&visual=1"));
    assert_eq!(status, 501);
    assert!(error.contains("/nonexistent/chromium"), "{error}");
    let (status, _) = error_of(&server, &format!("/api/v1/diff.png?a={id}&b={id}"));
    assert_eq!(status, 501);
    // Without `visual` the diff needs no browser.
    assert_eq!(server.get(&format!("/api/v1/diff?a={id}&b={id}")).status().as_u16(), 200);
}

#[test]
fn the_cli_visual_diff_exits_by_the_threshold() {
    let server = server();
    let white = send(&server, "cli-visual", &two_blocks("#ffffff"), None);
    let again = send(&server, "cli-visual", &two_blocks("#ffffff"), None);
    // A template's small change: a 15 by 15 square of 300 by 150 pixels (0.5 %), a
    // new element in the markup.
    let dotted = "<body style=\"margin:0;background:#fff\"><div style=\"height:100px\">hello</div>\
                  <div style=\"height:50px;background:#ffffff\"><div style=\"width:15px;height:15px;background:#000\"></div></div></body>";
    let dot = send(&server, "cli-visual", dotted, None);
    let url = format!("http://{}", server.http);
    let run = |args: &[&str]| {
        let mut cmd = without_settings(std::process::Command::new(BIN));
        cmd.arg("diff").args(args).args(["--url", &url, "--visual", "--width", "300"]);
        run_to_exit(cmd, IO_TIMEOUT)
    };
    let equal = run(&[&white, &again]);
    assert_eq!(equal.status.code(), Some(0), "{}{}", equal.stdout, equal.stderr);
    assert!(
        equal.stdout.contains("visual: 0 of 45000 pixels changed (0%) at 300px, view as-sent, dark none"),
        "{}",
        equal.stdout
    );

    let changed = run(&[&white, &dot]);
    assert_eq!(changed.status.code(), Some(1), "{}{}", changed.stdout, changed.stderr);
    assert!(changed.stdout.contains("visual: 225 of 45000 pixels changed (0.5%)"), "{}", changed.stdout);
    assert!(changed.stderr.contains("(visual)"), "only the pixels count: {}", changed.stderr);

    // The screenshots judge the HTML body: a threshold over the change passes it
    // although the markup changed (printed, informational), one under it does not.
    let passed = run(&[&white, &dot, "--threshold", "1"]);
    assert_eq!(passed.status.code(), Some(0), "{}{}", passed.stdout, passed.stderr);
    assert!(passed.stdout.contains("informational, the screenshots judge it"), "{}", passed.stdout);
    let failed = run(&[&white, &dot, "--threshold", "0.1"]);
    assert_eq!(failed.status.code(), Some(1), "{}{}", failed.stdout, failed.stderr);
    let json = run(&[&white, &dot, "--json", "--threshold", "1"]);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!((report["Equal"].as_bool(), report["Visual"]["Equal"].as_bool()), (Some(true), Some(true)));
    assert_eq!(
        (report["Html"]["Lines"]["Equal"].as_bool(), report["Html"]["Counted"].as_bool()),
        (Some(false), Some(false))
    );
    assert_eq!(report["Visual"]["Threshold"].as_f64(), Some(1.0));
    assert_eq!(json.status.code(), Some(0));

    // A changed text still fails, whatever the pixels say.
    let words = send(&server, "cli-visual", &two_blocks("#ffffff").replace("hello", "hullo"), None);
    let text = run(&[&white, &words, "--threshold", "50"]);
    assert_eq!(text.status.code(), Some(1), "{}{}", text.stdout, text.stderr);
    assert!(text.stderr.contains("(text)"), "{}", text.stderr);
}
