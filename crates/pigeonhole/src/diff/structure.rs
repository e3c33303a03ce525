//! The MIME structure's diff: each message's part tree ([`detail::part_tree`]) as
//! lines, one per part, indented by depth, with its content type, file name,
//! decoded size and the SHA-256 of its decoded bytes (a container: its type
//! alone), diffed as lines. Boundaries and transfer encodings are not in it, so a
//! message re-sent (new boundaries) or re-encoded (base64 for quoted-printable)
//! has the same structure; a changed attachment shows by its size and checksum.
//! `EqualApartFromHtml` is the verdict without the HTML body part's bytes, for a
//! report whose screenshots judge the HTML body.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::lines::{self, LinesDiff};
use crate::mail::detail::{self, PartNode};

/// The MIME structure's diff.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct StructureDiff {
    /// The two outlines' line diff.
    pub lines: LinesDiff,
    /// The outlines are equal but for the HTML body part's size and SHA-256: what
    /// counts when the screenshots judge the HTML body (a visual diff).
    pub equal_apart_from_html: bool,
    /// A's outline: one line per part (`PartID  type  "name"  size  sha256`).
    pub a: Vec<String>,
    /// B's outline.
    pub b: Vec<String>,
}

/// `a`'s MIME structure against `b`'s.
pub fn compare(a: &[u8], b: &[u8]) -> StructureDiff {
    let (a, b) = (outline(a), outline(b));
    let compared = |outline: &[OutlineLine]| outline.iter().map(|part| part.line.clone()).collect::<Vec<_>>();
    let apart_from_html = |outline: &[OutlineLine]| {
        outline
            .iter()
            .map(|part| part.without_html_bytes.as_deref().unwrap_or(&part.line).to_string())
            .collect::<Vec<_>>()
    };
    let (a_lines, b_lines) = (compared(&a), compared(&b));
    let equal_apart_from_html = apart_from_html(&a) == apart_from_html(&b);
    let listed = |outline: Vec<OutlineLine>| {
        outline
            .into_iter()
            .map(|part| format!("{:<6}{}", if part.id.is_empty() { "-" } else { &part.id }, part.line.trim_start()))
            .collect()
    };
    StructureDiff { lines: lines::compare(&a_lines, &b_lines), equal_apart_from_html, a: listed(a), b: listed(b) }
}

/// One part of the outline.
struct OutlineLine {
    id: String,
    /// What is compared (the part ID is not: an inserted part renumbers those after
    /// it, which is no change to them).
    line: String,
    /// For the HTML body part: its line without its size and checksum.
    without_html_bytes: Option<String>,
}

/// Each part of the message, in tree order.
fn outline(raw: &[u8]) -> Vec<OutlineLine> {
    let message = detail::parse(raw);
    let leaves = detail::leaves(&message);
    let checksums: HashMap<&str, String> =
        leaves.iter().map(|leaf| (leaf.id.as_str(), format!("{:x}", Sha256::digest(leaf.part.contents())))).collect();
    let html_body = detail::html_part_index(&message)
        .and_then(|index| leaves.iter().find(|leaf| leaf.index == index))
        .map(|leaf| leaf.id.as_str());
    let mut out = Vec::new();
    // An explicit stack: the tree's depth is bounded, but the walk need not recurse.
    let tree = detail::part_tree(raw);
    let mut stack: Vec<(&PartNode, usize)> = vec![(&tree, 0)];
    while let Some((node, depth)) = stack.pop() {
        let mut line = format!("{:indent$}{}", "", node.content_type, indent = depth * 2);
        let mut without_html_bytes = None;
        if node.parts.is_empty() {
            if !node.file_name.is_empty() {
                line.push_str(&format!("  {:?}", node.file_name));
            }
            if html_body == Some(node.part_id.as_str()) {
                without_html_bytes = Some(line.clone());
            }
            line.push_str(&format!("  {} bytes", node.size));
            if let Some(sha256) = checksums.get(node.part_id.as_str()) {
                line.push_str(&format!("  sha256:{sha256}"));
            }
        }
        out.push(OutlineLine { id: node.part_id.clone(), line, without_html_bytes });
        stack.extend(node.parts.iter().rev().map(|child| (child, depth + 1)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(boundary: &str, attachment: &str) -> Vec<u8> {
        format!(
            "From: a@example.test\nSubject: s\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"{boundary}\"\n\n\
             --{boundary}\nContent-Type: text/plain\n\nHello\n\
             --{boundary}\nContent-Type: application/pdf; name=\"invoice.pdf\"\nContent-Disposition: attachment; filename=\"invoice.pdf\"\nContent-Transfer-Encoding: base64\n\n{attachment}\n\
             --{boundary}--\n"
        )
        .replace('\n', "\r\n")
        .into_bytes()
    }

    #[test]
    fn boundaries_do_not_count() {
        let diff = compare(&message("one", "JVBERi0xLjQK"), &message("two", "JVBERi0xLjQK"));
        assert!(diff.lines.equal, "{diff:?}");
        assert_eq!(diff.a.len(), 3);
        assert!(diff.a[0].starts_with("-     multipart/mixed"), "{:?}", diff.a);
        assert!(diff.a[2].starts_with("2     application/pdf  \"invoice.pdf\"  9 bytes  sha256:"), "{:?}", diff.a);
    }

    #[test]
    fn only_the_html_body_s_bytes_can_be_set_aside() {
        let with_html = |html: &str, attachment: &str| {
            format!(
                "From: a@example.test\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
                 --b\r\nContent-Type: text/html\r\n\r\n{html}\r\n\
                 --b\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{attachment}\r\n--b--\r\n"
            )
            .into_bytes()
        };
        let html_changed = compare(&with_html("<p>one</p>", "JVBERi0xLjQK"), &with_html("<p>two!</p>", "JVBERi0xLjQK"));
        assert!(!html_changed.lines.equal && html_changed.equal_apart_from_html, "{html_changed:?}");
        let pdf_changed =
            compare(&with_html("<p>one</p>", "JVBERi0xLjQK"), &with_html("<p>one</p>", "JVBERi0xLjUKJQ=="));
        assert!(!pdf_changed.lines.equal && !pdf_changed.equal_apart_from_html, "{pdf_changed:?}");
    }

    #[test]
    fn a_changed_attachment_shows_its_size_and_checksum() {
        let diff = compare(&message("one", "JVBERi0xLjQK"), &message("one", "JVBERi0xLjUKJQ=="));
        assert!(!diff.lines.equal);
        let changed: Vec<&str> = diff.lines.hunks[0]
            .lines
            .iter()
            .filter(|l| l.kind != super::super::LineKind::Context)
            .map(|l| l.text.as_str())
            .collect();
        assert_eq!(changed.len(), 2);
        assert!(changed[0].contains("9 bytes") && changed[1].contains("10 bytes"), "{changed:?}");
    }
}
