//! The SpamAssassin check behind `GET /api/v1/message/{ID}/sa-check`: a message
//! sent to the `spamd` the user named (`serve --enable-spamassassin host:port`) with
//! the spamc protocol's `REPORT` command, and spamd's verdict and report read back
//! into Mailpit's `SpamAssassinResponse`.
//!
//! The exchange (spamd's `PROTOCOL` file): we send `REPORT SPAMC/1.5`, a
//! `Content-length` header, a blank line and the message, then close our side;
//! spamd answers `SPAMD/1.1 0 EX_OK`, a `Spam: True ; 1000.0 / 5.0` header, a blank
//! line and the human-readable report, whose rule table we read. As in Mailpit,
//! trouble with spamd (unreachable, too slow, an error answer) is not an HTTP error:
//! the response says what went wrong in `Error`, so the UI can show it.

use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Longest wait for the connection, and for the whole exchange after it (spamd
/// may run slow rules; it does not echo the message, so answers are small).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest message sent (spamc's own default cap is 500 KB; bigger mail is
/// mostly attachments, which rules barely look at) and largest answer read.
pub const MAX_MESSAGE: usize = 10 * 1024 * 1024;
const MAX_RESPONSE: u64 = 1024 * 1024;

/// `SpamAssassinResponse`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = SpamAssassinResponse)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "SpamAssassinResponse"))]
#[serde(rename_all = "PascalCase")]
pub struct SpamCheck {
    /// spamd's verdict: the score reached its threshold (`required_score`, 5 by default).
    pub is_spam: bool,
    /// Why there is no verdict (spamd unreachable, too slow, or it answered an
    /// error); empty when the check ran.
    pub error: String,
    /// The total score, rounded down to one decimal as Mailpit does.
    pub score: f64,
    /// The rules that matched, in the report's order.
    pub rules: Vec<SpamRule>,
}

/// One matched rule (Mailpit's `Rule`).
#[derive(Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = SpamAssassinRule)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "SpamAssassinRule"))]
#[serde(rename_all = "PascalCase")]
pub struct SpamRule {
    pub score: f64,
    pub name: String,
    pub description: String,
}

impl SpamCheck {
    fn failed(error: String) -> SpamCheck {
        SpamCheck { is_spam: false, error, score: 0.0, rules: Vec::new() }
    }
}

/// Ask the spamd at `address` (`host:port`) about `message`.
pub async fn check(address: &str, message: &[u8]) -> SpamCheck {
    if message.len() > MAX_MESSAGE {
        return SpamCheck::failed(format!(
            "the message ({} bytes) is over the SpamAssassin check's limit of {MAX_MESSAGE} bytes",
            message.len()
        ));
    }
    match exchange(address, message).await {
        Ok(answer) => parse(&answer).unwrap_or_else(|error| SpamCheck::failed(format!("SpamAssassin: {error}"))),
        Err(error) => SpamCheck::failed(format!("SpamAssassin (spamd at {address}): {error}")),
    }
}

/// Send the `REPORT` request and read the whole answer.
async fn exchange(address: &str, message: &[u8]) -> Result<Vec<u8>, String> {
    let mut stream = timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| format!("no connection within {} s", CONNECT_TIMEOUT.as_secs()))?
        .map_err(|e| format!("cannot connect: {e}"))?;
    let talk = async {
        let head = format!("REPORT SPAMC/1.5\r\nContent-length: {}\r\n\r\n", message.len());
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(message).await?;
        // spamd reads to our end of stream before it answers.
        stream.shutdown().await?;
        let mut answer = Vec::new();
        (&mut stream).take(MAX_RESPONSE).read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    timeout(RESPONSE_TIMEOUT, talk)
        .await
        .map_err(|_| format!("no answer within {} s", RESPONSE_TIMEOUT.as_secs()))?
        .map_err(|e| format!("the exchange failed: {e}"))
}

/// Read spamd's answer: the status line, the `Spam` header, the report's rules.
fn parse(answer: &[u8]) -> Result<SpamCheck, String> {
    let answer = String::from_utf8_lossy(answer);
    let (head, report) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default();
    // `SPAMD/1.1 0 EX_OK`; an error is a non-zero sysexits code (`76 Bad header line`).
    let mut words = status.splitn(3, ' ');
    let (protocol, code, text) = (words.next(), words.next(), words.next().unwrap_or_default());
    if !protocol.is_some_and(|p| p.starts_with("SPAMD/")) {
        return Err(if status.is_empty() {
            "spamd closed the connection without an answer".to_string()
        } else {
            format!("not a spamd answer: {status:?}")
        });
    }
    if code != Some("0") {
        return Err(format!("spamd answered an error: {} {text}", code.unwrap_or_default()));
    }
    // `Spam: True ; 1000.0 / 5.0`.
    let verdict = lines
        .find_map(|line| line.strip_prefix("Spam:"))
        .ok_or_else(|| "spamd's answer has no Spam header".to_string())?;
    let (flag, scores) = verdict.split_once(';').ok_or_else(|| format!("unreadable Spam header: {verdict:?}"))?;
    let score = scores
        .split('/')
        .next()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .ok_or_else(|| format!("unreadable Spam header: {verdict:?}"))?;
    let is_spam = matches!(flag.trim().to_ascii_lowercase().as_str(), "true" | "yes");
    Ok(SpamCheck { is_spam, error: String::new(), score: round_down(score), rules: rules(report) })
}

/// The rule table at the end of the report:
///
/// ```text
///  pts rule name              description
/// ---- ---------------------- --------------------------------------------------
/// 1000 GTUBE                  BODY: Generic Test for Unsolicited Bulk Email
/// -0.0 NO_RELAYS              Informational: message was not relayed via SMTP
/// ```
///
/// A long description goes on in indented lines, joined here with a space.
fn rules(report: &str) -> Vec<SpamRule> {
    let mut rules: Vec<SpamRule> = Vec::new();
    let table = report.lines().skip_while(|line| !line.starts_with("----")).skip(1);
    for line in table {
        let words = line.split_whitespace().collect::<Vec<_>>();
        // Scores are right-aligned in four columns, so a rule's line starts with at
        // most one space; a description's further lines are indented past that.
        if line.starts_with("  ") {
            if let Some(rule) = rules.last_mut()
                && !words.is_empty()
            {
                rule.description = format!("{} {}", rule.description, words.join(" "));
            }
        } else if let [score, name, description @ ..] = &words[..]
            && let Ok(score) = score.parse::<f64>()
        {
            rules.push(SpamRule {
                score: round_down(score),
                name: name.to_string(),
                description: description.join(" "),
            });
        }
    }
    rules
}

/// Mailpit shows scores rounded down to one decimal.
fn round_down(score: f64) -> f64 {
    (score * 10.0).floor() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const GTUBE_ANSWER: &str = concat!(
        "SPAMD/1.1 0 EX_OK\r\nContent-length: 600\r\nSpam: True ; 1002.3 / 5.0\r\n\r\n",
        r#"Spam detection software, running on the system "host",
has identified this incoming email as possible spam.

Content analysis details:   (1002.3 points, 5.0 required)

 pts rule name              description
---- ---------------------- --------------------------------------------------
1000 GTUBE                  BODY: Generic Test for Unsolicited Bulk Email
 2.3 MISSING_HEADERS        Missing To: header
-0.0 BAYES_50               BODY: Bayes spam probability is 40 to 60%
                            [score: 0.5000]

"#
    );

    #[test]
    fn a_report_becomes_mailpits_response() {
        let check = parse(GTUBE_ANSWER.as_bytes()).unwrap();
        assert!(check.is_spam);
        assert_eq!(check.score, 1002.3);
        assert_eq!(check.error, "");
        let rule = |score, name: &str, description: &str| SpamRule {
            score,
            name: name.to_string(),
            description: description.to_string(),
        };
        assert_eq!(
            check.rules,
            [
                rule(1000.0, "GTUBE", "BODY: Generic Test for Unsolicited Bulk Email"),
                rule(2.3, "MISSING_HEADERS", "Missing To: header"),
                rule(-0.0, "BAYES_50", "BODY: Bayes spam probability is 40 to 60% [score: 0.5000]"),
            ]
        );
        // Mailpit's keys, in its order.
        let json = serde_json::to_string(&check).unwrap();
        assert!(
            json.starts_with(r#"{"IsSpam":true,"Error":"","Score":1002.3,"Rules":[{"Score":1000.0,"Name":"GTUBE","#),
            "{json}"
        );
    }

    #[test]
    fn a_clean_verdict_and_spamd_errors() {
        let clean = parse(b"SPAMD/1.1 0 EX_OK\r\nSpam: False ; -0.1 / 5.0\r\n\r\n").unwrap();
        assert!(!clean.is_spam);
        assert_eq!(clean.score, -0.1);
        assert!(clean.rules.is_empty());
        assert_eq!(
            parse(b"SPAMD/1.0 76 Bad header line: (Content-Length contains non-numeric bytes)\r\n").unwrap_err(),
            "spamd answered an error: 76 Bad header line: (Content-Length contains non-numeric bytes)"
        );
        assert_eq!(parse(b"").unwrap_err(), "spamd closed the connection without an answer");
        assert!(parse(b"HTTP/1.1 400 Bad Request\r\n\r\n").unwrap_err().starts_with("not a spamd answer"));
    }

    #[tokio::test]
    async fn unreachable_spamd_is_said_in_error() {
        // A port just released: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let check = check(&format!("127.0.0.1:{port}"), b"Subject: hi\r\n\r\nhi\r\n").await;
        assert!(!check.is_spam);
        assert!(
            check.error.starts_with(&format!("SpamAssassin (spamd at 127.0.0.1:{port}): cannot connect:")),
            "{}",
            check.error
        );
    }
}
