//! `accessibility.*`: alt text, language, contrast, layout tables, link text, text size.

use super::*;

fn body(inner: &str) -> String {
    with_html(&format!("<html lang=\"en\"><body>{inner}</body></html>"))
}

#[test]
fn accessibility_img_alt_missing() {
    trips(
        "accessibility.img-alt-missing",
        Severity::Warning,
        &body("<img src=\"https://shop.example/logo.png\"><p>Thanks for your order.</p>"),
        &envelope(),
    );
    let decorative =
        run_checks(&body("<img src=\"https://shop.example/logo.png\" alt=\"\"><p>Thanks.</p>"), &envelope());
    assert!(findings(&decorative, "accessibility.img-alt-missing").is_empty());
}

#[test]
fn accessibility_lang_missing() {
    let check = trips(
        "accessibility.lang-missing",
        Severity::Warning,
        &with_html("<html><body><p>Thanks for your order.</p></body></html>"),
        &envelope(),
    );
    assert_eq!(check.location.unwrap().element.as_deref(), Some("html"));
}

#[test]
fn accessibility_low_contrast_from_inline_styles_rules_and_attributes() {
    let inline = "<p style=\"color:#999999\">Thanks for your order.</p>";
    let check = trips("accessibility.low-contrast", Severity::Warning, &body(inline), &envelope());
    assert!(check.detail.contains("#999999 on #ffffff: 2.85:1"), "{}", check.detail);
    assert_eq!(check.location.unwrap().element.as_deref(), Some("html > body > p:nth-of-type(1)"));

    let rule = "<style>.muted { color: rgb(170, 170, 170) }</style><p>Thanks</p><p class=\"muted\">for your order.</p>";
    let check = trips("accessibility.low-contrast", Severity::Warning, &body(rule), &envelope());
    assert_eq!(check.location.unwrap().element.as_deref(), Some("html > body > p:nth-of-type(2)"));

    let inherited = "<table bgcolor=\"navy\"><tr><td><font color=\"#000080\"><b>Sale</b></font></td></tr></table>";
    trips("accessibility.low-contrast", Severity::Warning, &body(inherited), &envelope());

    // Large bold text needs 3:1 (#888888 on white is 3.54:1); dark mode rules and text
    // on a background image are not judged.
    for fine in [
        "<h1 style=\"color:#888888\">Thanks for your order.</h1>",
        "<style>@media (prefers-color-scheme: dark) { p { color: #ffffff } }</style><p>Thanks</p>",
        "<div style=\"background:url(https://shop.example/hero.png)\"><p style=\"color:#ffffff\">Sale</p></div>",
        "<div style=\"display:none;color:#ffffff\">Preheader</div><p>Thanks</p>",
    ] {
        let report = run_checks(&body(fine), &envelope());
        assert!(
            findings(&report, "accessibility.low-contrast").is_empty(),
            "{fine}: {:?}",
            findings(&report, "accessibility.low-contrast")
        );
    }
}

#[test]
fn accessibility_layout_table_role() {
    let layout = "<table><tr><td><table role=\"presentation\"><tr><td>Thanks</td></tr></table></td></tr></table>";
    let report = run_checks(&body(layout), &envelope());
    let found = findings(&report, "accessibility.layout-table-role");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].location.as_ref().unwrap().element.as_deref(), Some("html > body > table:nth-of-type(1)"));
    trips("accessibility.layout-table-role", Severity::Warning, &body(layout), &envelope());
    let data = run_checks(&body("<table><tr><th>Item</th></tr><tr><td>Book</td></tr></table>"), &envelope());
    assert!(findings(&data, "accessibility.layout-table-role").is_empty());
}

#[test]
fn accessibility_link_text() {
    trips(
        "accessibility.link-text",
        Severity::Notice,
        &body("<p>Thanks for your order. <a href=\"https://shop.example/o/1\">Click here!</a></p>"),
        &envelope(),
    );
    trips(
        "accessibility.link-text",
        Severity::Warning,
        &body("<p><a href=\"https://shop.example/\"><img src=\"cid:logo\" alt=\"\"></a>Thanks.</p>"),
        &envelope(),
    );
    let named = run_checks(
        &body(
            "<p><a href=\"https://shop.example/\"><img src=\"https://shop.example/l.png\" alt=\"Shop\"></a> <a href=\"https://shop.example/o/1\">Track your order</a></p>",
        ),
        &envelope(),
    );
    assert!(findings(&named, "accessibility.link-text").is_empty());
}

#[test]
fn accessibility_small_text() {
    let check = trips(
        "accessibility.small-text",
        Severity::Notice,
        &body("<p>Thanks for your order.</p><p style=\"font-size:8pt\">Terms apply.</p>"),
        &envelope(),
    );
    assert!(check.detail.contains("10.7px"), "{}", check.detail);
    // font-size:0 hides the gaps between inline blocks; it is not text to read.
    let hidden =
        run_checks(&body("<div style=\"font-size:0\"> <p style=\"font-size:14px\">Thanks.</p> </div>"), &envelope());
    assert!(findings(&hidden, "accessibility.small-text").is_empty());
}
