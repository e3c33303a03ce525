//! `links.*` from the HTML: plain http, text that shows another site, local hosts.

use super::*;

fn linked(href: &str, text: &str) -> String {
    with_html(&format!("<html lang=\"en\"><body><p><a href=\"{href}\">{text}</a></p></body></html>"))
}

#[test]
fn links_insecure_http() {
    let check =
        trips("links.insecure-http", Severity::Warning, &linked("http://shop.example/o/1", "Your order"), &envelope());
    assert_eq!(check.location.unwrap().element.as_deref(), Some("html > body > p:nth-of-type(1) > a:nth-of-type(1)"));
    let secure = run_checks(&linked("https://shop.example/o/1", "Your order"), &envelope());
    assert!(findings(&secure, "links.insecure-http").is_empty());
}

#[test]
fn links_text_href_mismatch() {
    let phishing = linked("https://login.evil.example/bank", "https://www.bank.example/login");
    let check = trips("links.text-href-mismatch", Severity::Warning, &phishing, &envelope());
    assert!(check.detail.contains("bank.example") && check.detail.contains("evil.example"), "{}", check.detail);
    trips(
        "links.text-href-mismatch",
        Severity::Warning,
        &linked("https://evil.example/", "bank.example/login"),
        &envelope(),
    );
    // The same site, a subdomain, or words: no mismatch.
    for (href, text) in [
        ("https://click.shop.example/t/1", "shop.example"),
        ("https://shop.example/o/1", "www.shop.example/o/1"),
        ("https://evil.example/", "Your order"),
        ("mailto:help@shop.example", "help@shop.example"),
    ] {
        let report = run_checks(&linked(href, text), &envelope());
        assert!(findings(&report, "links.text-href-mismatch").is_empty(), "{href} {text}");
    }
}

#[test]
fn links_localhost() {
    for href in
        ["http://localhost:3000/reset", "https://192.168.1.20/o", "http://[::1]:8080/", "https://app.localhost/"]
    {
        let check = trips("links.localhost", Severity::Warning, &linked(href, "Reset"), &envelope());
        assert!(check.detail.contains(href.trim_end_matches('/')), "{}", check.detail);
    }
    let public = run_checks(&linked("https://93.184.215.14/", "Reset"), &envelope());
    assert!(findings(&public, "links.localhost").is_empty());
}
