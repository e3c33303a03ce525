//! The e-mail test corpus (`tests/data/corpus/`, 81 real `.eml` files kept byte for
//! byte, sources and licences in its README) for tests that parse, store and read
//! back real mail.

use std::path::PathBuf;

/// Every `.eml` file of the corpus, sorted. Panics with a clear message when the
/// corpus is not where the workspace expects it.
pub(crate) fn files() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/corpus");
    assert!(root.is_dir(), "the test corpus is missing: expected the e-mail corpus at {}", root.display());
    let mut files = Vec::new();
    let mut folders = vec![root];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("read corpus folder") {
            let path = entry.expect("read corpus entry").path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "eml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}
