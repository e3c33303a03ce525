//! `pigeonhole sendmail` (alias `send`, or the binary run under the name `sendmail`):
//! a sendmail-compatible entry point for applications that shell out to
//! `sendmail` (PHP's `mail()`, cron). It reads one message from stdin and delivers it
//! over SMTP to the local `pigeonhole serve` listener.
//!
//! Command line, as sendmail's (getopt style, so `-ti` and `-fme@x` work too):
//!
//! - recipients as arguments (comma-separated lists allowed; a bare name gets
//!   `@localhost`);
//! - `-t`: also every address of the To, Cc and Bcc headers;
//! - `-f ADDR` (or `-r ADDR`): envelope sender; `-f ''` or `-f '<>'` is the null
//!   sender. Default: the From header's address, else `$USER@localhost`;
//! - `-i`, `-oi`: a line holding a single dot does not end the message. Always so:
//!   the message is everything up to the end of stdin;
//! - accepted and ignored: `-o…` options (`-odi`, `-oem`, …), `-bm`, `-F name`,
//!   `-N dsn`, `-R ret`, `-V envid`, `-B type`, `-C file`, `-L tag`, `-O opt`,
//!   `-X log`, `-h hops`, `-m`, `-n`, `-U`, `-G`; `-v` prints the server's reply.
//! - `--smtp ADDR` (env `PIGEONHOLE_SMTP`, default `127.0.0.1:1025`): where to deliver.
//!
//! The message is delivered as read, except that bare LF line ends become CRLF (as
//! sendmail does on the wire), a missing final line end is added, and Bcc headers are
//! removed (as sendmail `-t` and Postfix do): a Bcc recipient must not be shown to
//! the others.
//!
//! Exit codes are sendmail's (sysexits): 0 delivered, 64 bad usage or no recipients,
//! 65 a malformed address, 69 the server refused the message for good, 74 cannot
//! read stdin, 75 the server cannot be reached or refused for now.

use std::io::Read;
use std::str::FromStr;
use std::time::Duration;

use clap::Args;
use lettre::Transport;
use lettre::address::{Address, Envelope};
use lettre::transport::smtp::SmtpTransport;
use mail_parser::{HeaderName, MessageParser};

use super::Failure;

pub const DEFAULT_SMTP: &str = "127.0.0.1:1025";

const EX_USAGE: u8 = 64;
const EX_DATAERR: u8 = 65;
const EX_UNAVAILABLE: u8 = 69;
const EX_IOERR: u8 = 74;
const EX_TEMPFAIL: u8 = 75;

/// Everything after `sendmail` is read here, not by clap: sendmail's options
/// (`-oi`, `-odi`, `-fADDR`) are not in a form clap parses.
#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct SendmailArgs {
    /// sendmail options and recipients: [--smtp ADDR] [-t] [-i] [-f SENDER] [RECIPIENT...] (see --help)
    #[arg(allow_hyphen_values = true, trailing_var_arg = true, num_args = 0.., value_name = "ARGS")]
    pub args: Vec<String>,
}

const HELP: &str = "\
Read a message from stdin and deliver it to a running `pigeonhole serve`, like sendmail.

Usage: pigeonhole sendmail [--smtp ADDR] [-t] [-i] [-f SENDER] [RECIPIENT...] < message

  RECIPIENT   envelope recipients (a bare name gets @localhost)
  -t          also send to the To, Cc and Bcc headers' addresses (Bcc headers are always removed)
  -f SENDER   envelope sender (also -r); default: the From header's address, else $USER@localhost
  -i, -oi     a line with a single dot does not end the message (always so)
  -v          print the server's reply on stderr
  --smtp ADDR the SMTP listener [env: PIGEONHOLE_SMTP] [default: 127.0.0.1:1025]

Other sendmail options (-o..., -bm, -F NAME, -N, -R, -V, -B, -C, -L, -O, -X, -h) are accepted and ignored.
Exit status: 0 delivered, 64 usage, 65 bad address, 69 refused, 74 stdin unreadable, 75 server unreachable.
";

#[derive(Debug, Default, PartialEq)]
struct Options {
    smtp: Option<String>,
    from_headers: bool,
    /// `Some("")` is the null sender.
    sender: Option<String>,
    recipients: Vec<String>,
    verbose: bool,
    help: bool,
}

pub fn run(args: SendmailArgs) -> Result<(), Failure> {
    let options = parse_args(&args.args)?;
    if options.help {
        print!("{HELP}");
        return Ok(());
    }
    let smtp = options
        .smtp
        .clone()
        .or_else(|| std::env::var("PIGEONHOLE_SMTP").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| DEFAULT_SMTP.to_owned());

    let mut input = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut input)
        .map_err(|e| Failure::new(EX_IOERR, format!("cannot read the message from stdin: {e}")))?;
    let message = strip_bcc(&to_crlf(&input));

    let headers = MessageParser::new().parse_headers(&input);
    let header_addresses = |names: &[HeaderName]| -> Vec<String> {
        let Some(headers) = &headers else { return Vec::new() };
        names
            .iter()
            .flat_map(|name| headers.header_values(name.clone()))
            .filter_map(|value| value.as_address())
            .flat_map(|list| list.iter().filter_map(|addr| addr.address().map(str::to_owned)).collect::<Vec<_>>())
            .collect()
    };

    let mut recipients: Vec<String> = Vec::new();
    for word in options.recipients.iter().flat_map(|arg| arg.split(',')) {
        let word = word.trim().trim_start_matches('<').trim_end_matches('>').trim();
        if !word.is_empty() {
            recipients.push(if word.contains('@') { word.to_owned() } else { format!("{word}@localhost") });
        }
    }
    if options.from_headers {
        recipients.extend(header_addresses(&[HeaderName::To, HeaderName::Cc, HeaderName::Bcc]));
    }
    let mut seen = std::collections::HashSet::new();
    recipients.retain(|r| seen.insert(r.to_ascii_lowercase()));
    if recipients.is_empty() {
        let hint = if options.from_headers { "no To, Cc or Bcc address in the message" } else { "none given" };
        return Err(Failure::new(
            EX_USAGE,
            format!("no recipients ({hint}): name them as arguments, or pass -t to take them from the headers"),
        ));
    }

    let sender = match &options.sender {
        Some(sender) => Some(sender.trim().trim_start_matches('<').trim_end_matches('>').trim().to_owned()),
        None => header_addresses(&[HeaderName::From]).into_iter().next(),
    };
    let sender = match sender {
        Some(sender) if sender.is_empty() => None,
        Some(sender) => Some(address(&sender, "sender")?),
        None => Some(address(&default_sender(), "sender")?),
    };
    let to = recipients.iter().map(|r| address(r, "recipient")).collect::<Result<Vec<_>, _>>()?;
    let envelope = Envelope::new(sender, to).map_err(|e| Failure::new(EX_USAGE, format!("envelope: {e}")))?;

    let (host, port) = split_host_port(&smtp)
        .ok_or_else(|| Failure::new(EX_USAGE, format!("--smtp {smtp:?} is not HOST:PORT (like {DEFAULT_SMTP})")))?;
    let transport = SmtpTransport::builder_dangerous(host).port(port).timeout(Some(Duration::from_secs(60))).build();
    // lettre ends the data with CRLF "." CRLF itself: a message that already ends
    // with a line end gives up that one, or it would be stored with an extra line.
    let body = message.strip_suffix(b"\r\n").unwrap_or(&message);
    match transport.send_raw(&envelope, body) {
        Ok(response) => {
            if options.verbose {
                eprintln!("{} {}", response.code(), response.message().collect::<Vec<_>>().join(" "));
            }
            Ok(())
        }
        Err(e) => Err(delivery_failure(&smtp, &e)),
    }
}

fn delivery_failure(smtp: &str, e: &lettre::transport::smtp::Error) -> Failure {
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !detail.contains(&text) {
            detail = format!("{detail}: {text}");
        }
        source = cause.source();
    }
    if e.is_permanent() {
        Failure::new(EX_UNAVAILABLE, format!("the SMTP listener at {smtp} refused the message: {detail}"))
    } else if e.is_transient() {
        Failure::new(EX_TEMPFAIL, format!("the SMTP listener at {smtp} refused the message for now: {detail}"))
    } else {
        Failure::new(
            EX_TEMPFAIL,
            format!(
                "cannot deliver to the SMTP listener at {smtp} ({detail}): is `pigeonhole serve` running? \
                 Start it, or point --smtp / PIGEONHOLE_SMTP at its SMTP address"
            ),
        )
    }
}

fn address(text: &str, what: &str) -> Result<Address, Failure> {
    Address::from_str(text)
        .map_err(|e| Failure::new(EX_DATAERR, format!("{what} {text:?} is not a valid address: {e}")))
}

fn default_sender() -> String {
    let user = ["USER", "LOGNAME"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|user| !user.is_empty() && !user.contains(['@', ' ', '<', '>']))
        .unwrap_or_else(|| "nobody".to_owned());
    format!("{user}@localhost")
}

/// sendmail's command line, getopt style.
fn parse_args(args: &[String]) -> Result<Options, Failure> {
    let mut options = Options::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            options.recipients.extend(args.by_ref().cloned());
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            match long.split_once('=') {
                Some(("smtp", value)) => options.smtp = Some(value.to_owned()),
                None if long == "smtp" => {
                    let value = args.next().ok_or_else(|| Failure::new(EX_USAGE, "--smtp needs an address"))?;
                    options.smtp = Some(value.clone());
                }
                None if long == "help" => options.help = true,
                _ => return Err(Failure::new(EX_USAGE, format!("unknown option {arg} (see --help)"))),
            }
            continue;
        }
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
            options.recipients.push(arg.clone());
            continue;
        };
        for (i, flag) in flags.char_indices() {
            let rest = &flags[i + flag.len_utf8()..];
            // The value of an option that takes one: the rest of this word, else the next word.
            let mut value = || -> Result<String, Failure> {
                if !rest.is_empty() {
                    return Ok(rest.to_owned());
                }
                args.next().cloned().ok_or_else(|| Failure::new(EX_USAGE, format!("option -{flag} needs a value")))
            };
            match flag {
                't' => options.from_headers = true,
                'v' => options.verbose = true,
                'i' | 'm' | 'n' | 'U' | 'G' => {}
                'f' | 'r' => {
                    options.sender = Some(value()?);
                    break;
                }
                'o' | 'F' | 'N' | 'R' | 'V' | 'B' | 'C' | 'L' | 'O' | 'X' | 'h' | 'p' => {
                    value()?;
                    break;
                }
                'b' => {
                    let mode = value()?;
                    if mode != "m" {
                        return Err(Failure::new(
                            EX_USAGE,
                            format!("-b{mode} is not supported: only delivery (-bm, the default) is"),
                        ));
                    }
                    break;
                }
                _ => return Err(Failure::new(EX_USAGE, format!("unknown option -{flag} in {arg} (see --help)"))),
            }
        }
    }
    Ok(options)
}

/// `host:port`, `[v6]:port`.
fn split_host_port(addr: &str) -> Option<(&str, u16)> {
    let (host, port) = addr.rsplit_once(':')?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if host.is_empty() {
        return None;
    }
    Some((host, port.parse().ok()?))
}

/// Bare LF line ends become CRLF, and a missing final line end is added.
fn to_crlf(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + input.len() / 32 + 2);
    for (i, &b) in input.iter().enumerate() {
        if b == b'\n' && (i == 0 || input[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Removes every Bcc header field (with its continuation lines) from the header
/// section of a CRLF message; everything else is left byte for byte.
fn strip_bcc(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len());
    let mut rest = message;
    let mut dropping = false;
    while !rest.is_empty() {
        let end = rest.windows(2).position(|w| w == b"\r\n").map_or(rest.len(), |p| p + 2);
        let (line, after) = rest.split_at(end);
        if line == b"\r\n" {
            // The blank line: the body follows, untouched.
            out.extend_from_slice(rest);
            break;
        }
        let continuation = line.first().is_some_and(|&b| b == b' ' || b == b'\t');
        if !continuation {
            let name = line.split(|&b| b == b':').next().unwrap_or_default();
            dropping = line.contains(&b':') && name.trim_ascii().eq_ignore_ascii_case(b"bcc");
        }
        if !dropping {
            out.extend_from_slice(line);
        }
        rest = after;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, Failure> {
        parse_args(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn sendmail_command_lines() {
        // PHP's mail(): sendmail_path = "sendmail -t -i"
        let o = parse(&["-t", "-i"]).unwrap();
        assert!(o.from_headers && o.recipients.is_empty() && o.sender.is_none());
        // cron
        let o = parse(&["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"]).unwrap();
        assert_eq!(o.recipients, ["root"]);
        assert!(!o.from_headers);
        let o = parse(&["-ti", "-odi", "-oem", "-bm", "-F", "App Name", "-f", "app@example.test", "a@x.test"]).unwrap();
        assert!(o.from_headers);
        assert_eq!(o.sender.as_deref(), Some("app@example.test"));
        assert_eq!(o.recipients, ["a@x.test"]);
        let o = parse(&["-fme@example.test", "--smtp", "127.0.0.1:2525", "--", "-odd@x.test"]).unwrap();
        assert_eq!(o.sender.as_deref(), Some("me@example.test"));
        assert_eq!(o.smtp.as_deref(), Some("127.0.0.1:2525"));
        assert_eq!(o.recipients, ["-odd@x.test"]);
        assert_eq!(parse(&["-f", ""]).unwrap().sender.as_deref(), Some(""));
        assert_eq!(parse(&["--smtp=h:1"]).unwrap().smtp.as_deref(), Some("h:1"));
        assert!(parse(&["--help"]).unwrap().help);
        assert_eq!(parse(&["-bs"]).unwrap_err().code, EX_USAGE);
        assert_eq!(parse(&["-f"]).unwrap_err().code, EX_USAGE);
        assert_eq!(parse(&["-Z"]).unwrap_err().code, EX_USAGE);
    }

    #[test]
    fn line_ends_become_crlf() {
        assert_eq!(to_crlf(b"a\nb\r\nc"), b"a\r\nb\r\nc\r\n");
        assert_eq!(to_crlf(b"\n"), b"\r\n");
        assert_eq!(to_crlf(b""), b"");
    }

    #[test]
    fn bcc_is_removed_with_its_continuation_lines() {
        let m = b"From: a@x\r\nBcc: hidden@x,\r\n  other@x\r\nTo: b@x\r\nBCC : h2@x\r\n\r\nBcc: in the body\r\n";
        assert_eq!(strip_bcc(m), b"From: a@x\r\nTo: b@x\r\n\r\nBcc: in the body\r\n");
        assert_eq!(strip_bcc(b"Subject: no body\r\nBcc: x@y\r\n"), b"Subject: no body\r\n");
    }

    #[test]
    fn host_port() {
        assert_eq!(split_host_port("127.0.0.1:1025"), Some(("127.0.0.1", 1025)));
        assert_eq!(split_host_port("[::1]:25"), Some(("::1", 25)));
        assert_eq!(split_host_port("localhost"), None);
    }
}
