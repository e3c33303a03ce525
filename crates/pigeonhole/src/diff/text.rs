//! The text body's diff: the body as the full message view shows it (the
//! `text/plain` parts, or the HTML turned into text when there is none), line by
//! line. Line ends (CRLF or LF) and trailing spaces do not count: mail software
//! rewrites both on the way (quoted-printable soft breaks, format=flowed).

use super::lines::{self, LinesDiff};

/// `a`'s text body against `b`'s.
pub fn compare(a: &str, b: &str) -> LinesDiff {
    let (a, b) = (body_lines(a), body_lines(b));
    lines::compare(&a, &b)
}

fn body_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    // A final blank line is how the body ended, not content.
    while lines.last().is_some_and(|line| line.is_empty()) {
        lines.pop();
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::LineKind;

    #[test]
    fn line_ends_and_trailing_spaces_do_not_count() {
        assert!(compare("Hello\r\nWorld  \r\n\r\n", "Hello\nWorld\n").equal);
    }

    #[test]
    fn a_changed_line_is_removed_and_added() {
        let diff = compare("Hi Alice,\nYour code is 1234.\nBye\n", "Hi Alice,\nYour code is 9876.\nBye\n");
        assert!(!diff.equal);
        let changed: Vec<(LineKind, &str)> = diff.hunks[0]
            .lines
            .iter()
            .filter(|l| l.kind != LineKind::Context)
            .map(|l| (l.kind, l.text.as_str()))
            .collect();
        assert_eq!(changed, [(LineKind::Removed, "Your code is 1234."), (LineKind::Added, "Your code is 9876.")]);
    }
}
