//! The mbox format: many messages in one file, each after a `From <sender> <date>`
//! separator line. Export writes it ([`entry`], for `POST /api/v1/export`); import
//! reads it ([`read`], for `archive::import`).
//!
//! Written as mboxrd: every line of a message that starts with `From `, `>From `,
//! `>>From `, … gets one more `>`, and each entry ends with an empty line, so a
//! reader gets the exact bytes back by taking one `>` off each such line. Read as
//! mboxrd too, which also reads mboxo files (they quote only `From ` lines): a
//! quoted `From ` comes back right, while a `>From ` line that was in the message
//! as such (mboxo wrote it unchanged, so no reader can tell) loses one `>`.
//!
//! Reading takes LF and CRLF files, and files whose last entry has no empty line
//! after it. The one loss is the format's own: a message whose bytes do not end in
//! a line break gets an LF, as the separator needs a line of its own.

use time::OffsetDateTime;
use time::macros::format_description;

/// One message's mboxrd entry: separator line, quoted bytes, empty line. `mail_from`
/// is the envelope sender (empty for the null sender), `received` when it arrived.
pub fn entry(mail_from: &str, received: OffsetDateTime, raw: &[u8]) -> Vec<u8> {
    let asctime = format_description!(
        "[weekday repr:short] [month repr:short] [day padding:space] [hour]:[minute]:[second] [year]"
    );
    let sender = if mail_from.is_empty() { "MAILER-DAEMON" } else { mail_from };
    // Whitespace would end the sender early (a quoted local part can hold spaces),
    // and a leading `:` would make the line read as a `From :` header field.
    let sender: String = sender
        .chars()
        .enumerate()
        .map(|(i, c)| if c.is_whitespace() || (i == 0 && c == ':') { '_' } else { c })
        .collect();
    let date = received.to_offset(time::UtcOffset::UTC).format(asctime).unwrap_or_default();

    let mut out = Vec::with_capacity(raw.len() + raw.len() / 50 + 64);
    out.extend_from_slice(format!("From {sender} {date}\n").as_bytes());
    for line in raw.split_inclusive(|&b| b == b'\n') {
        if line.iter().skip_while(|&&b| b == b'>').take(5).eq(b"From ") {
            out.push(b'>');
        }
        out.extend_from_slice(line);
    }
    if !raw.ends_with(b"\n") {
        out.push(b'\n');
    }
    out.push(b'\n');
    out
}

/// Whether `bytes` look like an mbox file: they start with a separator line.
pub fn is_mbox(bytes: &[u8]) -> bool {
    is_separator(bytes)
}

/// The messages of an mbox file, in order, each with its exact bytes (quoting
/// undone, separator line and the empty line after the entry taken off). Anything
/// before the first separator line belongs to no message and is skipped; callers
/// check [`is_mbox`] first.
pub fn read(mbox: &[u8]) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    for line in mbox.split_inclusive(|&b| b == b'\n') {
        if is_separator(line) {
            messages.extend(current.replace(Vec::new()).map(without_entry_end));
        } else if let Some(message) = &mut current {
            message.extend_from_slice(unquote(line));
        }
    }
    messages.extend(current.map(without_entry_end));
    messages
}

/// `From ` at the start of a line, except `From:` with spaces before the colon: a
/// header field in the obsolete syntax (RFC 5322 4.5), which a message file may
/// start with.
fn is_separator(line: &[u8]) -> bool {
    line.strip_prefix(b"From ").is_some_and(|rest| rest.iter().find(|&&b| b != b' ' && b != b'\t') != Some(&b':'))
}

/// A quoted line (`>From `, `>>From `, …) with one `>` taken off; other lines as
/// they are.
fn unquote(line: &[u8]) -> &[u8] {
    let quotes = line.iter().take_while(|&&b| b == b'>').count();
    if quotes > 0 && line[quotes..].starts_with(b"From ") { &line[1..] } else { line }
}

/// A message without the empty line that ends its entry (CRLF in a CRLF file), when
/// there is one.
fn without_entry_end(mut message: Vec<u8>) -> Vec<u8> {
    if message.ends_with(b"\r\n\r\n") {
        message.truncate(message.len() - 2);
    } else if message.ends_with(b"\n\n") {
        message.truncate(message.len() - 1);
    }
    message
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn received() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_704_208_830).unwrap()
    }

    #[test]
    fn separators_and_quoting() {
        let raw = b"Subject: x\r\n\r\nFrom here\r\n>From there\r\n>>From afar\r\nFromage\r\n From\r\n";
        let written = entry("a@example.com", received(), raw);
        assert_eq!(
            String::from_utf8(written.clone()).unwrap(),
            "From a@example.com Tue Jan  2 15:20:30 2024\nSubject: x\r\n\r\n>From here\r\n>>From there\r\n\
             >>>From afar\r\nFromage\r\n From\r\n\n"
        );
        assert_eq!(read(&written), [raw.to_vec()]);
        let written = entry("", received(), b"no newline");
        assert_eq!(written, b"From MAILER-DAEMON Tue Jan  2 15:20:30 2024\nno newline\n\n");
        assert_eq!(read(&written), [b"no newline\n".to_vec()]);
        let written = entry(": odd sender", received(), b"x\n");
        assert!(written.starts_with(b"From __odd_sender Tue"), "{:?}", String::from_utf8_lossy(&written));
    }

    #[test]
    fn reads_crlf_files_without_a_final_empty_line() {
        let mbox = b"From a@example.com Tue Jan  2 15:20:30 2024\r\nSubject: one\r\n\r\nBody\r\n\r\n\
                     From b@example.com Tue Jan  2 15:20:31 2024\r\nSubject: two\r\n\r\n>From here\r\n";
        assert_eq!(
            read(mbox),
            [b"Subject: one\r\n\r\nBody\r\n".to_vec(), b"Subject: two\r\n\r\nFrom here\r\n".to_vec()]
        );
    }

    #[test]
    fn reads_entries_without_an_empty_line_between() {
        let mbox =
            b"From - Tue Jan  2 15:20:30 2024\nSubject: one\n\nBody\nFrom - Tue Jan  2 15:20:31 2024\nSubject: two\n";
        assert_eq!(read(mbox), [b"Subject: one\n\nBody\n".to_vec(), b"Subject: two\n".to_vec()]);
    }

    #[test]
    fn reads_mboxo() {
        // mboxo quotes `From ` but leaves `>From ` as it was: the quoted line comes
        // back, the other one cannot.
        let mbox = b"From a Tue Jan  2 15:20:30 2024\nSubject: x\n\n>From quoted\n>From as written\n\n";
        assert_eq!(read(mbox), [b"Subject: x\n\nFrom quoted\nFrom as written\n".to_vec()]);
    }

    #[test]
    fn obsolete_from_header_is_no_separator() {
        assert!(is_mbox(b"From a@example.com Tue Jan  2 15:20:30 2024\n"));
        assert!(is_mbox(b"From - Tue Jan  2 15:20:30 2024\r\n"));
        for not_mbox in [&b"From  : John <j@example.com>\r\n"[..], b"From\t: j@example.com\n", b"From: j@example.com\n"]
        {
            assert!(!is_mbox(not_mbox), "{not_mbox:?}");
        }
        assert_eq!(read(b"Before\nFrom a x\nSubject: y\n"), [b"Subject: y\n".to_vec()]);
        assert!(read(b"").is_empty());
    }

    /// A message: lines that need quoting or look like separators, mixed with
    /// arbitrary ones, with LF or CRLF ends, the last line ended too.
    fn message() -> impl Strategy<Value = Vec<u8>> {
        let text = prop_oneof![
            Just(b"From a@example.com Tue Jan  2 15:20:30 2024".to_vec()),
            Just(b"From ".to_vec()),
            Just(b">From x".to_vec()),
            Just(b">>>From ".to_vec()),
            Just(b"From  : obsolete".to_vec()),
            Just(b"Fromage".to_vec()),
            Just(b">".to_vec()),
            Just(Vec::new()),
            Just(b"\r".to_vec()),
            prop::collection::vec(any::<u8>().prop_filter("one line", |&b| b != b'\n'), 0..40),
        ];
        let end = prop_oneof![Just(&b"\n"[..]), Just(&b"\r\n"[..])];
        prop::collection::vec((text, end), 1..12).prop_map(|lines| {
            lines
                .into_iter()
                .flat_map(|(mut line, end)| {
                    line.extend_from_slice(end);
                    line
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn round_trip(messages in prop::collection::vec((any::<String>(), message()), 0..6)) {
            let mut mbox = Vec::new();
            for (sender, raw) in &messages {
                mbox.extend(entry(sender, received(), raw));
            }
            prop_assert!(messages.is_empty() || is_mbox(&mbox));
            let raws: Vec<Vec<u8>> = messages.into_iter().map(|(_, raw)| raw).collect();
            prop_assert_eq!(read(&mbox), raws);
        }
    }
}
