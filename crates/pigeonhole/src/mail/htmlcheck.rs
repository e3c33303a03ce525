//! The HTML compatibility check behind `GET /api/v1/message/{ID}/html-check`: which
//! HTML and CSS features a message's HTML part uses, and how well e-mail clients
//! support each, from caniemail.com's data (`data/caniemail.json`, embedded; licence
//! in `data/CANIEMAIL.md`). The answer has Mailpit's `HTMLCheckResponse` shape.
//! The HTML is checked within [`super::html_bounds`]' limits.
//!
//! The data says which clients support a feature, not how to find it in HTML, so
//! [`detector`] maps each slug to a test:
//!
//! * `html-*`: a CSS selector over the parsed document (html5ever via `scraper`),
//!   plus a few that look at the source (`<body>`, doctype, comments);
//! * `image-*`: the file extension (or `data:` URI) of `img[src]`;
//! * `css-*`: declarations in `style=""` attributes and `<style>` blocks: property
//!   names (most slugs *are* the property's name), property values (`display:flex`),
//!   functions (`rgb(`), units (`12rem`), `!important`, custom properties; at-rules
//!   and pseudo-classes in the blocks' preludes. Remote style sheets are not fetched.
//!
//! Each feature found becomes a warning with every tested client version as a
//! result; its score counts each client (family and platform) once, by its newest
//! result (the last version in the data, which is in testing order). The total, as
//! Mailpit computes it, weighs the worst partial and unsupported scores by how much
//! of the document uses them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::LazyLock;

use scraper::node::Node;
use scraper::{ElementRef, Html, Selector};
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// `HTMLCheckResponse`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = HTMLCheckResponse)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "HTMLCheckResponse"))]
#[serde(rename_all = "PascalCase")]
pub struct HtmlCheck {
    /// Platform (`desktop-webmail`, `ios`, …) → the client families tested on it.
    pub platforms: BTreeMap<String, Vec<String>>,
    pub total: Total,
    /// Features found, the least supported (weighted by use) first.
    pub warnings: Vec<Warning>,
}

/// `HTMLCheckTotal`: the document's size and the weighted overall support.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = HTMLCheckTotal)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "HTMLCheckTotal"))]
#[serde(rename_all = "PascalCase")]
pub struct Total {
    /// Elements in the document.
    pub nodes: usize,
    /// Features looked for.
    pub tests: usize,
    pub supported: f32,
    pub partial: f32,
    pub unsupported: f32,
}

/// `HTMLCheckWarning`: one feature the HTML uses.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = HTMLCheckWarning)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "HTMLCheckWarning"))]
#[serde(rename_all = "PascalCase")]
pub struct Warning {
    pub slug: String,
    pub title: String,
    /// HTML (rendered from the data's Markdown).
    pub description: String,
    pub category: String,
    pub keywords: String,
    pub tags: Vec<String>,
    #[serde(rename = "URL")]
    pub url: String,
    /// Note number → note (HTML), for the results' `NoteNumber`.
    pub notes_by_number: BTreeMap<String, String>,
    pub score: Score,
    pub results: Vec<ClientResult>,
}

/// `HTMLCheckScore`: percentages of clients, and how often the feature occurs.
#[derive(Debug, Default, Clone, Copy, Serialize, utoipa::ToSchema)]
#[schema(as = HTMLCheckScore)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "HTMLCheckScore"))]
#[serde(rename_all = "PascalCase")]
pub struct Score {
    pub found: usize,
    pub supported: f32,
    pub partial: f32,
    pub unsupported: f32,
}

/// `HTMLCheckResult`: one client version's support.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = HTMLCheckResult)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "HTMLCheckResult"))]
#[serde(rename_all = "PascalCase")]
pub struct ClientResult {
    /// `Gmail iOS (2020-11)`.
    pub name: String,
    pub family: String,
    pub platform: String,
    pub version: String,
    /// `yes`, `no` or `partial`.
    pub support: String,
    /// The note that qualifies a partial result, or `""`.
    pub note_number: String,
}

/// Run the check over a message's HTML part.
pub fn check(html: &str) -> HtmlCheck {
    let (document, _) = super::html_bounds::parse_document(html);
    check_document(&document, html)
}

/// [`check`] over `html` already parsed as `document` (the report's checks parse it
/// once for all of them).
pub(crate) fn check_document(document: &Html, html: &str) -> HtmlCheck {
    let data = &*DATA;
    let css = Css::collect(document);
    let has_body_tag = html.to_ascii_lowercase().contains("<body");
    let nodes = count_nodes(document, has_body_tag);

    let detectors = &*DETECTORS;
    let mut selectors: Vec<&'static str> = detectors
        .iter()
        .filter_map(|(_, detector)| match detector {
            Detector::Selector(selector) => Some(*selector),
            _ => None,
        })
        .collect();
    selectors.push(SCRIPTS);
    let found_in = Found { selected: count_selectors(document, &selectors), image_sources: image_sources(document) };

    let mut warnings = Vec::new();
    let mut tests = 0;
    for (feature, detector) in detectors.iter() {
        tests += 1;
        let found = detector.count(document, has_body_tag, &css, &found_in);
        if found > 0 {
            warnings.push(warning(data, feature, found));
        }
    }
    // Scripts are not in caniemail (no client runs them), but a message with one
    // should hear so.
    tests += 1;
    let scripts = found_in.selected[SCRIPTS];
    if scripts > 0 {
        warnings.push(Warning {
            slug: "html-script".into(),
            title: "<script> element".into(),
            description: "JavaScript is not supported in any email client.".into(),
            category: "html".into(),
            keywords: String::new(),
            tags: Vec::new(),
            url: String::new(),
            notes_by_number: BTreeMap::new(),
            score: Score { found: scripts, supported: 0.0, partial: 0.0, unsupported: 100.0 },
            results: Vec::new(),
        });
    }

    let weight = |score: f32, found: usize| score * (found as f32 / nodes.max(1) as f32).min(1.0);
    let worst =
        |pick: fn(&Score) -> f32| warnings.iter().map(|w| weight(pick(&w.score), w.score.found)).fold(0.0f32, f32::max);
    let (partial, unsupported) = (worst(|s| s.partial), worst(|s| s.unsupported));
    warnings.sort_by(|a, b| {
        let badness = |w: &Warning| weight(w.score.partial + w.score.unsupported, w.score.found);
        badness(b).total_cmp(&badness(a))
    });
    HtmlCheck {
        platforms: data.platforms.clone(),
        total: Total { nodes, tests, supported: (100.0 - partial - unsupported).max(0.0), partial, unsupported },
        warnings,
    }
}

fn warning(data: &Data, feature: &Feature, found: usize) -> Warning {
    let mut results = Vec::new();
    let (mut yes, mut no, mut partial) = (0u32, 0u32, 0u32);
    for (family, platforms) in &feature.stats {
        for (platform, versions) in platforms {
            let mut newest = None;
            for (version, support) in &versions.0 {
                let mut words = support.split_whitespace();
                let support = match words.next() {
                    Some("y") => "yes",
                    Some("n") => "no",
                    Some("a") => "partial",
                    // `u`: untested or unclear; no evidence either way.
                    _ => continue,
                };
                newest = Some(support);
                let note_number = words.find_map(|w| w.strip_prefix('#')).unwrap_or("").to_string();
                results.push(ClientResult {
                    name: format!("{} {} ({version})", data.family_name(family), data.platform_name(platform)),
                    family: family.clone(),
                    platform: platform.clone(),
                    version: version.clone(),
                    support: support.into(),
                    note_number,
                });
            }
            match newest {
                Some("yes") => yes += 1,
                Some("no") => no += 1,
                Some(_) => partial += 1,
                None => {}
            }
        }
    }
    let clients = (yes + no + partial).max(1) as f32;
    Warning {
        slug: feature.slug.clone(),
        title: feature.title.clone(),
        description: markdown_to_html(feature.description.as_deref().unwrap_or("")),
        category: feature.category.clone(),
        keywords: feature.keywords.clone().unwrap_or_default(),
        tags: feature.tags.clone(),
        url: feature.url.clone(),
        notes_by_number: feature
            .notes_by_num
            .iter()
            .flatten()
            .map(|(number, note)| (number.clone(), markdown_to_html(note)))
            .collect(),
        score: Score {
            found,
            supported: yes as f32 * 100.0 / clients,
            partial: partial as f32 * 100.0 / clients,
            unsupported: no as f32 * 100.0 / clients,
        },
        results,
    }
}

/// Elements in the document, as Mailpit counts them: everything but the structure
/// html5ever adds itself (`html`, `head`, `meta`, and `body` when the source had
/// none).
fn count_nodes(document: &Html, has_body_tag: bool) -> usize {
    document
        .tree
        .values()
        .filter_map(|node| node.as_element())
        .filter(|element| match element.name() {
            "html" | "head" | "meta" => false,
            "body" => has_body_tag,
            _ => true,
        })
        .count()
}

/// Script elements that hold code (not JSON data).
const SCRIPTS: &str = "script:not([type=\"application/ld+json\"]):not([type=\"application/json\"])";

/// What one walk of the document found for the detectors.
struct Found<'d> {
    /// Selector → how many elements match it.
    selected: HashMap<&'static str, usize>,
    /// `img[src]` values.
    image_sources: Vec<&'d str>,
}

/// How many elements match each of `selectors`, in one walk of the document. Each
/// element is tested only against the selectors that can match it: those whose
/// parts start with its name, or with an attribute (`[srcset]`) it has. So the cost
/// grows with the document, not with the document times the number of features.
fn count_selectors(document: &Html, selectors: &[&'static str]) -> HashMap<&'static str, usize> {
    let parsed: Vec<Selector> = selectors
        .iter()
        .map(|selector| Selector::parse(selector).expect("the detector table's selectors are valid"))
        .collect();
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut by_attribute: HashMap<&str, Vec<usize>> = HashMap::new();
    for (index, selector) in selectors.iter().enumerate() {
        for part in selector.split(',').map(str::trim) {
            match part.strip_prefix('[') {
                Some(attribute) => {
                    let name = attribute.split([']', '=', '^', '~', '|', '*', '$']).next().unwrap_or("");
                    by_attribute.entry(name).or_default().push(index);
                }
                None => {
                    let name = part.split(['[', ':', ' ', '.', '#']).next().unwrap_or("");
                    by_name.entry(name).or_default().push(index);
                }
            }
        }
    }
    let mut counts = vec![0usize; selectors.len()];
    let mut candidates: Vec<usize> = Vec::new();
    for element in document.tree.nodes().filter_map(ElementRef::wrap) {
        candidates.clear();
        candidates.extend(by_name.get(element.value().name()).into_iter().flatten());
        for (attribute, _) in element.value().attrs() {
            candidates.extend(by_attribute.get(attribute).into_iter().flatten());
        }
        candidates.sort_unstable();
        candidates.dedup();
        for &index in &candidates {
            if parsed[index].matches(&element) {
                counts[index] += 1;
            }
        }
    }
    selectors.iter().copied().zip(counts).collect()
}

// ---- detectors ----

/// How a feature is found.
#[derive(Debug, Clone, PartialEq)]
enum Detector {
    /// Elements matching a CSS selector.
    Selector(&'static str),
    /// The source has its own `<body>`.
    BodyTag,
    Doctype,
    HtmlComments,
    /// `img[src]` ending in one of these extensions (query and fragment aside).
    ImageExtension(&'static [&'static str]),
    ImageDataUri,
    /// Declarations of any of these properties.
    Property(Vec<String>),
    /// Declarations of `property` whose value is one of `values`.
    PropertyValue(&'static str, &'static [&'static str]),
    /// Declarations whose value calls one of these functions.
    Function(&'static [&'static str]),
    /// Numbers with this unit in declaration values (`%` included).
    Unit(String),
    /// A value that is exactly this keyword (`initial`).
    Keyword(&'static str),
    Important,
    CustomProperties,
    CssComments,
    /// At-rules with this name (`@media`), whose prelude contains one of `features`
    /// when given.
    AtRule(String, &'static [&'static str]),
    /// A pseudo-class or pseudo-element (`:hover`, `::before`) in a selector.
    Pseudo(String),
}

/// The test for a caniemail slug; `None` for features that cannot be told from
/// the markup (AMP, BIMI, the selector-syntax entries every style sheet has, …).
fn detector(slug: &str) -> Option<Detector> {
    use Detector::*;
    let html = |selector| Some(Selector(selector));
    let fixed = match slug {
        "html-body" => Some(BodyTag),
        "html-doctype" => Some(Doctype),
        "html-comments" => Some(HtmlComments),
        "html-object" => html("object, embed"),
        "html-link" => html("link"),
        "html-hr" => html("hr"),
        "html-dialog" => html("dialog"),
        "html-srcset" => html("[srcset]"),
        "html-picture" => html("picture"),
        "html-svg" => html("svg"),
        "html-progress" => html("progress"),
        "html-meter" => html("meter"),
        "html-required" => html("[required]"),
        "html-audio" => html("audio"),
        "html-video" => html("video"),
        "html-form" => html("form"),
        "html-input-submit" => html("input[type=\"submit\" i]"),
        "html-input-reset" => html("input[type=\"reset\" i]"),
        "html-input-checkbox" => html("input[type=\"checkbox\" i]"),
        "html-input-radio" => html("input[type=\"radio\" i]"),
        "html-input-hidden" => html("input[type=\"hidden\" i]"),
        "html-input-text" => html("input[type=\"text\" i]"),
        "html-button-reset" => html("button[type=\"reset\" i]"),
        "html-button-submit" => html("button[type=\"submit\" i]"),
        "html-base" => html("base"),
        "html-select" => html("select"),
        "html-textarea" => html("textarea"),
        "html-semantics" => {
            html("article, aside, details, figcaption, figure, footer, header, main, mark, nav, section, summary, time")
        }
        "html-anchor-links" => html("a[href^=\"#\"]"),
        "html-mailto-links" => html("a[href^=\"mailto:\" i]"),
        "html-style" => html("style"),
        "html-image-maps" => html("map, img[usemap]"),
        "html-marquee" => html("marquee"),
        "html-popover" => html("[popover]"),
        "html-dialog-open" => html("dialog[open]"),
        "html-loading-attribute" => html("img[loading]"),
        "html-role" => html("[role]"),
        "html-aria-describedby" => html("[aria-describedby]"),
        "html-aria-hidden" => html("[aria-hidden]"),
        "html-aria-label" => html("[aria-label]"),
        "html-aria-labelledby" => html("[aria-labelledby]"),
        "html-aria-live" => html("[aria-live]"),
        "html-background" => html("[background]"),
        "html-target" => html("a[target]"),
        "html-wbr" => html("wbr"),
        "html-ruby" => html("ruby"),
        "html-meta-color-scheme" => html("meta[name=\"color-scheme\" i], meta[name=\"supported-color-schemes\" i]"),
        "image-apng" => Some(ImageExtension(&["apng"])),
        "image-avif" => Some(ImageExtension(&["avif"])),
        "image-bmp" => Some(ImageExtension(&["bmp"])),
        "image-gif" => Some(ImageExtension(&["gif"])),
        "image-hdr" => Some(ImageExtension(&["hdr"])),
        "image-heif" => Some(ImageExtension(&["heif", "heic"])),
        "image-ico" => Some(ImageExtension(&["ico"])),
        "image-jpg" => Some(ImageExtension(&["jpg", "jpeg"])),
        "image-mp4" => Some(ImageExtension(&["mp4"])),
        "image-png" => Some(ImageExtension(&["png"])),
        "image-ppm" => Some(ImageExtension(&["ppm"])),
        "image-svg" => Some(ImageExtension(&["svg"])),
        "image-tiff" => Some(ImageExtension(&["tif", "tiff"])),
        "image-webp" => Some(ImageExtension(&["webp"])),
        "image-base64" => Some(ImageDataUri),
        "css-display-flex" => Some(PropertyValue("display", &["flex", "inline-flex"])),
        "css-display-grid" => Some(PropertyValue("display", &["grid", "inline-grid"])),
        "css-display-none" => Some(PropertyValue("display", &["none"])),
        "css-flex-direction" => Some(Property(names(&["flex-direction"]))),
        "css-flex-wrap" => Some(Property(names(&["flex-wrap"]))),
        "css-important" => Some(Important),
        "css-variables" => Some(CustomProperties),
        "css-comments" => Some(CssComments),
        "css-rgb" => Some(Function(&["rgb"])),
        "css-rgba" => Some(Function(&["rgba"])),
        "css-unit-calc" => Some(Function(&["calc"])),
        "css-linear-gradient" => Some(Function(&["linear-gradient", "repeating-linear-gradient"])),
        "css-radial-gradient" => Some(Function(&["radial-gradient", "repeating-radial-gradient"])),
        "css-conic-gradient" => Some(Function(&["conic-gradient", "repeating-conic-gradient"])),
        "css-function-clamp" => Some(Function(&["clamp"])),
        "css-function-light-dark" => Some(Function(&["light-dark"])),
        "css-function-max" => Some(Function(&["max"])),
        "css-function-min" => Some(Function(&["min"])),
        "css-modern-color" => Some(Function(&["lch", "oklch", "lab", "oklab"])),
        "css-unit-initial" => Some(Keyword("initial")),
        "css-unit-percent" => Some(Unit("%".into())),
        "css-at-media-device-pixel-ratio" => {
            Some(AtRule("media".into(), &["device-pixel-ratio", "min-resolution", "max-resolution"]))
        }
        "css-at-media-hover" => Some(AtRule("media".into(), &["hover"])),
        "css-at-media-orientation" => Some(AtRule("media".into(), &["orientation"])),
        "css-at-media-prefers-color-scheme" => Some(AtRule("media".into(), &["prefers-color-scheme"])),
        "css-at-media-prefers-reduced-motion" => Some(AtRule("media".into(), &["prefers-reduced-motion"])),
        "css-block-inline-size" => Some(Property(names(&["block-size", "inline-size"]))),
        "css-border-inline-block" => Some(Property(names(&["border-inline", "border-block"]))),
        "css-border-inline-block-individual" => Some(Property(names(&[
            "border-inline-start",
            "border-inline-end",
            "border-block-start",
            "border-block-end",
        ]))),
        "css-border-inline-block-longhand" => Some(Property(names(&[
            "border-inline-width",
            "border-inline-style",
            "border-inline-color",
            "border-block-width",
            "border-block-style",
            "border-block-color",
        ]))),
        "css-border-radius-logical" => Some(Property(names(&[
            "border-start-start-radius",
            "border-start-end-radius",
            "border-end-start-radius",
            "border-end-end-radius",
        ]))),
        "css-column-layout-properties" => Some(Property(names(&[
            "column-fill",
            "column-gap",
            "column-rule",
            "column-rule-color",
            "column-rule-style",
            "column-rule-width",
            "column-span",
            "column-width",
            "columns",
        ]))),
        "css-gap" => Some(Property(names(&["gap", "column-gap", "row-gap"]))),
        "css-grid-template" => Some(Property(names(&[
            "grid-template",
            "grid-template-areas",
            "grid-template-columns",
            "grid-template-rows",
        ]))),
        "css-intrinsic-size" => Some(Function(&["fit-content"])),
        "css-left-right-top-bottom" => Some(Property(names(&["left", "right", "top", "bottom"]))),
        "css-margin-block-start-end" => Some(Property(names(&["margin-block-start", "margin-block-end"]))),
        "css-margin-inline-block" => Some(Property(names(&["margin-inline", "margin-block"]))),
        "css-margin-inline-start-end" => Some(Property(names(&["margin-inline-start", "margin-inline-end"]))),
        "css-padding-block-start-end" => Some(Property(names(&["padding-block-start", "padding-block-end"]))),
        "css-padding-inline-block" => Some(Property(names(&["padding-inline", "padding-block"]))),
        "css-padding-inline-start-end" => Some(Property(names(&["padding-inline-start", "padding-inline-end"]))),
        "css-scroll-snap" => Some(Property(names(&["scroll-snap-type", "scroll-snap-align", "scroll-snap-stop"]))),
        "css-inert-attribute" => html("[inert]"),
        _ => None,
    };
    if fixed.is_some() {
        return fixed;
    }
    // The regular families: the slug says what to look for.
    let css = slug.strip_prefix("css-")?;
    if css.starts_with("selector-") || matches!(css, "nesting" | "sytem-ui") {
        return None;
    }
    Some(if let Some(pseudo) = css.strip_prefix("pseudo-class-") {
        Pseudo(format!(":{pseudo}"))
    } else if let Some(pseudo) = css.strip_prefix("pseudo-element-") {
        // `::before` and the old `:before` both count.
        Pseudo(format!(":{pseudo}"))
    } else if let Some(at) = css.strip_prefix("at-") {
        AtRule(at.into(), &[])
    } else if let Some(unit) = css.strip_prefix("unit-") {
        Unit(unit.into())
    } else {
        Property(vec![css.to_string()])
    })
}

fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| name.to_string()).collect()
}

impl Detector {
    /// How often the feature occurs in the document.
    fn count(&self, document: &Html, has_body_tag: bool, css: &Css, found: &Found<'_>) -> usize {
        use Detector::*;
        match self {
            Selector(selector) => found.selected[selector],
            BodyTag => usize::from(has_body_tag),
            Doctype => document.tree.values().filter(|node| node.is_doctype()).count(),
            HtmlComments => document.tree.values().filter(|node| matches!(node, Node::Comment(_))).count(),
            ImageExtension(extensions) => found
                .image_sources
                .iter()
                .filter(|src| {
                    let path = src.split(['?', '#']).next().unwrap_or("");
                    let extension = path.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase());
                    extension.is_some_and(|ext| extensions.contains(&ext.as_str()))
                })
                .count(),
            ImageDataUri => found
                .image_sources
                .iter()
                .filter(|src| src.trim_start().to_ascii_lowercase().starts_with("data:image/"))
                .count(),
            Property(_) | PropertyValue(..) | Function(_) | Unit(_) | Keyword(_) | Important | CustomProperties => {
                css.uses(|d| self.in_declaration(d))
            }
            CssComments => css.comments,
            AtRule(..) => css.at_rules.iter().filter(|(name, prelude)| self.is_at_rule(name, prelude)).count(),
            Pseudo(pseudo) => css.selectors.iter().map(|selector| pseudo_uses(selector, pseudo)).sum(),
        }
    }

    /// How often the feature occurs in one declaration (0 for the detectors that do
    /// not look at declarations).
    fn in_declaration(&self, d: &Declaration) -> usize {
        use Detector::*;
        match self {
            Property(names) => usize::from(names.contains(&d.property)),
            PropertyValue(property, values) => {
                usize::from(d.property == *property && values.contains(&d.value.trim_end_matches("!important").trim()))
            }
            Function(functions) => functions.iter().map(|f| calls(&d.value, f)).sum(),
            Unit(unit) => units(&d.value, unit),
            Keyword(keyword) => usize::from(d.value == *keyword),
            Important => usize::from(d.value.ends_with("!important")),
            CustomProperties => usize::from(d.property.starts_with("--") || calls(&d.value, "var") > 0),
            _ => 0,
        }
    }

    /// Whether the at-rule `@name prelude` (both lower-case) is this feature.
    fn is_at_rule(&self, name: &str, prelude: &str) -> bool {
        match self {
            Detector::AtRule(at, features) => {
                at == name && (features.is_empty() || features.iter().any(|f| prelude.contains(f)))
            }
            _ => false,
        }
    }
}

// ---- single features, for the client views ----

/// How a client supports a feature, by its newest result in the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Support {
    Yes,
    Partial,
    No,
}

/// One caniemail feature, as the client views name it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FeatureRef {
    pub slug: &'static str,
    pub title: &'static str,
    pub url: &'static str,
}

/// Every feature with its detector, built once.
static DETECTORS: LazyLock<Vec<(&'static Feature, Detector)>> =
    LazyLock::new(|| DATA.data.iter().filter_map(|feature| Some((feature, detector(&feature.slug)?))).collect());

fn feature_ref(feature: &'static Feature) -> FeatureRef {
    FeatureRef { slug: &feature.slug, title: &feature.title, url: &feature.url }
}

/// The newest result of client `family` on `platform` for feature `slug`; `None`
/// when it was not tested (or the result is unclear).
pub(crate) fn support(slug: &str, family: &str, platform: &str) -> Option<Support> {
    let feature = DATA.data.iter().find(|feature| feature.slug == slug)?;
    let (_, newest) = feature.stats.get(family)?.get(platform)?.0.last()?;
    match newest.split_whitespace().next() {
        Some("y") => Some(Support::Yes),
        Some("a") => Some(Support::Partial),
        Some("n") => Some(Support::No),
        _ => None,
    }
}

/// The features one `property: value` declaration uses (as [`check`] finds them).
pub(crate) fn declaration_features(property: &str, value: &str) -> Vec<FeatureRef> {
    let declaration = Declaration {
        property: property.trim().to_ascii_lowercase(),
        value: value.trim().to_ascii_lowercase().replace("! important", "!important"),
    };
    DETECTORS
        .iter()
        .filter(|(_, detector)| detector.in_declaration(&declaration) > 0)
        .map(|(feature, _)| feature_ref(feature))
        .collect()
}

/// The features an at-rule uses: `name` without its `@`, `prelude` what follows it.
pub(crate) fn at_rule_features(name: &str, prelude: &str) -> Vec<FeatureRef> {
    let (name, prelude) = (name.to_ascii_lowercase(), prelude.to_ascii_lowercase());
    DETECTORS
        .iter()
        .filter(|(_, detector)| detector.is_at_rule(&name, &prelude))
        .map(|(feature, _)| feature_ref(feature))
        .collect()
}

/// The pseudo-class and pseudo-element features a selector list uses.
pub(crate) fn selector_features(selector: &str) -> Vec<FeatureRef> {
    let selector = selector.to_ascii_lowercase();
    DETECTORS
        .iter()
        .filter(|(_, detector)| matches!(detector, Detector::Pseudo(pseudo) if pseudo_uses(&selector, pseudo) > 0))
        .map(|(feature, _)| feature_ref(feature))
        .collect()
}

/// The features found by a selector over elements (`html-*`), with their parsed
/// selectors: what a client view tests each element against.
pub(crate) fn element_features() -> &'static [(FeatureRef, &'static str, Selector)] {
    static ELEMENTS: LazyLock<Vec<(FeatureRef, &'static str, Selector)>> = LazyLock::new(|| {
        DETECTORS
            .iter()
            .filter_map(|(feature, detector)| match detector {
                Detector::Selector(selector) => Some((
                    feature_ref(feature),
                    *selector,
                    Selector::parse(selector).expect("the detector table's selectors are valid"),
                )),
                _ => None,
            })
            .collect()
    });
    &ELEMENTS
}

fn image_sources(document: &Html) -> Vec<&str> {
    let images = Selector::parse("img[src]").expect("a valid selector");
    document.select(&images).filter_map(|img| img.value().attr("src")).collect()
}

/// Calls of `function(` in a CSS value (not as the tail of a longer name:
/// `rgba(` is not `a(`).
fn calls(value: &str, function: &str) -> usize {
    value
        .match_indices(function)
        .filter(|(at, _)| {
            let before = value[..*at].chars().next_back();
            let after = value[at + function.len()..].trim_start().starts_with('(');
            after && !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        .count()
}

/// Numbers followed by `unit` in a CSS value (`12rem`, `.5em`, `100%`).
fn units(value: &str, unit: &str) -> usize {
    value
        .match_indices(unit)
        .filter(|(at, _)| {
            let number_before = value[..*at].chars().next_back().is_some_and(|c| c.is_ascii_digit() || c == '.');
            let word_after = value[at + unit.len()..].chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
            number_before && !word_after
        })
        .count()
}

/// Uses of a pseudo-class or pseudo-element (`:hover`) in a selector list, whole
/// names only (`:first-child` is not `:first`).
fn pseudo_uses(selector: &str, pseudo: &str) -> usize {
    selector
        .match_indices(pseudo)
        .filter(|(at, _)| {
            let next = selector[at + pseudo.len()..].chars().next();
            !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        .count()
}

// ---- CSS ----

/// One `property: value` (both lower-cased and trimmed).
#[derive(Debug, PartialEq, Eq, Hash)]
struct Declaration {
    property: String,
    value: String,
}

/// What the document's CSS says: every declaration (style attributes and blocks),
/// the selectors and at-rules of the blocks, and how many comments they hold.
#[derive(Debug, Default)]
struct Css {
    /// Each distinct declaration and how often it occurs: mail repeats the same
    /// inline styles on every cell, and each detector reads each one once.
    declarations: HashMap<Declaration, usize>,
    selectors: Vec<String>,
    /// (name, prelude): `("media", "screen and (max-width: 600px)")`.
    at_rules: Vec<(String, String)>,
    comments: usize,
}

impl Css {
    /// The sum over every declaration of what `found` counts in it.
    fn uses(&self, found: impl Fn(&Declaration) -> usize) -> usize {
        self.declarations.iter().map(|(declaration, times)| found(declaration) * times).sum()
    }

    fn collect(document: &Html) -> Css {
        let mut css = Css::default();
        let styled = Selector::parse("[style]").expect("a valid selector");
        for element in document.select(&styled) {
            let style = element.value().attr("style").unwrap_or("");
            let style = css.strip_comments(style);
            css.add_declarations(&style);
        }
        let blocks = Selector::parse("style").expect("a valid selector");
        for block in document.select(&blocks) {
            let sheet = css.strip_comments(&block.text().collect::<String>());
            css.add_sheet(&sheet);
        }
        css
    }

    /// `text` without its `/* … */` comments, counting them.
    fn strip_comments(&mut self, text: &str) -> String {
        let (out, comments) = comments_removed(text);
        self.comments += comments;
        out
    }

    fn add_declarations(&mut self, block: &str) {
        for declaration in block.split(';') {
            let Some((property, value)) = declaration.split_once(':') else { continue };
            let property = property.trim().to_ascii_lowercase();
            if property.is_empty() || property.contains(|c: char| c.is_whitespace()) {
                continue;
            }
            let value = value.trim().to_ascii_lowercase().replace("! important", "!important");
            *self.declarations.entry(Declaration { property, value }).or_default() += 1;
        }
    }

    /// A style sheet: preludes before `{` (selectors, or at-rules, which may nest
    /// blocks), declarations inside the innermost blocks, at-rule statements
    /// (`@import …;`) outside any.
    fn add_sheet(&mut self, sheet: &str) {
        let mut buffer = String::new();
        let mut depth = 0usize;
        for c in sheet.chars() {
            match c {
                '{' => {
                    let prelude = buffer.trim().to_ascii_lowercase();
                    if let Some(at_rule) = prelude.strip_prefix('@') {
                        let (name, rest) =
                            at_rule.split_once(|c: char| c.is_whitespace() || c == '(').unwrap_or((at_rule, ""));
                        self.at_rules.push((name.to_string(), rest.to_string()));
                    } else if !prelude.is_empty() {
                        self.selectors.push(prelude);
                    }
                    buffer.clear();
                    depth += 1;
                }
                '}' => {
                    self.add_declarations(&buffer);
                    buffer.clear();
                    depth = depth.saturating_sub(1);
                }
                ';' if buffer.trim_start().starts_with('@') => {
                    let statement = buffer.trim().to_ascii_lowercase();
                    let at_rule = &statement[1..];
                    let (name, rest) = at_rule.split_once(char::is_whitespace).unwrap_or((at_rule, ""));
                    self.at_rules.push((name.to_string(), rest.to_string()));
                    buffer.clear();
                }
                _ => buffer.push(c),
            }
        }
    }
}

/// CSS without its `/* … */` comments.
pub(crate) fn without_comments(css: &str) -> String {
    comments_removed(css).0
}

/// `text` without its `/* … */` comments, and how many there were.
fn comments_removed(text: &str) -> (String, usize) {
    let mut out = String::with_capacity(text.len());
    let mut comments = 0;
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        comments += 1;
        rest = match rest[start + 2..].find("*/") {
            Some(end) => &rest[start + 2 + end + 2..],
            None => "",
        };
    }
    out.push_str(rest);
    (out, comments)
}

// ---- the data ----

/// caniemail.json, parsed once.
static DATA: LazyLock<Data> = LazyLock::new(|| {
    let mut data: Data = serde_json::from_str(include_str!("data/caniemail.json")).expect("caniemail.json is valid");
    data.platforms = platforms(&data);
    data
});

#[derive(Deserialize)]
struct Data {
    nicenames: NiceNames,
    data: Vec<Feature>,
    #[serde(skip)]
    platforms: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
struct NiceNames {
    family: BTreeMap<String, String>,
    platform: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Feature {
    slug: String,
    title: String,
    description: Option<String>,
    url: String,
    category: String,
    tags: Vec<String>,
    keywords: Option<String>,
    /// family → platform → versions, in testing order.
    stats: BTreeMap<String, BTreeMap<String, Versions>>,
    notes_by_num: Option<BTreeMap<String, String>>,
}

/// A version → support map, kept in the file's order: the last entry is the newest
/// result, and version keys do not sort (`2019-02` was tested before `16.80`).
struct Versions(Vec<(String, String)>);

impl<'de> Deserialize<'de> for Versions {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Versions, D::Error> {
        struct InOrder;
        impl<'de> Visitor<'de> for InOrder {
            type Value = Versions;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of versions to support")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Versions, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Versions(entries))
            }
        }
        deserializer.deserialize_map(InOrder)
    }
}

impl Data {
    fn family_name<'a>(&'a self, family: &'a str) -> &'a str {
        self.nicenames.family.get(family).map_or(family, String::as_str)
    }

    fn platform_name<'a>(&'a self, platform: &'a str) -> &'a str {
        self.nicenames.platform.get(platform).map_or(platform, String::as_str)
    }
}

/// Every platform with the (display names of the) client families tested on it.
fn platforms(data: &Data) -> BTreeMap<String, Vec<String>> {
    let mut platforms: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for feature in &data.data {
        for (family, by_platform) in &feature.stats {
            for platform in by_platform.keys() {
                platforms.entry(platform.clone()).or_default().insert(data.family_name(family).to_string());
            }
        }
    }
    platforms.into_iter().map(|(platform, families)| (platform, families.into_iter().collect())).collect()
}

/// The data's Markdown (code spans, links, emphasis) as HTML, everything else
/// escaped: clients show `Description` and notes as HTML, as Mailpit's do.
fn markdown_to_html(markdown: &str) -> String {
    let escaped =
        markdown.trim().replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let mut out = String::with_capacity(escaped.len());
    let mut rest = escaped.as_str();
    while let Some(start) = rest.find(['`', '[']) {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        if let Some(code) = tail.strip_prefix('`')
            && let Some(end) = code.find('`')
        {
            out.push_str(&format!("<code>{}</code>", &code[..end]));
            rest = &code[end + 1..];
        } else if let Some((text, after)) = tail[1..].split_once("](")
            && let Some((url, after)) = after.split_once(')')
            && !text.contains('[')
            && (url.starts_with("https://") || url.starts_with("http://"))
        {
            out.push_str(&format!("<a href=\"{url}\" target=\"_blank\">{text}</a>"));
            rest = after;
        } else {
            out.push_str(&tail[..1]);
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(html: &str) -> BTreeMap<String, usize> {
        check(html).warnings.into_iter().map(|w| (w.slug, w.score.found)).collect()
    }

    #[test]
    fn every_detector_names_a_feature_of_the_data() {
        let slugs: BTreeSet<&str> = DATA.data.iter().map(|f| f.slug.as_str()).collect();
        assert_eq!(slugs.len(), 307);
        let detected = slugs.iter().filter(|slug| detector(slug).is_some()).count();
        assert!(detected > 200, "{detected}");
        // Every selector in the table parses.
        for slug in &slugs {
            if let Some(Detector::Selector(selector)) = detector(slug) {
                Selector::parse(selector).unwrap_or_else(|e| panic!("{slug}: {e:?}"));
            }
        }
    }

    #[test]
    fn finds_html_css_and_images() {
        let html = r##"<!DOCTYPE html><html><head><style>
            /* brand */
            @import url("https://example.com/a.css");
            @media (prefers-color-scheme: dark) { .x:hover { color: rgb(1,2,3) !important } }
            a:first-child, a:first-of-type { margin-inline-start: 2rem }
            </style></head>
            <body><div style="display: flex; background-color: #fff; width: 50%">
            <img src="https://x.test/a.webp?v=1" srcset="a.png 2x"><img src="data:image/png;base64,AAAA">
            <a href="#top">top</a><a href="mailto:a@b">mail</a><svg></svg><script>1</script>
            </div></body></html>"##;
        let found = found(html);
        for (slug, count) in [
            ("html-doctype", 1),
            ("html-body", 1),
            ("html-style", 1),
            ("html-srcset", 1),
            ("html-anchor-links", 1),
            ("html-mailto-links", 1),
            ("html-svg", 1),
            ("html-script", 1),
            ("image-webp", 1),
            ("image-base64", 1),
            ("css-display-flex", 1),
            ("css-display", 1),
            ("css-background-color", 1),
            ("css-width", 1),
            ("css-unit-percent", 1),
            ("css-at-import", 1),
            ("css-at-media", 1),
            ("css-at-media-prefers-color-scheme", 1),
            ("css-pseudo-class-hover", 1),
            ("css-pseudo-class-first-child", 1),
            ("css-pseudo-class-first-of-type", 1),
            ("css-rgb", 1),
            ("css-important", 1),
            ("css-margin-inline-start-end", 1),
            ("css-unit-rem", 1),
            ("css-comments", 1),
        ] {
            assert_eq!(found.get(slug), Some(&count), "{slug} in {found:?}");
        }
        for absent in ["css-rgba", "css-display-grid", "css-margin", "image-png", "html-form", "css-pseudo-class-first"]
        {
            assert!(!found.contains_key(absent), "{absent} in {found:?}");
        }
    }

    #[test]
    fn results_scores_and_totals() {
        let report = check("<p style=\"display:flex\">x</p><form></form>");
        assert_eq!(report.total.nodes, 2);
        assert!(report.total.tests > 200);
        assert!(report.platforms["desktop-webmail"].contains(&"Gmail".to_string()));
        let flex = report.warnings.iter().find(|w| w.slug == "css-display-flex").unwrap();
        assert_eq!(flex.url, "https://www.caniemail.com/features/css-display-flex/");
        let score = flex.score;
        assert!((score.supported + score.partial + score.unsupported - 100.0).abs() < 0.01);
        assert!(score.unsupported > 0.0);
        let gmail = flex.results.iter().find(|r| r.family == "gmail" && r.platform == "desktop-webmail").unwrap();
        assert_eq!(gmail.name, format!("Gmail Desktop Webmail ({})", gmail.version));
        assert!(["yes", "no", "partial"].contains(&gmail.support.as_str()));
        assert!(flex.results.iter().any(|r| !r.note_number.is_empty()));
        assert!(
            flex.results.iter().all(|r| r.note_number.is_empty() || flex.notes_by_number.contains_key(&r.note_number))
        );
        // Least supported (by use) first; the total within 0–100.
        let badness: Vec<f32> = report.warnings.iter().map(|w| w.score.partial + w.score.unsupported).collect();
        assert!(badness.windows(2).all(|pair| pair[0] >= pair[1]), "{badness:?}");
        let total = &report.total;
        assert!((total.supported + total.partial + total.unsupported - 100.0).abs() < 0.01);
    }

    #[test]
    fn the_newest_result_of_a_client_counts() {
        // Version keys are in testing order, not sortable: keep the file's order.
        let json = r#"{"outlook": {"macos": {"2019-02": "n", "16.80": "y"}}}"#;
        let stats: BTreeMap<String, BTreeMap<String, Versions>> = serde_json::from_str(json).unwrap();
        let feature = Feature {
            slug: "css-x".into(),
            title: "x".into(),
            description: Some("Use `x` [docs](https://example.com/d)".into()),
            url: String::new(),
            category: "css".into(),
            tags: vec![],
            keywords: None,
            stats,
            notes_by_num: None,
        };
        let warning = warning(&DATA, &feature, 1);
        assert_eq!(warning.score.supported, 100.0);
        assert_eq!(warning.results.iter().map(|r| r.version.as_str()).collect::<Vec<_>>(), ["2019-02", "16.80"]);
        assert_eq!(
            warning.description,
            "Use <code>x</code> <a href=\"https://example.com/d\" target=\"_blank\">docs</a>"
        );
    }

    #[test]
    fn markdown_is_escaped() {
        assert_eq!(markdown_to_html("<b>[x](javascript:1)</b>"), "&lt;b&gt;[x](javascript:1)&lt;/b&gt;");
    }
}
