//! The records file, and verdicts on messages signed by dkimpy (an independent
//! signer; `checks/testdata/README.md` says how they were made), offline: no DNS
//! query may leave, which a UDP socket standing in for a resolver proves.

use std::net::{IpAddr, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::*;

/// An SMTP envelope from the signing domain's server, as the listener records it.
fn envelope() -> Envelope {
    Envelope {
        mail_from: "bounce@shop.example".into(),
        rcpt_to: vec!["ann@example.com".into()],
        helo: "shop.example".into(),
        peer: "127.0.0.1:40000".into(),
        tls: true,
        auth_user: None,
        transcript: "C: EHLO shop.example\nC: STARTTLS\n".into(),
        api: None,
        simulation: None,
    }
}

const RECORDS: &str = include_str!("../../checks/testdata/records.zone");

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/checks/testdata").join(name)
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(testdata(name)).unwrap()
}

/// Offline, with the test records, checking SPF for the IP they allow.
fn verifier() -> Verifier {
    Verifier::new(&CheckConfig {
        dkim_keys: Some(testdata("records.zone")),
        auth_ip: Some("192.0.2.10".parse().unwrap()),
        ..CheckConfig::default()
    })
    .unwrap()
}

#[test]
fn the_records_file_joins_strings_across_lines_and_skips_comments() {
    let records = Records::parse(RECORDS).unwrap();
    assert_eq!(records.len(), 4);
    for name in ["rsa._domainkey.shop.example.", "ed._domainkey.shop.example.", "shop.example.", "_dmarc.shop.example."]
    {
        assert!(records.get(name).is_some(), "{name} missing");
    }
    // Names are absolute with or without the final dot, in any case.
    let records = Records::parse("Shop.Example IN TXT \"v=spf1 -all\" ; the dot is optional").unwrap();
    assert!(matches!(records.get("shop.example."), Some(Txt::Spf(_))));
}

#[test]
fn a_bad_records_file_names_the_line() {
    let cases = [
        ("shop.example. IN A 192.0.2.1", 1, "a A record"),
        ("; comment\n\nshop.example. IN TXT \"v=spf1 -all", 3, "not closed"),
        ("shop.example. IN TXT \"google-site-verification=x\"", 1, "neither a DKIM key"),
        ("x._domainkey.shop.example. IN TXT \"v=DKIM1; k=nope; p=AAAA\"", 1, "does not parse"),
        ("shop.example. TXT \"v=spf1 -all\"\nshop.example. TXT \"v=spf1 +all\"", 2, "first is on line 1"),
        ("x._domainkey.shop.example. IN TXT ( \"v=DKIM1; p=AAAA\"\n", 1, "never closed"),
        ("shop.example. IN TXT", 1, "no text"),
        ("$TTL 3600\n$ORIGIN shop.example.\n", 2, "$ORIGIN is not supported"),
    ];
    for (text, line, reason) in cases {
        let (at, why) = Records::parse(text).err().unwrap_or_else(|| panic!("{text:?} was accepted"));
        assert_eq!(at, line, "{text:?}: {why}");
        assert!(why.contains(reason), "{text:?}: {why}");
    }
    let error = Records::load(&testdata("no-such-file")).err().unwrap().to_string();
    assert!(error.contains("no-such-file") && error.contains("--dkim-keys"), "{error}");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("keys.zone");
    std::fs::write(&bad, "; keys\nsel._domainkey.example.com. IN TXT \"v=DKIM1; p=AAAA\"\nexample.com. IN MX 10 mx\n")
        .unwrap();
    let error = Verifier::new(&CheckConfig { dkim_keys: Some(bad.clone()), ..CheckConfig::default() })
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains(&bad.display().to_string()) && error.contains("line 3"), "{error}");
}

#[tokio::test]
async fn dkimpy_signatures_pass_and_tampering_fails_with_its_reason() {
    let verifier = verifier();
    let cases = [
        ("rsa-relaxed.eml", "rsa", "rsa-sha256", DkimOutcome::Pass),
        ("rsa-simple.eml", "rsa", "rsa-sha256", DkimOutcome::Pass),
        ("ed25519.eml", "ed", "ed25519-sha256", DkimOutcome::Pass),
        ("body-changed.eml", "rsa", "rsa-sha256", DkimOutcome::BodyHashMismatch),
        ("wrong-key.eml", "rsa", "rsa-sha256", DkimOutcome::SignatureMismatch),
    ];
    for (file, selector, algorithm, outcome) in cases {
        let results = verifier.verify(&fixture(file), &envelope()).await;
        assert_eq!(
            results.dkim,
            [DkimVerdict { domain: "shop.example".into(), selector: selector.into(), algorithm, outcome }],
            "{file}"
        );
    }
}

#[tokio::test]
async fn spf_and_dmarc_from_the_records_file() {
    let raw = fixture("rsa-relaxed.eml");
    let results = verifier().verify(&raw, &envelope()).await;
    assert_eq!(results.spf.outcome, SpfOutcome::Pass, "{results:?}");
    assert_eq!(results.spf.domain, "shop.example");
    assert_eq!(results.dmarc.outcome, DmarcOutcome::Pass, "{results:?}");
    assert_eq!(
        results.dmarc.record,
        Some(DmarcPolicy { policy: "reject", dkim_alignment: "relaxed", spf_alignment: "relaxed" })
    );
    assert!(results.dmarc.dkim_aligned && results.dmarc.spf_aligned);

    // Another IP: SPF fails (-all); DMARC still passes on DKIM alone.
    let elsewhere = Verifier::new(&CheckConfig {
        dkim_keys: Some(testdata("records.zone")),
        auth_ip: Some("198.51.100.7".parse().unwrap()),
        ..CheckConfig::default()
    })
    .unwrap();
    let results = elsewhere.verify(&raw, &envelope()).await;
    assert_eq!(results.spf.outcome, SpfOutcome::Fail);
    assert_eq!(results.spf.ip, Some("198.51.100.7".parse::<IpAddr>().unwrap()));
    assert_eq!(results.dmarc.outcome, DmarcOutcome::Pass);
    assert!(results.dmarc.dkim_aligned && !results.dmarc.spf_aligned);

    // Without --auth-ip the SMTP client's address is checked (127.0.0.1 here).
    let client = Verifier::new(&CheckConfig { dkim_keys: Some(testdata("records.zone")), ..CheckConfig::default() });
    let results = client.unwrap().verify(&raw, &envelope()).await;
    assert_eq!(results.spf.ip, Some("127.0.0.1".parse::<IpAddr>().unwrap()));
    assert_eq!(results.spf.outcome, SpfOutcome::Fail);
}

/// A UDP socket where a resolver would be, and what reached it.
fn fake_resolver() -> (UdpSocket, SocketAddr) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let address = socket.local_addr().unwrap();
    (socket, address)
}

fn received_query(socket: &UdpSocket) -> bool {
    let mut buffer = [0u8; 512];
    socket.recv_from(&mut buffer).is_ok()
}

#[tokio::test]
async fn with_dns_off_nothing_is_asked_and_everything_is_not_available() {
    // SPF that needs an A lookup, and a key that is not in the file.
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.zone");
    std::fs::write(&keys, "shop.example. IN TXT \"v=spf1 a:mail.shop.example -all\"\n").unwrap();
    let (socket, address) = fake_resolver();
    let offline = Verifier::new(&CheckConfig {
        dkim_keys: Some(keys.clone()),
        dns_lookups: false,
        dns_server: Some(address),
        auth_ip: None,
    })
    .unwrap();
    let started = Instant::now();
    let results = offline.verify(&fixture("rsa-relaxed.eml"), &envelope()).await;
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    assert_eq!(results.dkim[0].outcome, DkimOutcome::KeyNotAvailable);
    assert_eq!(results.spf.outcome, SpfOutcome::NotAvailable);
    assert_eq!(results.dmarc.outcome, DmarcOutcome::NotAvailable);
    assert!(!received_query(&socket), "a DNS query left with DNS lookups off");

    let no_file = Verifier::new(&CheckConfig { dns_server: Some(address), ..CheckConfig::default() }).unwrap();
    let results = no_file.verify(&fixture("ed25519.eml"), &envelope()).await;
    assert_eq!(results.dkim[0].outcome, DkimOutcome::KeyNotAvailable);
    assert_eq!(results.spf.outcome, SpfOutcome::NotAvailable);
    assert_eq!(results.dmarc.outcome, DmarcOutcome::NotAvailable);
    assert!(!received_query(&socket), "a DNS query left with DNS lookups off");

    // The control: with lookups on, the same verification does ask the resolver.
    let online = Verifier::new(&CheckConfig {
        dkim_keys: Some(keys),
        dns_lookups: true,
        dns_server: Some(address),
        auth_ip: None,
    })
    .unwrap();
    let asked = tokio::spawn(async move { online.verify(&fixture("rsa-relaxed.eml"), &envelope()).await });
    let reached = tokio::task::spawn_blocking(move || received_query(&socket)).await.unwrap();
    assert!(reached, "with DNS lookups on, the resolver was not asked");
    let results = asked.await.unwrap();
    assert!(matches!(results.dkim[0].outcome, DkimOutcome::TemporaryError(_)), "{results:?}");
}

/// Offline, every corpus message gets verdicts quickly and without panic; keys
/// and records being unavailable, nothing but a signature's own body hash (checked
/// before the key is needed) or a malformed signature can fail.
#[tokio::test]
async fn every_corpus_message_is_verified_offline() {
    let offline = Verifier::new(&CheckConfig::default()).unwrap();
    let mut signatures = 0;
    for path in crate::mail::corpus::files() {
        let raw = std::fs::read(&path).unwrap();
        let started = Instant::now();
        let results = offline.verify(&raw, &envelope()).await;
        assert!(started.elapsed() < Duration::from_secs(1), "{}: {:?}", path.display(), started.elapsed());
        assert!(matches!(results.spf.outcome, SpfOutcome::NotAvailable), "{}: {results:?}", path.display());
        assert!(
            matches!(results.dmarc.outcome, DmarcOutcome::NotAvailable | DmarcOutcome::NoFromDomain),
            "{}: {results:?}",
            path.display()
        );
        for verdict in &results.dkim {
            signatures += 1;
            assert!(
                matches!(
                    verdict.outcome,
                    DkimOutcome::KeyNotAvailable | DkimOutcome::BodyHashMismatch | DkimOutcome::Failed(_)
                ),
                "{}: {verdict:?}",
                path.display()
            );
        }
    }
    assert!(signatures > 0, "the corpus has DKIM signatures to verify");
}
