//! Stored messages written out as files: one `.eml`, a folder of `.eml` files, a
//! `.zip` of them, or one mbox.
//!
//! The safety of the names and the writes is described in [`super`].

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use time::macros::format_description;

use crate::mail::mbox;
use crate::model::{MessageId, MessageSummary};
use crate::store::{SearchQuery, Store, StoreError};

/// What an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// A folder of `.eml` files, one per message.
    Folder,
    /// One `.zip` holding the `.eml` files.
    Zip,
    /// One mboxrd file.
    Mbox,
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("message {0} no longer exists")]
    Gone(String),
    #[error("cannot read the store: {0}")]
    Store(#[from] StoreError),
    #[error("cannot write {path}: {source}; pick another place, or free some disk space")]
    Write { path: PathBuf, source: io::Error },
}

/// `ids` (in that order) written to `dest` as `format`: a folder (created if
/// missing) or a file. Messages deleted meanwhile are skipped; `progress` hears
/// `(done, total)` after each message. Returns how many were written.
pub fn write(
    store: &Store,
    ids: &[MessageId],
    format: Format,
    dest: &Path,
    mut progress: impl FnMut(usize, usize),
) -> Result<usize, ArchiveError> {
    let total = ids.len();
    let messages = ids.iter().filter_map(|id| stored(store, id).transpose());
    let mut written = 0;
    let mut each = |message: Result<Stored, ArchiveError>, sink: &mut dyn FnMut(&Stored) -> io::Result<()>| {
        let message = message?;
        sink(&message).map_err(|source| ArchiveError::Write { path: dest.to_path_buf(), source })?;
        written += 1;
        progress(written, total);
        Ok::<_, ArchiveError>(())
    };
    match format {
        Format::Folder => {
            fs::create_dir_all(dest).map_err(|source| ArchiveError::Write { path: dest.to_path_buf(), source })?;
            for message in messages {
                each(message, &mut |m| write_new(dest, &eml_file_name(&m.summary), &m.raw))?;
            }
        }
        Format::Zip => replace(dest, |file| {
            let mut zip = zip::ZipWriter::new(file);
            let options = zip::write::SimpleFileOptions::default();
            let mut names = UniqueNames::default();
            for message in messages {
                each(message, &mut |m| {
                    zip.start_file(names.claim(eml_file_name(&m.summary)), options).map_err(io::Error::other)?;
                    zip.write_all(&m.raw)
                })?;
            }
            zip.finish().map_err(|err| write_error(dest, io::Error::other(err)))?;
            Ok(())
        })?,
        Format::Mbox => replace(dest, |file| {
            let mut out = BufWriter::new(file);
            for message in messages {
                each(message, &mut |m| out.write_all(&mbox::entry(&m.mail_from, m.summary.created, &m.raw)))?;
            }
            out.flush().map_err(|err| write_error(dest, err))
        })?,
    }
    Ok(written)
}

/// The IDs of every message matching search `query`, oldest first: the order an
/// export of a search result is written in.
pub fn matching(store: &Store, query: impl Into<SearchQuery>) -> Result<Vec<MessageId>, StoreError> {
    let page = store.search_in(&query.into(), 0, u64::MAX)?;
    Ok(page.messages.into_iter().rev().map(|summary| summary.id).collect())
}

/// One message's exact bytes written to `dest` (replacing it: the user chose it in
/// a save dialog, which asked about overwriting).
pub fn write_eml(store: &Store, id: &MessageId, dest: &Path) -> Result<(), ArchiveError> {
    let raw = store.raw(id)?.ok_or_else(|| ArchiveError::Gone(id.to_string()))?;
    replace(dest, |mut file| file.write_all(&raw).map_err(|err| write_error(dest, err)))
}

/// The file name a message is saved under: `2026-11-28 15.04 Subject.eml`, made
/// safe on every platform (see the module docs).
pub fn eml_file_name(summary: &MessageSummary) -> String {
    let date = format_description!("[year]-[month]-[day] [hour].[minute]");
    let when = summary.created.format(date).unwrap_or_default();
    let subject = safe_name(&summary.subject, 80);
    let stem = if subject.is_empty() { format!("{when} (no subject)") } else { format!("{when} {subject}") };
    format!("{stem}.eml")
}

/// `text` as one file-name component of at most `max` characters: path separators,
/// control and reserved characters become `_`, runs of whitespace one space, and
/// no leading dot or trailing dot/space. Reserved Windows device names can't come
/// out because the caller puts a date before it, but a bare one gets a `_` anyway.
fn safe_name(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => ' ',
            c => c,
        };
        if c.is_whitespace() && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(if c.is_whitespace() { ' ' } else { c });
        if out.chars().count() >= max {
            break;
        }
    }
    let out = out.trim_start_matches('.').trim_end_matches(['.', ' ']).to_string();
    const RESERVED: &[&str] = &["CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "LPT1", "LPT2", "LPT3"];
    if RESERVED.iter().any(|name| name.eq_ignore_ascii_case(out.split('.').next().unwrap_or_default())) {
        return format!("_{out}");
    }
    out
}

/// What an export needs of a message.
struct Stored {
    summary: MessageSummary,
    mail_from: String,
    raw: Vec<u8>,
}

/// Message `id`, or `None` when it has been deleted since the export began.
fn stored(store: &Store, id: &MessageId) -> Result<Option<Stored>, ArchiveError> {
    let (Some(summary), Some(envelope), Some(raw)) = (store.summary(id)?, store.envelope(id)?, store.raw(id)?) else {
        return Ok(None);
    };
    Ok(Some(Stored { summary, mail_from: envelope.mail_from, raw }))
}

/// Write `bytes` to a new file named `name` in `dir`; when the name is taken, try
/// `name (2)`, `name (3)`, … rather than overwrite.
fn write_new(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let (stem, extension) = name.rsplit_once('.').unwrap_or((name, ""));
    for n in 1.. {
        let candidate = if n == 1 { name.to_string() } else { format!("{stem} ({n}).{extension}") };
        match OpenOptions::new().write(true).create_new(true).open(dir.join(&candidate)) {
            Ok(mut file) => return file.write_all(bytes),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err),
        }
    }
    unreachable!("some name is free")
}

/// Names made unique within one archive, the way [`write_new`] does in a folder.
#[derive(Default)]
struct UniqueNames(std::collections::HashSet<String>);

impl UniqueNames {
    fn claim(&mut self, name: String) -> String {
        let (stem, extension) = name.rsplit_once('.').unwrap_or((&name, ""));
        let name = (1..)
            .map(|n| if n == 1 { name.clone() } else { format!("{stem} ({n}).{extension}") })
            .find(|candidate| !self.0.contains(candidate))
            .expect("some name is free");
        self.0.insert(name.clone());
        name
    }
}

/// Write `dest` through a temporary file beside it, renamed into place once
/// `fill` has succeeded; on failure the temporary file is removed.
fn replace(dest: &Path, fill: impl FnOnce(File) -> Result<(), ArchiveError>) -> Result<(), ArchiveError> {
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = dest.with_file_name(format!(".{name}.pigeonhole-partial"));
    let file = File::create(&temp).map_err(|err| write_error(dest, err))?;
    let filled = fill(file).and_then(|()| fs::rename(&temp, dest).map_err(|err| write_error(dest, err)));
    if filled.is_err() {
        let _ = fs::remove_file(&temp);
    }
    filled
}

fn write_error(path: &Path, source: io::Error) -> ArchiveError {
    ArchiveError::Write { path: path.to_path_buf(), source }
}

#[cfg(test)]
mod tests;
