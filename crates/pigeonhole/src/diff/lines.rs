//! The line diff every part that reads as lines shares (the text body, the
//! normalized HTML, the MIME structure): the `similar` crate's Myers diff, grouped
//! into hunks with three lines of context, as a unified diff shows them.
//!
//! Bounded for hostile input: the diff gives up on finding the shortest script
//! after [`DEADLINE`] (the answer is then longer, never wrong), and a report lists
//! at most [`MAX_LINES`] lines per part, counting the rest.

use std::hash::Hash;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use similar::{Algorithm, DiffOp, DiffTag, capture_diff_slices_deadline, group_diff_ops};

/// Lines of unchanged context around each change.
const CONTEXT: usize = 3;

/// How long one diff may search for the shortest edit script.
const DEADLINE: Duration = Duration::from_secs(1);

/// The most lines a part's hunks list; further hunks are counted in `Omitted`.
pub const MAX_LINES: usize = 5_000;

/// One part's line diff.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct LinesDiff {
    pub equal: bool,
    /// The changes with their context, in order; empty when equal.
    pub hunks: Vec<Hunk>,
    /// Lines of hunks left out past the listing's limit (5,000 lines).
    pub omitted: u32,
}

/// A run of changes with context: `@@ -OldStart,OldLines +NewStart,NewLines @@`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Hunk {
    /// First line in A (1-based; 0 for an empty range).
    pub old_start: u32,
    pub old_lines: u32,
    /// First line in B (1-based; 0 for an empty range).
    pub new_start: u32,
    pub new_lines: u32,
    pub lines: Vec<Line>,
}

/// One line of a hunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Line {
    pub kind: LineKind,
    /// The line's text (message content: escape it wherever it is shown).
    pub text: String,
}

/// Whether a line is in both messages, only in A or only in B.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub enum LineKind {
    Context,
    Removed,
    Added,
}

/// The edit script from `old` to `new`.
pub(crate) fn ops<T: Eq + Hash>(old: &[T], new: &[T]) -> Vec<DiffOp> {
    capture_diff_slices_deadline(Algorithm::Myers, old, new, Some(Instant::now() + DEADLINE))
}

/// `old` against `new` as hunks.
pub fn compare<T: AsRef<str> + Eq + Hash>(old: &[T], new: &[T]) -> LinesDiff {
    hunks(old, new, ops(old, new))
}

/// The hunks of an edit script `ops` from `old` to `new`.
pub(crate) fn hunks<T: AsRef<str>>(old: &[T], new: &[T], ops: Vec<DiffOp>) -> LinesDiff {
    let equal = ops.iter().all(|op| op.tag() == DiffTag::Equal);
    let mut diff = LinesDiff { equal, hunks: Vec::new(), omitted: 0 };
    if equal {
        return diff;
    }
    let mut listed = 0usize;
    for group in group_diff_ops(ops, CONTEXT) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else { continue };
        let (old_range, new_range) =
            (first.old_range().start..last.old_range().end, first.new_range().start..last.new_range().end);
        let mut lines = Vec::new();
        for op in &group {
            let (tag, old_part, new_part) = op.as_tag_tuple();
            let line = |kind, text: &T| Line { kind, text: text.as_ref().to_string() };
            match tag {
                DiffTag::Equal => lines.extend(old[old_part].iter().map(|t| line(LineKind::Context, t))),
                DiffTag::Delete => lines.extend(old[old_part].iter().map(|t| line(LineKind::Removed, t))),
                DiffTag::Insert => lines.extend(new[new_part].iter().map(|t| line(LineKind::Added, t))),
                DiffTag::Replace => {
                    lines.extend(old[old_part].iter().map(|t| line(LineKind::Removed, t)));
                    lines.extend(new[new_part].iter().map(|t| line(LineKind::Added, t)));
                }
            }
        }
        if listed + lines.len() > MAX_LINES {
            diff.omitted += lines.len() as u32;
            continue;
        }
        listed += lines.len();
        let start = |range: &std::ops::Range<usize>| if range.is_empty() { range.start } else { range.start + 1 };
        diff.hunks.push(Hunk {
            old_start: start(&old_range) as u32,
            old_lines: old_range.len() as u32,
            new_start: start(&new_range) as u32,
            new_lines: new_range.len() as u32,
            lines,
        });
    }
    diff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_lines_have_no_hunks() {
        let diff = compare(&["a", "b"], &["a", "b"]);
        assert!(diff.equal);
        assert!(diff.hunks.is_empty());
    }

    #[test]
    fn a_change_is_a_hunk_with_context() {
        let old: Vec<String> = (1..=10).map(|n| format!("line {n}")).collect();
        let mut new = old.clone();
        new[5] = "line six".to_string();
        let diff = compare(&old, &new);
        assert!(!diff.equal);
        assert_eq!(diff.hunks.len(), 1);
        let hunk = &diff.hunks[0];
        assert_eq!((hunk.old_start, hunk.old_lines, hunk.new_start, hunk.new_lines), (3, 7, 3, 7));
        let changed: Vec<(LineKind, &str)> =
            hunk.lines.iter().filter(|l| l.kind != LineKind::Context).map(|l| (l.kind, l.text.as_str())).collect();
        assert_eq!(changed, [(LineKind::Removed, "line 6"), (LineKind::Added, "line six")]);
    }

    #[test]
    fn listing_is_bounded() {
        let old: Vec<String> = (0..MAX_LINES * 2).map(|n| format!("a{n}")).collect();
        let new: Vec<String> = (0..MAX_LINES * 2).map(|n| format!("b{n}")).collect();
        let diff = compare(&old, &new);
        assert!(!diff.equal);
        let listed: usize = diff.hunks.iter().map(|h| h.lines.len()).sum();
        assert!(listed <= MAX_LINES);
        assert_eq!(listed + diff.omitted as usize, MAX_LINES * 4);
    }
}
