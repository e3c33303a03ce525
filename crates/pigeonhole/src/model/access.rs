//! What a principal (a user of the auth files, an API token) may see: every inbox,
//! or only some. The auth files say it (`login`), the API, IMAP and POP3 resolve it
//! at login and hand it down; the store turns it into a restriction of its queries
//! and selections ([`crate::store::SearchQuery::within`], [`crate::store::Selection::within`]).

use std::collections::BTreeSet;

/// The inboxes a principal may see.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Access {
    /// Every inbox: no third field in the auth file, or no auth at all.
    #[default]
    All,
    /// Only these inboxes (never empty: the files refuse an empty list).
    Inboxes(BTreeSet<String>),
}

impl Access {
    /// Whether messages in `inbox` are visible.
    pub fn allows(&self, inbox: &str) -> bool {
        match self {
            Access::All => true,
            Access::Inboxes(inboxes) => inboxes.contains(inbox),
        }
    }

    /// The inboxes a limited principal sees, by name; `None` for every inbox.
    pub fn inboxes(&self) -> Option<Vec<String>> {
        match self {
            Access::All => None,
            Access::Inboxes(inboxes) => Some(inboxes.iter().cloned().collect()),
        }
    }

    /// Read the third field of an auth file's line: inbox names, comma-separated
    /// (spaces around them dropped). `None` when a name is empty.
    pub fn parse_list(list: &str) -> Option<Access> {
        let names: BTreeSet<String> = list.split(',').map(|name| name.trim().to_owned()).collect();
        (!names.iter().any(String::is_empty)).then_some(Access::Inboxes(names))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_and_allow_only_their_inboxes() {
        let access = Access::parse_list("ci-a, ci-b").unwrap();
        assert!(access.allows("ci-a") && access.allows("ci-b"));
        assert!(!access.allows("default"));
        assert_eq!(access.inboxes(), Some(vec!["ci-a".to_owned(), "ci-b".to_owned()]));
        assert!(Access::All.allows("anything"));
        assert_eq!(Access::All.inboxes(), None);
        for bad in ["", "a,,b", "a, ", ","] {
            assert_eq!(Access::parse_list(bad), None, "{bad:?}");
        }
    }
}
