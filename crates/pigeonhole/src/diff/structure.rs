//! The MIME structure's diff: each message's part tree ([`detail::part_tree`]) as
//! lines, one per part, indented by depth, with its content type, file name,
//! decoded size and the SHA-256 of its decoded bytes (a container: its type
//! alone), diffed as lines. Boundaries and transfer encodings are not in it, so a
//! message re-sent (new boundaries) or re-encoded (base64 for quoted-printable)
//! has the same structure; a changed attachment shows by its size and checksum.

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
    /// A's outline: one line per part (`PartID  type  "name"  size  sha256`).
    pub a: Vec<String>,
    /// B's outline.
    pub b: Vec<String>,
}

/// `a`'s MIME structure against `b`'s.
pub fn compare(a: &[u8], b: &[u8]) -> StructureDiff {
    let (a, b) = (outline(a), outline(b));
    let compared = |outline: &[(String, String)]| outline.iter().map(|(_, line)| line.clone()).collect::<Vec<_>>();
    let (a_lines, b_lines) = (compared(&a), compared(&b));
    let listed = |outline: Vec<(String, String)>| {
        outline
            .into_iter()
            .map(|(id, line)| format!("{:<6}{}", if id.is_empty() { "-" } else { &id }, line.trim_start()))
            .collect()
    };
    StructureDiff { lines: lines::compare(&a_lines, &b_lines), a: listed(a), b: listed(b) }
}

/// Each part as (part ID, the line compared). The part ID is left out of what is
/// compared: an inserted part renumbers those after it, which is no change to them.
fn outline(raw: &[u8]) -> Vec<(String, String)> {
    let message = detail::parse(raw);
    let checksums: HashMap<String, String> = detail::leaves(&message)
        .into_iter()
        .map(|leaf| (leaf.id, format!("{:x}", Sha256::digest(leaf.part.contents()))))
        .collect();
    let mut out = Vec::new();
    // An explicit stack: the tree's depth is bounded, but the walk need not recurse.
    let tree = detail::part_tree(raw);
    let mut stack: Vec<(&PartNode, usize)> = vec![(&tree, 0)];
    while let Some((node, depth)) = stack.pop() {
        let mut line = format!("{:indent$}{}", "", node.content_type, indent = depth * 2);
        if node.parts.is_empty() {
            if !node.file_name.is_empty() {
                line.push_str(&format!("  {:?}", node.file_name));
            }
            line.push_str(&format!("  {} bytes", node.size));
            if let Some(sha256) = checksums.get(&node.part_id) {
                line.push_str(&format!("  sha256:{sha256}"));
            }
        }
        out.push((node.part_id.clone(), line));
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
