//! `pigeonhole wait | list | get | delete | readyz`: one HTTP request each to a
//! running server's API, the answer on stdout.
//!
//! Exit codes, for scripts: 0 done; 1 `wait` timed out (nothing matched in time),
//! or `readyz` found the server not ready; 2 anything else (server unreachable, an
//! error answer, bad arguments).

use std::io::Write;
use std::time::Duration;

use clap::{ArgGroup, Args, ValueEnum};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::Value;

use pigeonhole::parse_wait_timeout;

use super::Failure;

/// `wait` timed out.
pub const EXIT_TIMEOUT: u8 = 1;
/// Any other failure.
pub const EXIT_ERROR: u8 = 2;
/// `readyz`: not ready, for whatever reason. Docker's HEALTHCHECK reads 1 as
/// unhealthy and reserves 2, so no failure of `readyz` exits 2.
pub const EXIT_NOT_READY: u8 = 1;

/// How long `readyz` waits for the answer: a health check must not hang.
const READYZ_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a request other than `wait` may take.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The server's own limit on `timeout` (5m) plus slack: the client's timeout used for
/// a `wait` whose timeout we cannot read (the server will say what is wrong with it).
const WAIT_FALLBACK: Duration = Duration::from_secs(6 * 60);
/// How much longer than the wait itself the HTTP request may take, so that the
/// server's 408 (not our own timeout) ends a wait.
const WAIT_SLACK: Duration = Duration::from_secs(30);

#[derive(Args, Debug)]
pub struct ServerArgs {
    /// Base URL of a running `pigeonhole serve` (its HTTP address).
    #[arg(long, env = "PIGEONHOLE_URL", default_value = "http://127.0.0.1:8025")]
    pub url: String,
    /// API token of the server's --api-tokens-file, sent as `Authorization: Bearer` (better given in the environment than on the command line).
    #[arg(long, env = "PIGEONHOLE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Args, Debug)]
pub struct ReadyzArgs {
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Args, Debug)]
pub struct WaitArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Search query the message must match (`to:bob@example.test subject:welcome`); empty = any message.
    #[arg(long, short, default_value = "")]
    pub query: String,
    /// How long to wait: `500ms`, `30s`, `2m` or seconds (at most 5m).
    #[arg(long, short, default_value = "30s")]
    pub timeout: String,
    /// Only messages stored after this one (a message ID) or this time (RFC 3339);
    /// without it, only messages stored from now on.
    #[arg(long)]
    pub after: Option<String>,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Only the messages matching this search query.
    #[arg(long, short)]
    pub query: Option<String>,
    /// At most this many messages (newest first) [server default: 50].
    #[arg(long, short = 'n')]
    pub limit: Option<u64>,
    /// Skip this many of the newest messages first.
    #[arg(long)]
    pub start: Option<u64>,
    /// `json`: the API's page as is; `table`: one line per message (ID, date, from, subject).
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Json,
    Table,
}

#[derive(Args, Debug)]
pub struct GetArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Message ID, or `latest` for the newest message.
    pub id: String,
    /// Print the exact stored bytes of the message instead of its parsed JSON.
    #[arg(long)]
    pub raw: bool,
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("what").required(true).args(["all", "ids"])))]
pub struct DeleteArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Delete every message.
    #[arg(long)]
    pub all: bool,
    /// IDs of the messages to delete.
    pub ids: Vec<String>,
}

pub fn wait(args: WaitArgs) -> Result<(), Failure> {
    let api = Api::new(&args.server, parse_wait_timeout(&args.timeout).map_or(WAIT_FALLBACK, |d| d + WAIT_SLACK))?;
    let mut params = vec![("query", args.query.as_str()), ("timeout", args.timeout.as_str())];
    if let Some(after) = &args.after {
        params.push(("after", after));
    }
    let request = api.client.get(api.url("/api/v1/wait", &params));
    let response = api.send(request, "GET /api/v1/wait")?;
    if response.status() == StatusCode::REQUEST_TIMEOUT {
        let body = response.text().unwrap_or_default();
        let reason = error_text(&body).unwrap_or_else(|| format!("nothing arrived within {}", args.timeout));
        return Err(Failure::new(EXIT_TIMEOUT, format!("{reason} (query {:?})", args.query)));
    }
    let body = api.ok_body(response, "GET /api/v1/wait")?;
    print_line(&body)
}

pub fn list(args: ListArgs) -> Result<(), Failure> {
    let api = Api::new(&args.server, REQUEST_TIMEOUT)?;
    let (start, limit) = (args.start.map(|n| n.to_string()), args.limit.map(|n| n.to_string()));
    let mut params = Vec::new();
    if let Some(start) = &start {
        params.push(("start", start.as_str()));
    }
    if let Some(limit) = &limit {
        params.push(("limit", limit.as_str()));
    }
    let path = match &args.query {
        Some(query) => {
            params.push(("query", query));
            "/api/v1/search"
        }
        None => "/api/v1/messages",
    };
    let what = format!("GET {path}");
    let response = api.send(api.client.get(api.url(path, &params)), &what)?;
    let body = api.ok_body(response, &what)?;
    match args.format {
        Format::Json => print_line(&body),
        Format::Table => {
            let page: Value = serde_json::from_slice(&body)
                .map_err(|e| Failure::new(EXIT_ERROR, format!("{what}: the answer is not JSON ({e})")))?;
            let mut out = String::new();
            for message in page["messages"].as_array().into_iter().flatten() {
                let from = &message["From"];
                let from = match from["Address"].as_str() {
                    Some(address) if !address.is_empty() => address,
                    _ => from["Name"].as_str().unwrap_or(""),
                };
                let line = [
                    message["ID"].as_str().unwrap_or(""),
                    message["Created"].as_str().unwrap_or(""),
                    from,
                    message["Subject"].as_str().unwrap_or(""),
                ]
                .map(|field| field.replace(['\t', '\r', '\n'], " "))
                .join("\t");
                out.push_str(&line);
                out.push('\n');
            }
            write_stdout(out.as_bytes())
        }
    }
}

pub fn get(args: GetArgs) -> Result<(), Failure> {
    let api = Api::new(&args.server, REQUEST_TIMEOUT)?;
    let id = utf8_percent_encode(&args.id, NON_ALPHANUMERIC).to_string();
    let path = if args.raw { format!("/api/v1/message/{id}/raw") } else { format!("/api/v1/message/{id}") };
    let what = format!("GET {path}");
    let response = api.send(api.client.get(api.url(&path, &[])), &what)?;
    let body = api.ok_body(response, &what)?;
    if args.raw { write_stdout(&body) } else { print_line(&body) }
}

pub fn delete(args: DeleteArgs) -> Result<(), Failure> {
    let api = Api::new(&args.server, REQUEST_TIMEOUT)?;
    let mut request = api.client.delete(api.url("/api/v1/messages", &[]));
    if !args.all {
        request = request.json(&serde_json::json!({ "IDs": args.ids }));
    }
    let response = api.send(request, "DELETE /api/v1/messages")?;
    api.ok_body(response, "DELETE /api/v1/messages")?;
    Ok(())
}

/// Exit 0 when the server answers `GET /readyz` with 200, else 1 with the reason
/// (Mailpit's `readyz`, for a container's health check).
pub fn readyz(args: ReadyzArgs) -> Result<(), Failure> {
    let not_ready = |failure: Failure| Failure { code: EXIT_NOT_READY, ..failure };
    let api = Api::new(&args.server, READYZ_TIMEOUT).map_err(not_ready)?;
    let response = api.send(api.client.get(api.url("/readyz", &[])), "GET /readyz").map_err(not_ready)?;
    api.ok_body(response, "GET /readyz").map_err(not_ready)?;
    Ok(())
}

/// A running server's HTTP API, as the client subcommands talk to it.
pub(super) struct Api {
    pub(super) client: Client,
    base: String,
}

impl Api {
    pub(super) fn new(server: &ServerArgs, timeout: Duration) -> Result<Api, Failure> {
        let url = &server.url;
        let base = url.trim().trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Failure::new(
                EXIT_ERROR,
                format!("--url {url:?} is not an http:// URL (like http://127.0.0.1:8025)"),
            ));
        }
        let headers = pigeonhole::bearer_headers(server.token.as_deref()).map_err(|e| Failure::new(EXIT_ERROR, e))?;
        let client = Client::builder()
            .default_headers(headers)
            // Loopback (the usual server) must never go through a proxy from the environment.
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| Failure::new(EXIT_ERROR, format!("cannot make an HTTP client: {e}")))?;
        Ok(Api { client, base })
    }

    pub(super) fn url(&self, path: &str, params: &[(&str, &str)]) -> String {
        let mut url = format!("{}{path}", self.base);
        for (i, (name, value)) in params.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(name);
            url.push('=');
            url.extend(utf8_percent_encode(value, NON_ALPHANUMERIC));
        }
        url
    }

    pub(super) fn send(&self, request: RequestBuilder, what: &str) -> Result<Response, Failure> {
        request.send().map_err(|e| {
            let reason = if e.is_timeout() {
                "no answer in time".to_owned()
            } else if e.is_connect() {
                "cannot connect".to_owned()
            } else {
                e.without_url().to_string()
            };
            Failure::new(
                EXIT_ERROR,
                format!(
                    "{what} at {}: {reason}: is `pigeonhole serve` running there? \
                     (start it, or point --url / PIGEONHOLE_URL at its HTTP address)",
                    self.base
                ),
            )
        })
    }

    /// The body of a 200 answer; anything else is a failure quoting the server's error.
    pub(super) fn ok_body(&self, response: Response, what: &str) -> Result<Vec<u8>, Failure> {
        let status = response.status();
        let body = response
            .bytes()
            .map_err(|e| Failure::new(EXIT_ERROR, format!("{what} at {}: reading the answer: {e}", self.base)))?;
        if status.is_success() {
            return Ok(body.to_vec());
        }
        let text = String::from_utf8_lossy(&body);
        let detail = error_text(&body).unwrap_or_else(|| text.trim().chars().take(200).collect());
        let detail = detail.replace(['\r', '\n'], " ");
        let hint = if status == StatusCode::NOT_FOUND && !what.contains("/message/") {
            " (is this a Pigeonhole server?)"
        } else {
            ""
        };
        Err(Failure::new(EXIT_ERROR, format!("{what} at {} answered {status}: {detail}{hint}", self.base)))
    }
}

/// `Error` of a JSON error answer (`{"Error": "…"}`).
fn error_text(body: impl AsRef<[u8]>) -> Option<String> {
    let value: Value = serde_json::from_slice(body.as_ref()).ok()?;
    value.get("Error")?.as_str().map(str::to_owned)
}

/// A JSON answer on stdout, with a final newline.
pub(super) fn print_line(body: &[u8]) -> Result<(), Failure> {
    let mut out = body.to_vec();
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    write_stdout(&out)
}

pub(super) fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        // A reader that stopped reading (`| head`) is not our failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::new(EXIT_ERROR, format!("writing to stdout: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_encoded() {
        let api = Api::new(&ServerArgs { url: "http://127.0.0.1:8025/".into(), token: None }, REQUEST_TIMEOUT).unwrap();
        assert_eq!(
            api.url("/api/v1/search", &[("query", "to:bob@example.test a&b"), ("limit", "5")]),
            "http://127.0.0.1:8025/api/v1/search?query=to%3Abob%40example%2Etest%20a%26b&limit=5"
        );
        assert!(Api::new(&ServerArgs { url: "127.0.0.1:8025".into(), token: None }, REQUEST_TIMEOUT).is_err());
    }

    #[test]
    fn error_texts() {
        assert_eq!(error_text(br#"{"Error":"timeout"}"#).as_deref(), Some("timeout"));
        assert_eq!(error_text(b"not found"), None);
    }
}
