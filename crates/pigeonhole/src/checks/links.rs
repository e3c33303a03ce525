//! The message's links: their scheme, their visible text against their target,
//! local addresses left in templates, and (when the link check ran) their status.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::LazyLock;

use regex::Regex;
use reqwest::Url;
use scraper::ElementRef;

use super::markup::{self, element_location, starts_with_ignore_case};
use super::{Findings, Input, Spec, quote};
use crate::mail::linkcheck;
use crate::model::{Category, Severity};

pub(super) const INSECURE_HTTP: Spec = Spec {
    id: "links.insecure-http",
    category: Category::Links,
    title: "Links use https",
    fix: "A plain http:// link can be read and changed on the way, and browsers mark the \
          page it opens as not secure. Link to the https:// address.",
    reference: "https://developer.mozilla.org/en-US/docs/Web/Security/Mixed_content",
};

pub(super) const TEXT_HREF_MISMATCH: Spec = Spec {
    id: "links.text-href-mismatch",
    category: Category::Links,
    title: "Link text that shows an address leads there",
    fix: "The text of the link shows one site's address and the link goes to another: \
          this is what phishing looks like, and filters and careful readers treat it so. \
          Show the real destination, or use words instead of an address as the text.",
    reference: "https://www.rfc-editor.org/rfc/rfc3986#section-7.6",
};

pub(super) const LOCALHOST: Spec = Spec {
    id: "links.localhost",
    category: Category::Links,
    title: "No links to this machine or a private network",
    fix: "A link to localhost or a private, loopback or link-local address works only on \
          the sender's machine or network: a template still has a development base URL. \
          Configure the public base URL for the environment that sends real mail.",
    reference: "https://www.rfc-editor.org/rfc/rfc6890",
};

pub(super) const BROKEN: Spec = Spec {
    id: "links.broken",
    category: Category::Links,
    title: "Links answer",
    fix: "A link answered with an error or not at all: recipients who click it land on an \
          error page. Fix the URL in the template, or the page it points at.",
    reference: "https://mailpit.axllent.org/docs/usage/link-check/",
};

pub(super) const SPECS: &[&Spec] = &[&INSECURE_HTTP, &TEXT_HREF_MISMATCH, &LOCALHOST, &BROKEN];

/// Link text that is a bare domain with an optional path (`shop.example/orders`).
static BARE_DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:[a-z0-9-]+\.)+[a-z]{2,}(?:[/?#:]\S*)?$").expect("the bare domain pattern compiles")
});

pub(super) fn run(input: &Input<'_>, findings: &mut Findings) {
    match input.document() {
        None => {
            for spec in [&INSECURE_HTTP, &TEXT_HREF_MISMATCH, &LOCALHOST] {
                findings.not_applicable(spec);
            }
        }
        Some(document) => {
            let anchors = document
                .tree
                .nodes()
                .filter_map(ElementRef::wrap)
                .filter(|element| matches!(element.value().name(), "a" | "area"));
            // Mail repeats its links; each distinct one is parsed once.
            let mut local_hosts = HashMap::new();
            for anchor in anchors {
                if let Some(href) = anchor.value().attr("href") {
                    check_anchor(anchor, href.trim(), &mut local_hosts, findings);
                }
            }
        }
    }
    broken(input, findings);
}

fn check_anchor<'d>(
    anchor: ElementRef<'d>,
    href: &'d str,
    local_hosts: &mut HashMap<&'d str, Option<&'static str>>,
    findings: &mut Findings,
) {
    if !markup::is_remote(href) {
        return;
    }
    if starts_with_ignore_case(href, "http://") {
        findings.raise_with(&INSECURE_HTTP, Severity::Warning, || {
            (format!("The link {} is not https.", quote(href)), element_location(anchor))
        });
    }
    let local = *local_hosts.entry(href).or_insert_with(|| {
        let absolute = if href.starts_with("//") { format!("https:{href}") } else { href.to_string() };
        Url::parse(&absolute).ok().as_ref().and_then(local_host)
    });
    if let Some(reason) = local {
        findings.raise_with(&LOCALHOST, Severity::Warning, || {
            (format!("The link {} points at a {reason}.", quote(href)), element_location(anchor))
        });
    }
    let text = markup::text(anchor);
    if let Some(shown) = shown_host(&text)
        && let Some(target) = markup::host(href)
        && !related(&shown, &target)
    {
        findings.raise_with(&TEXT_HREF_MISMATCH, Severity::Warning, || {
            (
                format!(
                    "The link text {} shows {} but the link goes to {}.",
                    quote(&text),
                    quote(&shown),
                    quote(&target)
                ),
                element_location(anchor),
            )
        });
    }
}

/// Why `url`'s host is this machine or a local network, or `None`.
fn local_host(url: &Url) -> Option<&'static str> {
    let host = url.host_str()?;
    match host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        Ok(address) => linkcheck::refusal(address),
        Err(_) => {
            let name = host.trim_end_matches('.').to_ascii_lowercase();
            (name == "localhost" || name.ends_with(".localhost")).then_some("loopback name")
        }
    }
}

/// The host a link's text shows, when the text is an address.
fn shown_host(text: &str) -> Option<String> {
    let text = text.trim();
    if markup::is_remote(text) {
        return markup::host(text);
    }
    if BARE_DOMAIN.is_match(text) && !text.contains('@') {
        return markup::host(&format!("https://{text}"));
    }
    None
}

/// The same site: one host is the other or a subdomain of it.
fn related(a: &str, b: &str) -> bool {
    let under = |sub: &str, parent: &str| sub.strip_suffix(parent).is_some_and(|rest| rest.ends_with('.'));
    a == b || under(a, b) || under(b, a)
}

fn broken(input: &Input<'_>, findings: &mut Findings) {
    match &input.extras.link_statuses {
        None => findings.not_applicable(&BROKEN),
        Some(statuses) => {
            for link in statuses.links.iter().filter(|link| link.status_code == 0 || link.status_code >= 400) {
                findings.raise(
                    &BROKEN,
                    Severity::Error,
                    format!("{} answered {} {}", quote(&link.url), link.status_code, quote(&link.status)),
                    None,
                );
            }
        }
    }
}
