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
    // The VTIMEZONE defines the Windows name: before the last Sunday of March, +01:00.
    assert_eq!(event.start, "2025-03-18T14:00:00Z");
    assert_eq!(event.attendees[0].status, "NEEDS-ACTION");
}

#[test]
fn an_outlook_invitation_in_pacific_time_across_daylight_saving() {
    // Outlook 365's own shape: a quoted Windows TZID, its VTIMEZONE (yearly rules from
    // 1601), METHOD:REQUEST, X-MICROSOFT-CDO-* lines, the part base64-encoded.
    let july = invite_in(include_bytes!("../testdata/outlook-invite-july.eml"));
    assert_eq!((july.method.as_str(), july.kind.as_str(), july.error.as_str()), ("REQUEST", "invitation", ""));
    let event = &july.events[0];
    assert_eq!(event.summary, "Roadmap sync");
    assert_eq!(event.time_zone, "Pacific Standard Time");
    assert_eq!((event.start_local.as_str(), event.end_local.as_str()), ("2025-07-15 10:00", "2025-07-15 11:00"));
    // July: daylight saving time, UTC-7.
    assert_eq!((event.start.as_str(), event.end.as_str()), ("2025-07-15T17:00:00Z", "2025-07-15T18:00:00Z"));
    assert_eq!(event.attendees.len(), 2);

    let january = invite_in(include_bytes!("../testdata/outlook-invite-january-update.eml"));
    assert_eq!(january.kind, "update");
    let event = &january.events[0];
    assert_eq!(event.start_local, "2026-01-13 10:00");
    // January: standard time, UTC-8.
    assert_eq!(event.start, "2026-01-13T18:00:00Z");
}

/// An Outlook-style calendar whose one event starts at `start` in `tzid`, with
/// `vtimezone` (a whole VTIMEZONE block, or "").
fn calendar_in_zone(tzid: &str, vtimezone: &str, start: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\n{vtimezone}BEGIN:VEVENT\r\nUID:1\r\n\
         DTSTART;TZID=\"{tzid}\":{start}\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn start_instant(ics: &str) -> String {
    read(ics).unwrap().events[0].start.clone()
}

#[test]
fn a_vtimezone_defines_any_tzid_and_its_onset_times_count() {
    // A name no database knows, southern hemisphere rules (Sydney's): daylight from the
    // first Sunday of October, standard from the first Sunday of April, both at
    // 02:00/03:00 wall-clock time.
    let vtimezone = "BEGIN:VTIMEZONE\r\nTZID:Team zone\r\nBEGIN:STANDARD\r\nDTSTART:16010101T030000\r\n\
                     TZOFFSETFROM:+1100\r\nTZOFFSETTO:+1000\r\nRRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=4\r\n\
                     END:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:+1000\r\n\
                     TZOFFSETTO:+1100\r\nRRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=10\r\nEND:DAYLIGHT\r\n\
                     END:VTIMEZONE\r\n";
    let at = |start: &str| start_instant(&calendar_in_zone("Team zone", vtimezone, start));
    assert_eq!(at("20250115T090000"), "2025-01-14T22:00:00Z");
    assert_eq!(at("20250715T090000"), "2025-07-14T23:00:00Z");
    // 2025-04-06 is the first Sunday of April: 02:59 is still daylight time, 03:00 not.
    assert_eq!(at("20250406T015900"), "2025-04-05T14:59:00Z");
    assert_eq!(at("20250406T030000"), "2025-04-05T17:00:00Z");
    // A zone with no daylight time: one STANDARD without a rule.
    let fixed = "BEGIN:VTIMEZONE\r\nTZID:India Standard Time\r\nBEGIN:STANDARD\r\nDTSTART:16010101T000000\r\n\
                 TZOFFSETFROM:+0530\r\nTZOFFSETTO:+0530\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n";
    assert_eq!(
        start_instant(&calendar_in_zone("India Standard Time", fixed, "20250715T090000")),
        "2025-07-15T03:30:00Z"
    );
}

#[test]
fn a_windows_zone_name_without_a_vtimezone_is_read_through_cldr() {
    let at = |tzid: &str, start: &str| start_instant(&calendar_in_zone(tzid, "", start));
    assert_eq!(at("Eastern Standard Time", "20250715T090000"), "2025-07-15T13:00:00Z");
    assert_eq!(at("Eastern Standard Time", "20250115T090000"), "2025-01-15T14:00:00Z");
    assert_eq!(at("W. Europe Standard Time", "20250715T090000"), "2025-07-15T07:00:00Z");
    assert_eq!(at("Tokyo Standard Time", "20250715T090000"), "2025-07-15T00:00:00Z");
    // IANA names still work, and a name nobody defines gives no instant.
    assert_eq!(at("America/Chicago", "20250115T090000"), "2025-01-15T15:00:00Z");
    assert_eq!(at("Nowhere Standard Time", "20250115T090000"), "");
}

#[test]
fn a_daylight_rule_that_ended_leaves_standard_time() {
    // Daylight time until 2015 (UNTIL), standard since: a zone that dropped DST.
    let vtimezone = "BEGIN:VTIMEZONE\r\nTZID:Ended\r\nBEGIN:STANDARD\r\nDTSTART:16010101T030000\r\n\
                     TZOFFSETFROM:+0400\r\nTZOFFSETTO:+0300\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\n\
                     END:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:+0300\r\n\
                     TZOFFSETTO:+0400\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3;UNTIL=20150329T000000Z\r\n\
                     END:DAYLIGHT\r\nEND:VTIMEZONE\r\n";
    let at = |start: &str| start_instant(&calendar_in_zone("Ended", vtimezone, start));
    assert_eq!(at("20140715T120000"), "2014-07-15T08:00:00Z");
    assert_eq!(at("20250715T120000"), "2025-07-15T09:00:00Z");
}

#[test]
fn a_calendar_of_many_events_is_placed_within_a_budget() {
    // The Outlook invitation's VTIMEZONE.
    let pacific = "BEGIN:VTIMEZONE\r\nTZID:Pacific Standard Time\r\nBEGIN:STANDARD\r\nDTSTART:16010101T020000\r\n\
                   TZOFFSETFROM:-0700\r\nTZOFFSETTO:-0800\r\nRRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=1SU;BYMONTH=11\r\n\
                   END:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:-0800\r\n\
                   TZOFFSETTO:-0700\r\nRRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=2SU;BYMONTH=3\r\nEND:DAYLIGHT\r\n\
                   END:VTIMEZONE\r\n";
    let events: String = (0..500)
        .map(|i| {
            format!("BEGIN:VEVENT\r\nUID:{i}\r\nDTSTART;TZID=Pacific Standard Time:20250715T100000\r\nEND:VEVENT\r\n")
        })
        .collect();
    let ics = format!("BEGIN:VCALENDAR\r\n{pacific}{events}END:VCALENDAR\r\n");
    let started = std::time::Instant::now();
    let invite = read(&ics).unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    // The first events are placed; past the budget the rest show only as written.
    assert_eq!(invite.events[0].start, "2025-07-15T17:00:00Z");
    assert_eq!(invite.events[499].start, "");
    assert_eq!(invite.events[499].start_local, "2025-07-15 10:00");
}

#[test]
fn a_vtimezone_whose_rule_repeats_too_fast_gives_no_instant() {
    let hostile = "BEGIN:VTIMEZONE\r\nTZID:Busy\r\nBEGIN:STANDARD\r\nDTSTART:16010101T000000\r\n\
                   TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=SECONDLY\r\nEND:STANDARD\r\n\
                   END:VTIMEZONE\r\n";
    let started = std::time::Instant::now();
    assert_eq!(start_instant(&calendar_in_zone("Busy", hostile, "20250115T090000")), "");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
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
