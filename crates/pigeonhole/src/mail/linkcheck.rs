//! The link check behind `GET /api/v1/message/{ID}/link-check`: every http(s) link
//! of a message (its anchors and bare URLs, [`super::links`], plus the images and
//! style sheets its HTML loads) asked for its HTTP status, in Mailpit's
//! `LinkCheckResponse` shape. At most [`MAX_LINKS`] are checked: the first ones.
//!
//! A link is asked with HEAD, then GET when HEAD fails (many servers refuse HEAD),
//! five at a time, each with short timeouts; redirects are followed only on request
//! (`follow`), at most ten.
//!
//! The check runs on the user's machine, so a message must not be able to point it
//! at the machine or its network: unless the engine was started with
//! `--allow-local-link-check`, a link to a loopback, private, link-local,
//! unique-local, shared (CGNAT), multicast, reserved or cloud-metadata address is
//! refused, and so are the IPv4-mapped, IPv4-compatible, 6to4, NAT64 and Teredo
//! forms of such addresses ([`refusal`]). The client resolves host names itself
//! ([`VettedResolver`]) and connects only to the addresses it vetted, so a name
//! cannot resolve one way for the check and another for the connection; proxies
//! from the environment are not used; every redirect target is vetted again.

use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect::Policy;
use scraper::Selector;
use serde::Serialize;

use super::html_bounds;
use super::links::MAX_LINKS;

/// Links checked at once.
const CONCURRENCY: usize = 5;
/// Longest wait for a connection, and for a whole answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_REDIRECTS: usize = 10;

/// `LinkCheckResponse`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = LinkCheckResponse)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "LinkCheckResponse"))]
#[serde(rename_all = "PascalCase")]
pub struct LinkCheck {
    /// Links that failed: no answer, a refusal, or a status of 400 and up.
    pub errors: usize,
    pub links: Vec<LinkStatus>,
}

/// One checked link (Mailpit's `Link` of the link check).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = LinkCheckLink)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "LinkCheckLink"))]
#[serde(rename_all = "PascalCase")]
pub struct LinkStatus {
    #[serde(rename = "URL")]
    pub url: String,
    /// The HTTP status; 0 when there was none.
    pub status_code: u16,
    /// The status's reason (`Not Found`), or why there was none.
    pub status: String,
}

/// The http(s) URLs a message leads to or loads: its links (anchors, then bare
/// URLs), then `img[src]` and style sheets of the HTML; each once, in that order,
/// and at most [`MAX_LINKS`] in all.
pub fn urls(text: &str, html: &str) -> Vec<String> {
    let mut urls: Vec<String> = super::links::links(text, html).into_iter().map(|link| link.url).collect();
    if !html.trim().is_empty() {
        let (document, _) = html_bounds::parse_document(html);
        let resources = Selector::parse("img[src], link[rel~=\"stylesheet\" i][href]").expect("a valid selector");
        for element in document.select(&resources) {
            let element = element.value();
            if let Some(url) = element.attr("src").or_else(|| element.attr("href")) {
                urls.push(url.trim().to_string());
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    urls.retain(|url| is_http(url) && seen.insert(url.clone()));
    urls.truncate(MAX_LINKS);
    urls
}

fn is_http(url: &str) -> bool {
    Url::parse(url).is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
}

/// Check `urls`; `follow`: follow redirects; `allow_local`: let links reach this
/// machine and its networks.
pub async fn check(urls: Vec<String>, follow: bool, allow_local: bool) -> LinkCheck {
    let client = match client(follow, allow_local) {
        Ok(client) => client,
        Err(err) => {
            // Only a broken TLS setup gets here; say so on every link.
            let status = format!("cannot check links: {err}");
            let links: Vec<LinkStatus> =
                urls.into_iter().map(|url| LinkStatus { url, status_code: 0, status: status.clone() }).collect();
            return LinkCheck { errors: links.len(), links };
        }
    };
    let links: Vec<LinkStatus> = futures_util::stream::iter(urls)
        .map(|url| status(&client, url, allow_local))
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let errors = links.iter().filter(|link| link.status_code == 0 || link.status_code >= 400).count();
    LinkCheck { errors, links }
}

fn client(follow: bool, allow_local: bool) -> reqwest::Result<reqwest::Client> {
    let redirects = Policy::custom(move |attempt| {
        if !follow {
            attempt.stop()
        } else if attempt.previous().len() >= MAX_REDIRECTS {
            attempt.error(format!("stopped after {MAX_REDIRECTS} redirects"))
        } else if let Err(refused) = vet_url(attempt.url(), allow_local) {
            attempt.error(refused)
        } else {
            attempt.follow()
        }
    });
    reqwest::Client::builder()
        .user_agent(concat!("Pigeonhole/", env!("CARGO_PKG_VERSION"), " (link check)"))
        .no_proxy()
        .dns_resolver(Arc::new(VettedResolver { allow_local }))
        .redirect(redirects)
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .build()
}

async fn status(client: &reqwest::Client, url: String, allow_local: bool) -> LinkStatus {
    let answer = match Url::parse(&url) {
        Err(err) => Err(format!("invalid URL: {err}")),
        Ok(parsed) => match vet_url(&parsed, allow_local) {
            Err(refused) => Err(refused.to_string()),
            Ok(()) => {
                let answer = match client.head(parsed.clone()).send().await {
                    Ok(response) if response.status().as_u16() < 400 => Ok(response),
                    // Refused, unreachable or silent: a GET would fare the same.
                    Err(err) if err.is_connect() || err.is_timeout() || refusal_in(&err).is_some() => Err(err),
                    // Many servers answer HEAD wrongly (405, 404, a dropped
                    // connection): the GET's answer is the one a reader gets.
                    _ => client.get(parsed).send().await,
                };
                answer.map(|response| response.status()).map_err(|err| describe(&err))
            }
        },
    };
    match answer {
        Ok(code) => {
            LinkStatus { url, status_code: code.as_u16(), status: code.canonical_reason().unwrap_or("").to_string() }
        }
        Err(status) => LinkStatus { url, status_code: 0, status },
    }
}

/// Why a request got no status, in a few words: our refusal, a timeout, or the
/// innermost cause (`Connection refused`, `failed to lookup address …`).
fn describe(err: &reqwest::Error) -> String {
    if let Some(refused) = refusal_in(err) {
        return refused.to_string();
    }
    if err.is_timeout() {
        return "timed out".into();
    }
    let mut cause: &dyn StdError = err;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

fn refusal_in(err: &reqwest::Error) -> Option<&Refused> {
    let mut cause: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(error) = cause {
        if let Some(refused) = error.downcast_ref::<Refused>() {
            return Some(refused);
        }
        cause = error.source();
    }
    None
}

/// A link the check will not follow, and why.
#[derive(Debug)]
pub struct Refused {
    reason: &'static str,
    address: IpAddr,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refused: {} ({}); start pigeonhole with --allow-local-link-check to check links to this machine and its networks",
            self.reason, self.address
        )
    }
}

impl StdError for Refused {}

/// A URL whose host is an address literal must be an allowed address (names are
/// vetted when they are resolved).
fn vet_url(url: &Url, allow_local: bool) -> Result<(), Refused> {
    let host = url.host_str().unwrap_or("");
    match host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        Ok(address) => vet(address, allow_local),
        Err(_) => Ok(()),
    }
}

fn vet(address: IpAddr, allow_local: bool) -> Result<(), Refused> {
    #[cfg(test)]
    if tests::PLAYS_PUBLIC.get() == Some(address) {
        return Ok(());
    }
    match refusal(address) {
        Some(reason) if !allow_local => Err(Refused { reason, address }),
        _ => Ok(()),
    }
}

/// Resolves host names for the check's client, keeping only allowed addresses: the
/// client connects to what this returns, so what was vetted is what is reached.
struct VettedResolver {
    allow_local: bool,
}

impl Resolve for VettedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_local = self.allow_local;
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let mut first_refusal = None;
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|address| match vet(address.ip(), allow_local) {
                    Ok(()) => true,
                    Err(refused) => {
                        first_refusal.get_or_insert(refused);
                        false
                    }
                })
                .collect();
            match first_refusal {
                Some(refused) if allowed.is_empty() => Err(Box::new(refused) as Box<dyn StdError + Send + Sync>),
                _ => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}

/// Why a link must not reach `address` without `--allow-local-link-check`, or
/// `None` for a public address.
pub fn refusal(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => refusal_v4(v4),
        IpAddr::V6(v6) => refusal_v6(v6),
    }
}

fn refusal_v4(v4: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = v4.octets();
    Some(match (a, b, c) {
        _ if v4 == Ipv4Addr::new(169, 254, 169, 254) => "cloud metadata address",
        (0, ..) => "unspecified address",
        (127, ..) => "loopback address",
        (10, ..) | (172, 16..=31, _) | (192, 168, _) => "private address",
        (169, 254, _) => "link-local address",
        (100, 64..=127, _) => "shared (CGNAT) address",
        (192, 0, 0) | (198, 18..=19, _) => "reserved address",
        (224..=239, ..) => "multicast address",
        (240..=255, ..) => "reserved address",
        _ => return None,
    })
}

fn refusal_v6(v6: Ipv6Addr) -> Option<&'static str> {
    let segments = v6.segments();
    // An IPv4 address carried in the low 32 bits, or at bits 16–48 for 6to4.
    let low_v4 =
        Ipv4Addr::new((segments[6] >> 8) as u8, segments[6] as u8, (segments[7] >> 8) as u8, segments[7] as u8);
    if v6 == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254) {
        return Some("cloud metadata address");
    }
    if v6.is_unspecified() {
        return Some("unspecified address");
    }
    if v6.is_loopback() {
        return Some("loopback address");
    }
    match segments {
        [0, 0, 0, 0, 0, 0xffff, ..] => refusal_v4(low_v4).map(|_| "IPv4-mapped address of a local network"),
        [0, 0, 0, 0, 0, 0, ..] => Some("IPv4-compatible address"),
        [0x0064, 0xff9b, 0, 0, 0, 0, ..] => refusal_v4(low_v4).map(|_| "NAT64 address of a local network"),
        [0x0064, 0xff9b, 1, ..] => Some("local-use NAT64 address"),
        [0x2002, high, low, ..] => {
            let v4 = Ipv4Addr::new((high >> 8) as u8, high as u8, (low >> 8) as u8, low as u8);
            refusal_v4(v4).map(|_| "6to4 address of a local network")
        }
        [0x2001, 0, ..] => Some("Teredo address"),
        [0x0100, 0, 0, 0, ..] => Some("reserved (discard) address"),
        [first, ..] if first & 0xfe00 == 0xfc00 => Some("unique-local address"),
        [first, ..] if first & 0xffc0 == 0xfe80 => Some("link-local address"),
        [first, ..] if first & 0xffc0 == 0xfec0 => Some("site-local address"),
        [first, ..] if first & 0xff00 == 0xff00 => Some("multicast address"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    thread_local! {
        /// A loopback address [`vet`] takes as public in this test's thread, so a
        /// local server can play a public site (the tests run on one thread each).
        pub(super) static PLAYS_PUBLIC: Cell<Option<IpAddr>> = const { Cell::new(None) };
    }

    /// A server on `address` answering every request with `answer(path)`; the count
    /// of connections it took.
    async fn site(address: &str, answer: fn(&str) -> String) -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = TcpListener::bind(address).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let mut request = vec![0; 4096];
                let n = stream.read(&mut request).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&request[..n]).into_owned();
                let path = request.split(' ').nth(1).unwrap_or("/").to_string();
                let _ = stream.write_all(answer(&path).as_bytes()).await;
            }
        });
        (addr, hits)
    }

    /// A public site redirecting to local ones: each redirect is refused before it
    /// is followed, the local site is never reached, and without `follow` the
    /// redirect is only reported.
    #[tokio::test]
    async fn redirects_to_local_addresses_are_refused() {
        let (inside, inside_hits) =
            site("127.0.0.2:0", |_| "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".into()).await;
        let (outside, _) = site("127.0.0.1:0", |path| {
            // `/to/<URL>`: a redirect there.
            let target = path.strip_prefix("/to/").unwrap_or("/");
            format!("HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        })
        .await;
        PLAYS_PUBLIC.set(Some(outside.ip()));
        let port = inside.port();
        let targets = [
            (format!("http://{inside}/"), "loopback address"),
            (format!("http://[::ffff:127.0.0.2]:{port}/"), "IPv4-mapped address of a local network"),
            (format!("http://[64:ff9b::7f00:2]:{port}/"), "NAT64 address of a local network"),
            (format!("http://[2002:7f00:2::1]:{port}/"), "6to4 address of a local network"),
            ("http://169.254.169.254/latest/meta-data/".into(), "cloud metadata address"),
            ("http://[fd00:ec2::254]/latest/meta-data/".into(), "cloud metadata address"),
            ("http://10.0.0.1/".into(), "private address"),
            ("http://[fe80::1]/".into(), "link-local address"),
        ];
        let urls: Vec<String> = targets.iter().map(|(target, _)| format!("http://{outside}/to/{target}")).collect();

        let followed = check(urls.clone(), true, false).await;
        assert_eq!(followed.errors, targets.len());
        for (link, (target, reason)) in followed.links.iter().zip(&targets) {
            assert_eq!(link.status_code, 0, "{target}");
            assert!(link.status.starts_with(&format!("refused: {reason} (")), "{target}: {}", link.status);
        }
        let reported = check(urls, false, false).await;
        assert!(reported.links.iter().all(|link| link.status_code == 302), "{reported:?}");
        assert_eq!(inside_hits.load(Ordering::SeqCst), 0, "a local site was reached");
        PLAYS_PUBLIC.set(None);
    }

    #[test]
    fn local_and_special_addresses_are_refused() {
        for (address, reason) in [
            ("127.0.0.1", "loopback address"),
            ("127.8.9.10", "loopback address"),
            ("0.0.0.0", "unspecified address"),
            ("10.1.2.3", "private address"),
            ("172.16.0.1", "private address"),
            ("172.31.255.255", "private address"),
            ("192.168.1.1", "private address"),
            ("169.254.169.254", "cloud metadata address"),
            ("169.254.1.1", "link-local address"),
            ("100.64.0.1", "shared (CGNAT) address"),
            ("100.100.100.200", "shared (CGNAT) address"),
            ("224.0.0.1", "multicast address"),
            ("255.255.255.255", "reserved address"),
            ("192.0.0.170", "reserved address"),
            ("::1", "loopback address"),
            ("::", "unspecified address"),
            ("::ffff:127.0.0.1", "IPv4-mapped address of a local network"),
            ("::ffff:10.0.0.1", "IPv4-mapped address of a local network"),
            ("::ffff:169.254.169.254", "IPv4-mapped address of a local network"),
            ("::127.0.0.1", "IPv4-compatible address"),
            ("64:ff9b::7f00:1", "NAT64 address of a local network"),
            ("64:ff9b::a9fe:a9fe", "NAT64 address of a local network"),
            ("64:ff9b:1::1", "local-use NAT64 address"),
            ("2002:7f00:1::1", "6to4 address of a local network"),
            ("2002:c0a8:101::1", "6to4 address of a local network"),
            ("2001:0:4136:e378::1", "Teredo address"),
            ("fd00:ec2::254", "cloud metadata address"),
            ("fd12:3456::1", "unique-local address"),
            ("fc00::1", "unique-local address"),
            ("fe80::1", "link-local address"),
            ("fec0::1", "site-local address"),
            ("ff02::1", "multicast address"),
        ] {
            let ip: IpAddr = address.parse().unwrap();
            assert_eq!(refusal(ip), Some(reason), "{address}");
            let refused = vet(ip, false).unwrap_err().to_string();
            assert!(refused.starts_with(&format!("refused: {reason} (")), "{refused}");
            assert!(refused.contains("--allow-local-link-check"));
            assert!(vet(ip, true).is_ok(), "allowed locally: {address}");
        }
        for public in [
            "93.184.215.14",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(refusal(public.parse().unwrap()), None, "{public}");
        }
    }

    #[test]
    fn address_literals_in_urls_are_vetted() {
        for url in [
            "http://127.0.0.1:8025/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/x",
            "https://10.0.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://0x7f000001/",
            "http://2130706433/",
            "http://0177.0.0.1/",
        ] {
            let parsed = Url::parse(url).unwrap();
            assert!(vet_url(&parsed, false).is_err(), "{url}");
        }
        assert!(vet_url(&Url::parse("http://example.com/").unwrap(), false).is_ok());
    }

    #[tokio::test]
    async fn names_resolving_to_local_addresses_are_refused() {
        let checked = check(vec!["http://localhost:9/".into()], false, false).await;
        assert_eq!(checked.errors, 1);
        let status = &checked.links[0].status;
        assert!(
            status.starts_with("refused: loopback address (127.0.0.1)")
                || status.starts_with("refused: loopback address (::1)"),
            "{status}"
        );
    }

    #[test]
    fn urls_of_a_message() {
        let html = r##"<a href="https://a.test/1">one</a><a href="mailto:x@y">m</a><a href="#top">t</a>
            <img src="https://a.test/logo.png"><img src="cid:x"><link rel="stylesheet" href="http://a.test/s.css">
            <a href="https://a.test/1">again</a>"##;
        assert_eq!(
            urls("see https://b.test/plain and ftp://c.test/", html),
            ["https://a.test/1", "https://b.test/plain", "https://a.test/logo.png", "http://a.test/s.css"]
        );
    }
}
