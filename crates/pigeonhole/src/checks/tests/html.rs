//! `html.*`: client support, parse errors, external CSS, JavaScript, forms.

use super::*;

#[test]
fn html_client_support_names_the_worst_features() {
    let check = trips(
        "html.client-support",
        Severity::Warning,
        &with_html("<html lang=\"en\"><body><svg></svg><p>Thanks for your order.</p></body></html>"),
        &envelope(),
    );
    assert!(check.detail.contains("<svg>"), "{}", check.detail);
    trips(
        "html.client-support",
        Severity::Notice,
        &with_html(
            "<html lang=\"en\"><head><style>p { margin: 0 }</style></head><body><p>Thanks for your order.</p></body></html>",
        ),
        &envelope(),
    );
    let clean = run_checks(CLEAN, &envelope());
    let pass = clean.checks.iter().find(|check| check.id == "html.client-support").unwrap();
    assert_eq!(pass.severity, Severity::Pass);
}

#[test]
fn html_invalid_reports_structure_and_duplicate_ids() {
    let misnested = "<html lang=\"en\"><body><div><span>Thanks for your order.</div></body></html>";
    let check = trips("html.invalid", Severity::Warning, &with_html(misnested), &envelope());
    assert!(check.detail.contains("still open"), "{}", check.detail);

    let html = "<html lang=\"en\"><body><p id=\"a\">Thanks</p><p id=\"a\">for your order.</p></body></html>";
    let check = trips("html.invalid", Severity::Warning, &with_html(html), &envelope());
    assert!(check.detail.contains("\"a\""), "{}", check.detail);
    assert_eq!(pointed_at(&check, html), "<p id=\"a\">for your order.</p>");
}

#[test]
fn html_external_css() {
    let linked = "<html lang=\"en\"><head><link rel=\"stylesheet\" href=\"https://shop.example/a.css\"></head>\
                  <body><p>Thanks for your order.</p></body></html>";
    let check = trips("html.external-css", Severity::Warning, &with_html(linked), &envelope());
    assert!(check.detail.contains("a.css"), "{}", check.detail);
    assert!(pointed_at(&check, linked).starts_with("<link"));
    let imported = "<html lang=\"en\"><head><style>@import url(https://shop.example/a.css);</style></head>\
                    <body><p>Thanks for your order.</p></body></html>";
    trips("html.external-css", Severity::Warning, &with_html(imported), &envelope());
}

#[test]
fn html_javascript_in_scripts_handlers_and_urls() {
    for html in [
        "<html lang=\"en\"><body><script>alert(1)</script><p>Thanks for your order.</p></body></html>",
        "<html lang=\"en\"><body><p onclick=\"alert(1)\">Thanks for your order.</p></body></html>",
        "<html lang=\"en\"><body><p><a href=\" java\tscript:alert(1)\">Thanks for your order.</a></p></body></html>",
    ] {
        trips("html.javascript", Severity::Error, &with_html(html), &envelope());
    }
    // Structured data for Gmail's actions is not code.
    let data = "<html lang=\"en\"><body><script type=\"application/ld+json\">{}</script><p>Thanks for your order.</p></body></html>";
    assert!(findings(&run_checks(&with_html(data), &envelope()), "html.javascript").is_empty());
}

#[test]
fn html_forms_once_per_form() {
    let html = "<html lang=\"en\"><body><form action=\"https://shop.example/r\"><input name=\"q\"><button>Go</button></form>\
                <p>Thanks for your order.</p></body></html>";
    let report = run_checks(&with_html(html), &envelope());
    assert_eq!(findings(&report, "html.forms").len(), 1);
    trips("html.forms", Severity::Warning, &with_html(html), &envelope());
    let loose =
        "<html lang=\"en\"><body><p>Thanks for your order.</p><select><option>1</option></select></body></html>";
    trips("html.forms", Severity::Warning, &with_html(loose), &envelope());
}

#[test]
fn element_locations_are_valid_selectors_for_that_one_element() {
    let html = "<html lang=\"en\"><body><table role=\"presentation\"><tr><td>a</td></tr></table>\
                <table role=\"presentation\"><tr><td><img src=\"https://shop.example/a.png\" alt=\"\"></td>\
                <td><img src=\"https://shop.example/b.png\" alt=\"\"><o:p><img src=\"https://shop.example/c.png\"></o:p></td></tr></table>\
                <p>Thanks for your order.</p></body></html>";
    let check = trips("accessibility.img-alt-missing", Severity::Warning, &with_html(html), &envelope());
    assert_eq!(
        check.location.as_ref().unwrap().element.as_deref(),
        Some(
            "html > body > table:nth-of-type(2) > tbody:nth-of-type(1) > tr:nth-of-type(1) > td:nth-of-type(2) > \
             o\\:p:nth-of-type(1) > img:nth-of-type(1)"
        )
    );
    assert_eq!(pointed_at(&check, html), "<img src=\"https://shop.example/c.png\">");
}
