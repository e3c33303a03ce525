//! The HTML body's diff, blind to what a browser ignores: the body is parsed
//! (html5ever through scraper, within [`html_bounds`]) and written out in a
//! normal form, one line per element (`<td align="left" class="x">`, attributes in
//! name order, indented by depth) and per run of text, whitespace collapsed and
//! comments left out. Indentation, attribute order, line breaks and entity
//! spellings then make no difference; the lines are diffed as the text body is.
//!
//! Each line belongs to an element (a text's is its parent), so a change names
//! the elements it touches in each message as the selectors the preview's
//! highlight takes ([`highlight::selector`]): the outermost changed element of a
//! changed subtree, at most [`MAX_CHANGED`] per side.
//!
//! [`html_bounds`]: crate::mail::html_bounds

use std::collections::HashSet;

use ego_tree::NodeId;
use ego_tree::iter::Edge;
use scraper::{ElementRef, Html, Node};
use serde::{Deserialize, Serialize};
use similar::DiffTag;

use super::lines::{self, LinesDiff};
use crate::mail::highlight;
use crate::mail::html_bounds;

/// The most changed elements listed per message.
pub const MAX_CHANGED: usize = 100;

/// The HTML body's diff.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct HtmlDiff {
    /// The normal forms' line diff (`Equal` says whether the bodies differ).
    pub lines: LinesDiff,
    /// Whether `Lines.Equal` counts toward the report's `Equal`: false when the
    /// report has a `Visual` section, whose screenshots then judge the HTML body
    /// (this diff is still there, for information).
    pub counted: bool,
    /// Selectors of A's elements that were removed or changed, outermost first.
    pub changed_a: Vec<String>,
    /// Selectors of B's elements that were added or changed.
    pub changed_b: Vec<String>,
}

/// `a`'s HTML body against `b`'s (`""`: the message has none).
pub fn compare(a: &str, b: &str) -> HtmlDiff {
    let (a_document, b_document) = (parse(a), parse(b));
    let (a_form, b_form) = (NormalForm::of(a_document.as_ref()), NormalForm::of(b_document.as_ref()));
    let ops = lines::ops(&a_form.lines, &b_form.lines);
    let mut a_changed = Vec::new();
    let mut b_changed = Vec::new();
    for op in ops.iter().filter(|op| op.tag() != DiffTag::Equal) {
        a_changed.extend(a_form.owners[op.old_range()].iter().copied());
        b_changed.extend(b_form.owners[op.new_range()].iter().copied());
    }
    HtmlDiff {
        changed_a: outermost_selectors(a_document.as_ref(), &a_changed),
        changed_b: outermost_selectors(b_document.as_ref(), &b_changed),
        lines: lines::hunks(&a_form.lines, &b_form.lines, ops),
        counted: true,
    }
}

fn parse(html: &str) -> Option<Html> {
    (!html.trim().is_empty()).then(|| html_bounds::parse_document(html).0)
}

/// A document written one element or text per line, with the element each line
/// belongs to.
#[derive(Default)]
struct NormalForm {
    lines: Vec<String>,
    owners: Vec<NodeId>,
}

impl NormalForm {
    fn of(document: Option<&Html>) -> NormalForm {
        let mut form = NormalForm::default();
        let Some(document) = document else { return form };
        let mut depth = 0usize;
        // traverse() walks the tree without recursion: the nesting is the sender's.
        for edge in document.tree.root().traverse() {
            match edge {
                Edge::Open(node) => match node.value() {
                    Node::Element(element) => {
                        let mut attributes: Vec<(&str, &str)> = element.attrs().collect();
                        attributes.sort_unstable();
                        let mut line = format!("{:indent$}<{}", "", element.name(), indent = depth * 2);
                        for (name, value) in attributes {
                            line.push_str(&format!(
                                " {name}=\"{}\"",
                                collapse_whitespace(value).replace('"', "&quot;")
                            ));
                        }
                        line.push('>');
                        form.push(line, node.id());
                        depth += 1;
                    }
                    Node::Text(text) => {
                        let text = collapse_whitespace(text);
                        if let (false, Some(parent)) = (text.is_empty(), node.parent()) {
                            form.push(format!("{:indent$}{text}", "", indent = depth * 2), parent.id());
                        }
                    }
                    _ => {}
                },
                Edge::Close(node) => {
                    if node.value().is_element() {
                        depth -= 1;
                    }
                }
            }
        }
        form
    }

    fn push(&mut self, line: String, owner: NodeId) {
        self.lines.push(line);
        self.owners.push(owner);
    }
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Selectors of the `changed` elements (in document order, repeats allowed) that
/// have no changed ancestor: an added table is one change, not one per cell.
fn outermost_selectors(document: Option<&Html>, changed: &[NodeId]) -> Vec<String> {
    let Some(document) = document else { return Vec::new() };
    let set: HashSet<NodeId> = changed.iter().copied().collect();
    let mut listed = HashSet::new();
    let mut selectors = Vec::new();
    for &id in changed {
        if selectors.len() == MAX_CHANGED {
            break;
        }
        let Some(node) = document.tree.get(id) else { continue };
        if !listed.insert(id) || node.ancestors().any(|ancestor| set.contains(&ancestor.id())) {
            continue;
        }
        if let Some(selector) = ElementRef::wrap(node).and_then(highlight::selector) {
            selectors.push(selector);
        }
    }
    selectors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_attribute_order_and_comments_do_not_count() {
        let a = "<html><body><table class=\"x\" width=\"600\"><tr><td>Hello   world</td></tr></table></body></html>";
        let b = "<!doctype html>\n<html>\n <body>\n  <!-- v2 -->\n  <table width=\"600\"   class=\"x\">\n   <tr>\n    <td>\n      Hello\n      world\n    </td>\n   </tr>\n  </table>\n </body>\n</html>\n";
        let diff = compare(a, b);
        assert!(diff.lines.equal, "{diff:?}");
        assert!(diff.changed_a.is_empty() && diff.changed_b.is_empty());
    }

    #[test]
    fn changed_text_names_its_element_in_both() {
        let a = "<body><p>Intro</p><table><tr><td>Code 1234</td><td>x</td></tr></table></body>";
        let b = "<body><p>Intro</p><table><tr><td>Code 9876</td><td>x</td></tr></table></body>";
        let diff = compare(a, b);
        assert!(!diff.lines.equal);
        let td = "html > body > table:nth-of-type(1) > tbody:nth-of-type(1) > tr:nth-of-type(1) > td:nth-of-type(1)";
        assert_eq!(diff.changed_a, [td]);
        assert_eq!(diff.changed_b, [td]);
    }

    #[test]
    fn an_added_subtree_is_one_change() {
        let a = "<body><p>One</p></body>";
        let b = "<body><p>One</p><div><p>Two</p><p>Three</p></div></body>";
        let diff = compare(a, b);
        assert!(diff.changed_a.is_empty(), "{diff:?}");
        assert_eq!(diff.changed_b, ["html > body > div:nth-of-type(1)"]);
    }

    #[test]
    fn attribute_values_count() {
        let diff = compare("<a href=\"https://x.test/a\">Go</a>", "<a href=\"https://x.test/b\">Go</a>");
        assert_eq!(diff.changed_b, ["html > body > a:nth-of-type(1)"]);
        let removed: Vec<&str> = diff.lines.hunks[0]
            .lines
            .iter()
            .filter(|l| l.kind == super::super::LineKind::Removed)
            .map(|l| l.text.as_str())
            .collect();
        assert_eq!(removed, ["    <a href=\"https://x.test/a\">"]);
    }

    #[test]
    fn no_html_against_some() {
        let diff = compare("", "<p>Hi</p>");
        assert!(!diff.lines.equal);
        assert!(diff.changed_a.is_empty());
        assert_eq!(diff.changed_b, ["html"]);
        assert!(compare("", "  ").lines.equal);
    }
}
