//! Will it arrive, whole: Gmail's clipping of large HTML, the message's size against
//! providers' limits, List-Unsubscribe (RFC 2369, one-click per RFC 8058) and
//! image-only messages. The bulk-sender rules, which need the authentication
//! results, are in their own module.

use std::sync::LazyLock;

use regex::Regex;

use super::{Findings, Input, Spec, quote};
use crate::mail::detail;
use crate::mail::parse::header_raw_value as raw_value;
use crate::model::{Category, Location, Severity};

pub(super) const GMAIL_CLIPPING: Spec = Spec {
    id: "deliverability.gmail-clipping",
    category: Category::Deliverability,
    title: "HTML under Gmail's 102 KB clipping limit",
    fix: "Gmail cuts HTML bodies over 102 KB and hides the rest (often the unsubscribe link \
          and tracking pixel) behind \"View entire message\". Inline less CSS, drop comments \
          and whitespace, move content to the web.",
    reference: "https://support.google.com/mail/answer/3109140",
};

pub(super) const SIZE: Spec = Spec {
    id: "deliverability.size",
    category: Category::Deliverability,
    title: "Message size within providers' limits",
    fix: "Many servers refuse messages over 10 MB and Gmail/Outlook over 25 MB (attachments \
          grow by a third in base64). Link large files instead of attaching them.",
    reference: "https://support.google.com/mail/answer/6584",
};

pub(super) const LIST_UNSUBSCRIBE: Spec = Spec {
    id: "deliverability.list-unsubscribe",
    category: Category::Deliverability,
    title: "List-Unsubscribe with one-click",
    fix: "Bulk mail needs `List-Unsubscribe: <https://…>, <mailto:…>` (RFC 2369) and \
          `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058): Gmail and Yahoo \
          require one-click unsubscribe from senders of 5,000+ messages a day.",
    reference: "https://www.rfc-editor.org/rfc/rfc8058",
};

pub(super) const IMAGE_ONLY: Spec = Spec {
    id: "deliverability.image-only",
    category: Category::Deliverability,
    title: "Enough text beside the images",
    fix: "A message that is mostly images with little text looks like spam to filters and \
          shows nothing when images are blocked (the default in many clients). Put the \
          message in text, with images as support.",
    reference: "https://www.litmus.com/blog/the-ultimate-guide-to-image-blocking-in-email",
};

pub(super) const SPECS: &[&Spec] = &[&GMAIL_CLIPPING, &SIZE, &LIST_UNSUBSCRIBE, &IMAGE_ONLY];

/// Gmail clips HTML beyond this many bytes.
const GMAIL_CLIP_BYTES: usize = 102 * 1024;
/// Common servers' limit (Postfix's default message_size_limit is 10,240,000).
const COMMON_LIMIT: usize = 10 * 1000 * 1000;
/// Gmail's and Outlook.com's limit.
const LARGE_LIMIT: usize = 25 * 1024 * 1024;
/// An HTML body with images and less visible text than this is "image only".
const MIN_TEXT_CHARS: usize = 200;

static IMG_TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)<img\b").expect("the img pattern compiles"));

pub(super) fn run(input: &Input<'_>, findings: &mut Findings) {
    if let Some(html) = &input.html {
        if html.len() > GMAIL_CLIP_BYTES {
            findings.raise(
                &GMAIL_CLIPPING,
                Severity::Warning,
                format!("The HTML body is {} KB; Gmail clips it after 102 KB.", html.len().div_ceil(1024)),
                None,
            );
        }
        let images = IMG_TAG.find_iter(html).count();
        if images > 0 {
            let text = mail_parser::decoders::html::html_to_text(html);
            let visible = text.split_whitespace().map(str::chars).map(Iterator::count).sum::<usize>();
            if visible < MIN_TEXT_CHARS {
                findings.raise(
                    &IMAGE_ONLY,
                    Severity::Warning,
                    format!("{images} image(s) and only {visible} characters of text."),
                    None,
                );
            }
        }
    }

    let size = input.raw.len();
    if size > LARGE_LIMIT {
        findings.raise(&SIZE, Severity::Error, format!("The message is {:.1} MB: over Gmail's 25 MB.", mb(size)), None);
    } else if size > COMMON_LIMIT {
        findings.raise(
            &SIZE,
            Severity::Warning,
            format!("The message is {:.1} MB: over the 10 MB many servers accept.", mb(size)),
            None,
        );
    }

    let Some(root) = input.message.parts.first() else { return };
    let header = |name: &str| {
        root.headers.iter().find(|h| h.name.as_str().eq_ignore_ascii_case(name)).map(|h| raw_value(input.raw, h))
    };
    let at = || Location::header("List-Unsubscribe");
    match (header("List-Unsubscribe"), header("List-Unsubscribe-Post")) {
        (None, None) => findings.raise(
            &LIST_UNSUBSCRIBE,
            Severity::Notice,
            "No List-Unsubscribe header: fine for one-to-one mail, required for bulk mail.",
            None,
        ),
        (None, Some(_)) => findings.raise(
            &LIST_UNSUBSCRIBE,
            Severity::Error,
            "List-Unsubscribe-Post without a List-Unsubscribe header does nothing.",
            Location::header("List-Unsubscribe-Post"),
        ),
        (Some(value), post) => {
            let (links, errors) = detail::unsubscribe_links(&value);
            if !errors.is_empty() {
                findings.raise(&LIST_UNSUBSCRIBE, Severity::Error, format!("Malformed: {}", quote(&errors)), at());
            }
            let https = links.iter().any(|link| link.to_ascii_lowercase().starts_with("https://"));
            match post {
                Some(post) if !post.replace(' ', "").eq_ignore_ascii_case("List-Unsubscribe=One-Click") => findings
                    .raise(
                        &LIST_UNSUBSCRIBE,
                        Severity::Error,
                        format!(
                            "List-Unsubscribe-Post is {}; RFC 8058 wants exactly List-Unsubscribe=One-Click.",
                            quote(&post)
                        ),
                        Location::header("List-Unsubscribe-Post"),
                    ),
                Some(_) if !https => findings.raise(
                    &LIST_UNSUBSCRIBE,
                    Severity::Error,
                    "One-click unsubscribe needs an https:// link in List-Unsubscribe.",
                    at(),
                ),
                Some(_) => {}
                None => findings.raise(
                    &LIST_UNSUBSCRIBE,
                    Severity::Warning,
                    "No List-Unsubscribe-Post: List-Unsubscribe=One-Click header, so no one-click unsubscribe.",
                    at(),
                ),
            }
        }
    }
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1_000_000.0
}
