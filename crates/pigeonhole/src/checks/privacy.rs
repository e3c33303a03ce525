//! What opening the message tells its sender: tracking pixels, and remote images,
//! fonts and style sheets that load (and report the reader's address and the time)
//! as soon as it is shown.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use scraper::ElementRef;

use super::markup::{self, element_location};
use super::{Findings, Input, Spec, quote};
use crate::model::{Category, Severity};

pub(super) const TRACKING_PIXEL: Spec = Spec {
    id: "privacy.tracking-pixel",
    category: Category::Privacy,
    title: "No tracking pixels",
    fix: "A remote image of 1×1 pixel, or one hidden from view, exists only to tell the \
          sender when and where the message was opened. Apple Mail and Gmail proxy or \
          preload such images, so the numbers are unreliable anyway; drop it, or say in \
          the privacy notice that opens are tracked.",
    reference: "https://www.rfc-editor.org/rfc/rfc6973",
};

pub(super) const REMOTE_CONTENT: Spec = Spec {
    id: "privacy.remote-content",
    category: Category::Privacy,
    title: "Content loads from the network",
    fix: "Remote images, fonts and style sheets load when the message is opened, telling \
          their servers the reader's address and the time; many clients block them until \
          the reader allows it, so the message must read well without them. Embed what \
          matters (inline `cid:` images), and give every image alt text.",
    reference: "https://support.apple.com/en-us/102635",
};

pub(super) const SPECS: &[&Spec] = &[&TRACKING_PIXEL, &REMOTE_CONTENT];

/// `url(…)` in CSS, quoted or not.
static CSS_URL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?i)url\(\s*['"]?([^'")\s]+)"#).expect("the url() pattern compiles"));

/// Remote resources of one host: how many of each kind, and the first element.
struct Loads<'a> {
    kinds: BTreeMap<&'static str, usize>,
    first: ElementRef<'a>,
}

pub(super) fn run(input: &Input<'_>, findings: &mut Findings) {
    let (Some(document), Some(styles)) = (input.document(), input.styles()) else {
        for spec in SPECS {
            findings.not_applicable(spec);
        }
        return;
    };
    let mut by_host: BTreeMap<String, Loads<'_>> = BTreeMap::new();
    for element in document.tree.nodes().filter_map(ElementRef::wrap) {
        let value = element.value();
        match value.name() {
            "img" => {
                let Some(src) = value.attr("src").filter(|src| markup::is_remote(src)) else { continue };
                if is_pixel(element) || styles.of(element).hidden {
                    findings.raise_with(&TRACKING_PIXEL, Severity::Notice, || {
                        (format!("The image {} is a tracking pixel.", quote(src)), element_location(element))
                    });
                }
                load(&mut by_host, src, "image", element);
            }
            "link" if value.attr("rel").is_some_and(|rel| rel.to_ascii_lowercase().contains("stylesheet")) => {
                load(&mut by_host, value.attr("href").unwrap_or(""), "style sheet", element);
            }
            "style" => {
                for text in element.text() {
                    for url in CSS_URL.captures_iter(text) {
                        load(&mut by_host, &url[1], "style resource", element);
                    }
                }
            }
            _ => {}
        }
        if let Some(background) = value.attr("background") {
            load(&mut by_host, background, "background image", element);
        }
        if let Some(style) = value.attr("style") {
            for url in CSS_URL.captures_iter(style) {
                load(&mut by_host, &url[1], "background image", element);
            }
        }
    }
    for (host, loads) in by_host {
        findings.raise_with(&REMOTE_CONTENT, Severity::Notice, || {
            let kinds: Vec<String> = loads
                .kinds
                .iter()
                .map(|(kind, count)| if *count == 1 { format!("1 {kind}") } else { format!("{count} {kind}s") })
                .collect();
            let detail = format!("{} from {} load when the message is opened.", kinds.join(", "), quote(&host));
            (detail, element_location(loads.first))
        });
    }
}

/// An image drawn at most 1×1 pixel (or 0), by its attributes or inline style.
/// Counts a resource `element` loads from `url`, when that is remote.
fn load<'a>(by_host: &mut BTreeMap<String, Loads<'a>>, url: &str, kind: &'static str, element: ElementRef<'a>) {
    if let Some(host) = markup::is_remote(url).then(|| markup::host(url)).flatten() {
        let loads = by_host.entry(host).or_insert_with(|| Loads { kinds: BTreeMap::new(), first: element });
        *loads.kinds.entry(kind).or_default() += 1;
    }
}

fn is_pixel(image: ElementRef<'_>) -> bool {
    let value = image.value();
    let style = value.attr("style").unwrap_or("").to_ascii_lowercase();
    let size = |attribute: &str| {
        let from_style = style.split(';').find_map(|declaration| {
            let (name, value) = declaration.split_once(':')?;
            (name.trim() == attribute).then(|| value.trim().trim_end_matches("px").trim().to_string())
        });
        from_style
            .or_else(|| value.attr(attribute).map(|v| v.trim().trim_end_matches("px").to_string()))
            .and_then(|v| v.parse::<f32>().ok())
    };
    matches!((size("width"), size("height")), (Some(w), Some(h)) if w <= 1.0 && h <= 1.0)
        || size("width") == Some(0.0)
        || size("height") == Some(0.0)
}
