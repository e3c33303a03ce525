use super::*;

fn invite_in(eml: &[u8]) -> CalendarInvite {
    let message = mail_parser::MessageParser::default().parse(eml).unwrap();
    invite(&message).expect("a calendar part")
}

#[test]
fn a_google_calendar_invitation() {
    let invite = invite_in(include_bytes!("../testdata/google-calendar-invite.eml"));
    assert_eq!(invite.error, "");
    assert_eq!((invite.method.as_str(), invite.kind.as_str()), ("REQUEST", "invitation"));
    assert_eq!(invite.part_id, "1.3");
    let event = &invite.events[0];
    assert_eq!(event.summary, "Quarterly planning");
    assert_eq!(event.location, "Room 4.01, Main St 1, Berlin");
    assert_eq!(event.time_zone, "Europe/Berlin");
    assert_eq!(event.start_local, "2025-03-14 10:00");
    // 10:00 in Berlin (CET, +01:00) is 09:00 UTC.
    assert_eq!(event.start, "2025-03-14T09:00:00Z");
    assert_eq!(event.end, "2025-03-14T10:00:00Z");
    assert_eq!(event.organizer.email, "alice@example.com");
    assert_eq!(event.organizer.name, "Alice Organiser");
    let attendees: Vec<(&str, &str)> = event.attendees.iter().map(|a| (a.email.as_str(), a.status.as_str())).collect();
    assert_eq!(
        attendees,
        [("alice@example.com", "ACCEPTED"), ("bob@example.com", "NEEDS-ACTION"), ("carol@example.com", "TENTATIVE")]
    );
    // Hostile text is kept as text (the UI escapes it).
    assert_eq!(event.attendees[2].name, "Carol <script>alert(1)</script>");
    assert_eq!(event.recurrence, "Weekly on Monday and Wednesday, 10 times");
}

#[test]
fn an_outlook_cancellation_with_a_windows_time_zone() {
    let invite = invite_in(include_bytes!("../testdata/outlook-calendar-cancel.eml"));
    assert_eq!(invite.error, "");
    assert_eq!(invite.kind, "cancellation");
    let event = &invite.events[0];
    assert_eq!(event.summary, "Canceled: Design review");
    assert_eq!(event.status, "CANCELLED");
    assert_eq!(event.time_zone, "W. Europe Standard Time");
    assert_eq!(event.start_local, "2025-03-18 15:00");
    // Not an IANA name: no instant, only the time as written.
    assert_eq!(event.start, "");
    assert_eq!(event.attendees[0].status, "NEEDS-ACTION");
}

#[test]
fn updates_all_day_events_and_utc_times() {
    let ics = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:1\r\nSEQUENCE:2\r\nDTSTART;VALUE=DATE:20250401\r\n\
               SUMMARY:Offsite\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:2\r\nDTSTART:20250402T080000Z\r\n\
               RRULE:FREQ=MONTHLY;INTERVAL=2;BYDAY=-1FR;UNTIL=20251231T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let invite = read(ics).unwrap();
    assert_eq!(invite.kind, "update");
    assert!(invite.events[0].all_day);
    assert_eq!(invite.events[0].start_local, "2025-04-01");
    assert_eq!(invite.events[1].start, "2025-04-02T08:00:00Z");
    assert_eq!(invite.events[1].time_zone, "UTC");
    assert_eq!(invite.events[1].recurrence, "Every 2 months on last Friday, until 2025-12-31");
}

#[test]
fn invalid_calendars_say_what_is_wrong() {
    assert!(read("this is not a calendar").unwrap_err().contains("not valid iCalendar"));
    assert!(read("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n").unwrap_err().contains("no event"));
    let no_start = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    assert!(read(no_start).unwrap_err().contains("DTSTART"));
    let bad_time = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:tomorrow\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    assert!(read(bad_time).unwrap_err().contains("tomorrow"));
}
