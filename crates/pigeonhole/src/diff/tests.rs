//! The whole report: the same mail sent twice compares equal, and each kind of
//! change shows in its own section.

use super::*;

/// A newsletter as a mail library writes it: multipart/alternative with a random
/// boundary, a Date and a Message-ID of its own each time.
fn newsletter(send: u32, price: &str) -> Vec<u8> {
    format!(
        "Received: from app.example.test by mx; Mon, 07 Dec 2026 10:00:0{send} +0000\n\
         From: Shop <news@shop.example.test>\nTo: alice@example.test\nSubject: Spring sale\n\
         Date: Mon, 07 Dec 2026 10:00:0{send} +0000\nMessage-ID: <send{send}@shop.example.test>\n\
         MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"b{send}x\"\n\n\
         --b{send}x\nContent-Type: text/plain; charset=utf-8\n\nEverything at {price}.\nSee you soon\n\
         --b{send}x\nContent-Type: text/html; charset=utf-8\n\n\
         <html><body><h1>Spring sale</h1><p class=\"price\">Everything at {price}.</p></body></html>\n\
         --b{send}x--\n"
    )
    .replace('\n', "\r\n")
    .into_bytes()
}

fn report(a: &[u8], b: &[u8], options: &DiffOptions) -> DiffReport {
    let envelope = Envelope::default();
    compare(Side { label: "a", raw: a, envelope: &envelope }, Side { label: "b", raw: b, envelope: &envelope }, options)
}

#[test]
fn the_same_mail_sent_twice_is_equal() {
    let diff = report(&newsletter(1, "$10"), &newsletter(2, "$10"), &DiffOptions::default());
    assert!(diff.equal, "{diff:#?}");
    let ignored: Vec<&str> = diff.headers.ignored.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(ignored, ["Date", "Message-Id", "Received"]);
    assert_eq!(diff.a.subject, "Spring sale");

    let with_volatile = DiffOptions { include_volatile: true, ..DiffOptions::default() };
    let diff = report(&newsletter(1, "$10"), &newsletter(2, "$10"), &with_volatile);
    assert!(!diff.equal);
    assert!(diff.headers.ignored.is_empty());
    assert_eq!(diff.headers.changes.len(), 3);
}

#[test]
fn a_changed_price_shows_in_text_and_html() {
    let diff = report(&newsletter(1, "$10"), &newsletter(2, "$12"), &DiffOptions::default());
    assert!(!diff.equal);
    assert!(diff.headers.equal && diff.checks.equal);
    assert!(!diff.text.equal && !diff.html.lines.equal);
    assert_eq!(diff.html.changed_b, ["html > body > p:nth-of-type(1)"]);
    // The text parts' sizes and checksums changed too.
    assert!(!diff.structure.lines.equal);
}

#[test]
fn the_report_serializes_with_equal_on_top() {
    let diff = report(&newsletter(1, "$10"), &newsletter(1, "$10"), &DiffOptions::default());
    let json = serde_json::to_value(&diff).unwrap();
    assert_eq!(json["Equal"], true);
    for section in ["Headers", "Text", "Html", "Structure", "Checks", "Options", "A", "B"] {
        assert!(json.get(section).is_some(), "{section}");
    }
    let back: DiffReport = serde_json::from_value(json).unwrap();
    assert_eq!(back, diff);
}

/// A visual section with `changed_percent` of the pixels changed, under `threshold`.
fn visual(changed_percent: f64, threshold: f64) -> VisualDiff {
    VisualDiff {
        width: 600,
        view: "as-sent".into(),
        dark: "none".into(),
        threshold,
        a_width: 600,
        a_height: 100,
        b_width: 600,
        b_height: 100,
        changed_pixels: (changed_percent * 600.0) as u64,
        total_pixels: 60_000,
        changed_percent,
        equal: changed_percent <= threshold,
        a_url: String::new(),
        b_url: String::new(),
        difference_url: String::new(),
    }
}

#[test]
fn with_screenshots_the_pixels_judge_the_html_body() {
    let styled = String::from_utf8(newsletter(2, "$10"))
        .unwrap()
        .replace("class=\"price\"", "class=\"price\" style=\"color:#111\"");
    let diff = report(&newsletter(1, "$10"), styled.as_bytes(), &DiffOptions::default());
    assert!(!diff.equal && diff.html.counted && !diff.html.lines.equal);
    assert!(!diff.structure.lines.equal && diff.structure.equal_apart_from_html, "only the HTML part's bytes changed");
    assert_eq!(
        diff.verdicts().iter().filter(|(_, equal)| !equal).map(|(name, _)| *name).collect::<Vec<_>>(),
        ["html", "structure"]
    );

    // A half-percent change within a 1% threshold: equal; the DOM diff stays, not counted.
    let passed = diff.clone().with_visual(visual(0.5, 1.0));
    assert!(passed.equal, "{:?}", passed.verdicts());
    assert!(!passed.html.counted && !passed.html.lines.equal);
    // Over a 0.1% threshold: different, by the pixels.
    let failed = diff.with_visual(visual(0.5, 0.1));
    assert!(!failed.equal);
    assert_eq!(
        failed.verdicts().iter().filter(|(_, equal)| !equal).map(|(name, _)| *name).collect::<Vec<_>>(),
        ["visual"]
    );

    // The text still counts: a changed price fails whatever the pixels say.
    let price =
        report(&newsletter(1, "$10"), &newsletter(2, "$12"), &DiffOptions::default()).with_visual(visual(0.0, 1.0));
    assert!(!price.equal);
    assert_eq!(
        price.verdicts().iter().filter(|(_, equal)| !equal).map(|(name, _)| *name).collect::<Vec<_>>(),
        ["text", "structure"]
    );
}
