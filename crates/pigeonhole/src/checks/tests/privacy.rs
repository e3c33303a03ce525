//! `privacy.*`: tracking pixels and remote content.

use super::*;

fn body(inner: &str) -> String {
    with_html(&format!("<html lang=\"en\"><body>{inner}</body></html>"))
}

#[test]
fn privacy_tracking_pixel() {
    for pixel in [
        "<img src=\"https://t.example/open.gif\" width=\"1\" height=\"1\" alt=\"\">",
        "<img src=\"https://t.example/open.gif\" style=\"width:1px;height:1px\" alt=\"\">",
        "<div style=\"display:none\"><img src=\"https://t.example/open.gif\" alt=\"\"></div>",
    ] {
        let check =
            trips("privacy.tracking-pixel", Severity::Notice, &body(&format!("<p>Thanks.</p>{pixel}")), &envelope());
        assert!(check.detail.contains("t.example/open.gif"), "{}", check.detail);
    }
    let logo = run_checks(
        &body("<img src=\"https://shop.example/logo.png\" width=\"120\" height=\"40\" alt=\"Shop\">"),
        &envelope(),
    );
    assert!(findings(&logo, "privacy.tracking-pixel").is_empty());
}

#[test]
fn privacy_remote_content_once_per_host() {
    let html = "<p style=\"background-image:url('https://cdn.shop.example/bg.png')\">Thanks</p>\
                <img src=\"https://cdn.shop.example/a.png\" alt=\"A\"><img src=\"//cdn.shop.example/b.png\" alt=\"B\">\
                <img src=\"cid:logo\" alt=\"Logo\"><style>@font-face { src: url(https://fonts.example/f.woff2) }</style>";
    let report = run_checks(&body(html), &envelope());
    let found = findings(&report, "privacy.remote-content");
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].detail.contains("1 background image, 2 images from \"cdn.shop.example\""), "{}", found[0].detail);
    assert!(found[1].detail.contains("1 style resource from \"fonts.example\""), "{}", found[1].detail);
    trips("privacy.remote-content", Severity::Notice, &body(html), &envelope());
}
