//! The rules file's parsing and errors, matching, determinism, the simulator
//! addresses and greylisting by a fixed clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::*;

/// A clock that moves only when the test moves it (milliseconds after a start).
fn fixed_clock() -> (Clock, Arc<AtomicU64>) {
    let start = Instant::now();
    let offset = Arc::new(AtomicU64::new(0));
    let shared = offset.clone();
    (Box::new(move || start + Duration::from_millis(shared.load(Ordering::SeqCst))), offset)
}

fn simulation(text: &str) -> Simulation {
    Simulation::new(text, fixed_clock().0).unwrap()
}

fn to(recipient: &str) -> Sending<'_> {
    Sending {
        client: "127.0.0.1",
        mail_from: "app@example.test",
        recipient,
        inbox: "default",
        provider: None,
        message: None,
    }
}

fn refused(code: u16, enhanced: &str, text: &str) -> Verdict {
    Verdict::Refuse(Reply { code, enhanced: enhanced.to_string(), text: text.to_string() })
}

#[test]
fn the_simulator_addresses_work_without_configuration_and_with_tags() {
    let simulation = simulation("");
    let judged = simulation.judge(&to("Suppressed+list@Simulator.test")).unwrap();
    assert_eq!(judged.rule, "suppressed@simulator.test");
    assert_eq!(judged.stage, Stage::Rcpt);
    assert_eq!(judged.verdict, refused(550, "5.7.1", "Recipient address is on the suppression list"));
    let bounce = simulation.judge(&to("bounce@simulator.test")).unwrap();
    assert_eq!((bounce.action, bounce.stage), ("bounce", Stage::Data));
    assert!(matches!(bounce.verdict, Verdict::Effect(Effect::Bounce { ref status, .. }) if status == "5.1.1"));
    assert_eq!(simulation.judge(&to("slow@simulator.test")).unwrap().verdict, Verdict::Tarpit(Duration::from_secs(1)));
    assert!(simulation.judge(&to("someone@simulator.test")).is_none());
    assert!(simulation.judge(&to("bounce@simulator.test.example")).is_none());
    assert!(simulation.judge(&to("nobounce@simulator.test")).is_none());
    let addresses: Vec<String> = simulation.simulator().into_iter().map(|entry| entry.address).collect();
    assert_eq!(addresses[..3], ["bounce@simulator.test", "complaint@simulator.test", "greylist@simulator.test"]);
}

#[test]
fn bounce_can_reject_at_rcpt_instead() {
    let simulation = simulation("[simulator]\nbounce = \"reject-at-rcpt\"\n");
    let judged = simulation.judge(&to("bounce@simulator.test")).unwrap();
    assert_eq!(judged.stage, Stage::Rcpt);
    assert_eq!(judged.verdict, refused(550, "5.1.1", "Recipient address rejected: user unknown"));
}

#[test]
fn user_rules_come_first_and_the_first_match_wins() {
    let simulation = simulation(
        r#"
[[rule]]
name = "reject marketing"
recipient = "*@blocked.test"
action = "reject"
code = 554
enhanced = "5.7.1"
message = "Blocked by policy"

[[rule]]
name = "everything blocked is slow"
recipient = "*@blocked.test"
action = "tarpit"
delay_ms = 10

[[rule]]
name = "take over the simulator"
recipient = "suppressed@simulator.test"
action = "accept"
"#,
    );
    let judged = simulation.judge(&to("Anyone@BLOCKED.test")).unwrap();
    assert_eq!(judged.rule, "reject marketing");
    assert_eq!(judged.verdict, refused(554, "5.7.1", "Blocked by policy"));
    let judged = simulation.judge(&to("suppressed@simulator.test")).unwrap();
    assert_eq!((judged.rule.as_str(), judged.verdict), ("take over the simulator", Verdict::Accept));
}

#[test]
fn every_matcher_of_a_rule_must_match() {
    let simulation = simulation(
        r#"
[[rule]]
name = "spring campaign from sendgrid"
sender = "re:^news@.*\\.test$"
inbox = "sendgrid:*"
header = "X-Campaign: spring*"
provider = "SendGrid"
action = "bounce"
"#,
    );
    let message = b"From: news@shop.test\r\nX-Campaign:  Spring-2026\r\nSubject: hi\r\n\r\nbody\r\n";
    let sending = Sending {
        client: "10.0.0.1",
        mail_from: "news@shop.test",
        recipient: "user@example.test",
        inbox: "sendgrid:key1",
        provider: Some("sendgrid"),
        message: Some(message),
    };
    let judged = simulation.judge(&sending).unwrap();
    assert_eq!((judged.rule.as_str(), judged.stage), ("spring campaign from sendgrid", Stage::Data));
    assert!(simulation.judge(&Sending { message: None, ..sending }).is_none(), "headers unknown yet");
    assert!(simulation.judge(&Sending { provider: None, ..sending }).is_none());
    assert!(simulation.judge(&Sending { inbox: "default", ..sending }).is_none());
    assert!(simulation.judge(&Sending { mail_from: "news@shop.example", ..sending }).is_none());
    let autumn = b"X-Campaign: autumn\r\n\r\nbody\r\n";
    assert!(simulation.judge(&Sending { message: Some(autumn), ..sending }).is_none());
}

#[test]
fn the_same_input_gets_the_same_judgement() {
    let text = "[[rule]]\nrecipient = \"re:^a\"\naction = \"disconnect\"\n[[rule]]\naction = \"complaint\"\n";
    let first = simulation(text);
    let second = simulation(text);
    for recipient in ["a@x.test", "b@x.test", "bounce@simulator.test", "greylist@simulator.test"] {
        let judged = first.judge(&to(recipient));
        assert_eq!(judged, first.judge(&to(recipient)), "{recipient}");
        assert_eq!(judged, second.judge(&to(recipient)), "{recipient}");
    }
    assert_eq!(first.judge(&to("a@x.test")).unwrap().rule, "rule 1");
    assert_eq!(
        first.judge(&to("b@x.test")).unwrap().verdict,
        Verdict::Effect(Effect::Complaint { feedback_type: "abuse".into() })
    );
}

#[test]
fn greylisting_accepts_a_retry_after_the_delay_by_the_clock() {
    let (clock, offset) = fixed_clock();
    let simulation = Simulation::new("", clock).unwrap();
    let greylisted = refused(451, "4.7.1", "Greylisted, try again in 1 second");
    assert_eq!(simulation.judge(&to("greylist@simulator.test")).unwrap().verdict, greylisted);
    offset.store(999, Ordering::SeqCst);
    assert_eq!(simulation.judge(&to("greylist@simulator.test")).unwrap().verdict, greylisted);
    let other_client = Sending { client: "127.0.0.2", ..to("greylist@simulator.test") };
    offset.store(1000, Ordering::SeqCst);
    assert_eq!(simulation.judge(&other_client).unwrap().verdict, greylisted);
    let retry = simulation.judge(&to("greylist@simulator.test")).unwrap();
    assert_eq!((retry.action, retry.verdict), ("defer", Verdict::Accept));
}

#[test]
fn defer_without_retry_after_always_defers() {
    let (clock, offset) = fixed_clock();
    let simulation = Simulation::new("[[rule]]\naction = \"defer\"\ncode = 421\n", clock).unwrap();
    offset.store(100_000, Ordering::SeqCst);
    assert_eq!(simulation.judge(&to("x@y.test")).unwrap().verdict, refused(421, "4.7.1", "Try again later"));
}

#[test]
fn rule_options_become_their_actions() {
    let simulation = simulation(
        r#"
[[rule]]
name = "late"
recipient = "late@x.test"
action = "reject"
at = "data"
[[rule]]
recipient = "ooo@x.test"
action = "auto-reply"
message = "Back Monday"
[[rule]]
recipient = "gone@x.test"
action = "bounce"
enhanced = "5.2.1"
message = "Mailbox disabled"
[[rule]]
recipient = "fwd@x.test"
action = "forward"
"#,
    );
    let late = simulation.judge(&to("late@x.test")).unwrap();
    assert_eq!((late.stage, late.verdict), (Stage::Data, refused(550, "5.7.1", "Rejected by rule \"late\"")));
    assert_eq!(
        simulation.judge(&to("ooo@x.test")).unwrap().verdict,
        Verdict::Effect(Effect::AutoReply { body: "Back Monday".into() })
    );
    assert_eq!(
        simulation.judge(&to("gone@x.test")).unwrap().verdict,
        Verdict::Effect(Effect::Bounce { status: "5.2.1".into(), diagnostic: "Mailbox disabled".into() })
    );
    let forward = simulation.judge(&to("fwd@x.test")).unwrap();
    assert_eq!((forward.rule.as_str(), forward.verdict), ("rule 4", Verdict::Effect(Effect::Forward)));
}

#[test]
fn a_bad_file_is_refused_naming_the_line() {
    let cases = [
        (
            "[[rule]]\nname = \"x\"\naction = \"bouce\"\n",
            "line 3: unknown action \"bouce\" (accept, reject, defer, tarpit, disconnect, bounce, complaint, auto-reply, forward)",
        ),
        ("[[rule]]\naction = \"reject\"\n\ncode = 451\n", "line 4: code 451 for reject must be 5xx"),
        (
            "[[rule]]\naction = \"defer\"\nenhanced = \"5.7.1\"\n",
            "line 3: enhanced code \"5.7.1\" must look like \"4.7.1\"",
        ),
        (
            "[[rule]]\naction = \"accept\"\ndelay_ms = 5\n",
            "line 3: \"delay_ms\" does not apply to accept (only to tarpit)",
        ),
        ("[[rule]]\naction = \"tarpit\"\n", "line 1: tarpit needs delay_ms"),
        ("[[rule]]\naction = \"reject\"\nat = \"mail\"\n", "line 3: unknown at \"mail\" (rcpt, data)"),
        ("[[rule]]\nrecipient = \"re:(\"\naction = \"accept\"\n", "line 2: the pattern \"re:(\" is not a valid regex"),
        (
            "[[rule]]\nheader = \"no colon\"\naction = \"accept\"\n",
            "line 2: header \"no colon\" is not \"Name: value\"",
        ),
        ("[simulator]\nbounce = \"later\"\n", "line 2: unknown bounce \"later\" (dsn, reject-at-rcpt)"),
        ("[[rule]]\naction = \"accept\"\nrecipent = \"x\"\n", "line 3: unknown field `recipent`"),
        ("[[rule]]\naction = \"accept\"\n[[rule]\n", "line 3: "),
    ];
    for (text, expected) in cases {
        let err = Simulation::new(text, fixed_clock().0).err().unwrap_or_else(|| panic!("{text:?} parsed"));
        assert!(err.starts_with(expected), "{text:?}: {err}");
    }
}

#[test]
fn a_regex_too_large_is_refused() {
    let err = rules::parse("[[rule]]\nrecipient = \"re:(a{1000}){1000}\"\naction = \"accept\"\n").unwrap_err();
    assert!(err.starts_with("line 2: the pattern"), "{err}");
    assert!(err.contains("too large"), "{err}");
}

#[test]
fn replacing_keeps_the_old_rules_when_the_new_text_is_bad() {
    let simulation = simulation("[[rule]]\naction = \"disconnect\"\n");
    assert!(simulation.replace("[[rule]]\naction = \"nope\"\n").is_err());
    assert_eq!(simulation.text(), "[[rule]]\naction = \"disconnect\"\n");
    assert_eq!(simulation.judge(&to("a@b.test")).unwrap().verdict, Verdict::Disconnect);
    simulation.replace("").unwrap();
    assert!(simulation.judge(&to("a@b.test")).is_none());
}
