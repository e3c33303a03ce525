//! Placing an invitation's wall-clock times (`DTSTART;TZID=…:20250715T100000`) on the
//! time line, for the event card's instant. RFC 5545 defines a TZID by the calendar's
//! own `VTIMEZONE`, so that comes first and works for any name: its STANDARD and
//! DAYLIGHT sub-components each give onsets (DTSTART, repeated by an RRULE such as
//! `FREQ=YEARLY;BYMONTH=3;BYDAY=2SU`, which the `rrule` crate evaluates), and the
//! latest onset at or before the time gives its TZOFFSETTO. Without a VTIMEZONE the
//! TZID is looked up as an IANA name, then as a Windows name (Outlook's `Pacific
//! Standard Time`) through CLDR's windowsZones table (the `localzone` crate).

use std::cell::Cell;

use icalendar::parser::{Calendar, Component};
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

/// Onsets looked at per sub-component: a yearly rule from 1601 (Outlook's DTSTART)
/// to 2200 is 600; a rule that repeats faster (a hostile SECONDLY) gives up here
/// rather than walk to the event.
const MAX_ONSETS: usize = 2_000;

/// Onsets looked at for one whole calendar, however many events and sub-components
/// it has: an Outlook invitation takes about 1,700 per event (two rules from 1601,
/// start and end), so this covers dozens of events and bounds a hostile calendar.
const ONSET_BUDGET: usize = 100_000;

/// RRULEs read per sub-component (real ones have one).
const MAX_RULES: usize = 4;

/// The VTIMEZONE definitions of one calendar, and what is left of its onset budget.
pub(super) struct Zones<'c, 'a> {
    definitions: Vec<&'c Component<'a>>,
    budget: Cell<usize>,
}

impl<'c, 'a> Zones<'c, 'a> {
    pub(super) fn of(calendar: &'c Calendar<'a>) -> Self {
        Zones {
            definitions: calendar.components.iter().filter(|c| c.name == "VTIMEZONE").collect(),
            budget: Cell::new(ONSET_BUDGET),
        }
    }

    /// The instant of `civil` in the zone `tzid`, or `None` when neither the calendar
    /// nor the IANA database (directly or through the Windows name) defines the zone.
    pub(super) fn instant(&self, tzid: &str, civil: DateTime) -> Option<Timestamp> {
        let definition = self
            .definitions
            .iter()
            .find(|zone| zone.find_prop("TZID").is_some_and(|id| id.val.as_str().trim().trim_matches('"') == tzid));
        if let Some(definition) = definition {
            let wall = as_if_utc(civil)?;
            let offset = defined_offset(definition, wall, &self.budget)?;
            return Timestamp::from_second(wall - offset).ok();
        }
        let zone = TimeZone::get(tzid)
            .ok()
            .or_else(|| localzone::win_zone_to_iana(tzid, None).and_then(|iana| TimeZone::get(iana).ok()))?;
        civil.to_zoned_datetime(zone).ok().map(|zoned| zoned.timestamp())
    }
}

/// A wall-clock time as seconds, read as if it were UTC: onsets and event times are
/// both wall-clock times, compared on this one scale.
fn as_if_utc(civil: DateTime) -> Option<i64> {
    civil.to_zoned_datetime(TimeZone::UTC).ok().map(|zoned| zoned.timestamp().as_second())
}

/// The UTC offset (seconds) a VTIMEZONE gives at the wall-clock time `wall`: the
/// TZOFFSETTO of the sub-component whose latest onset is at or before it.
fn defined_offset(definition: &Component<'_>, wall: i64, budget: &Cell<usize>) -> Option<i64> {
    definition
        .components
        .iter()
        .filter(|c| c.name == "STANDARD" || c.name == "DAYLIGHT")
        .filter_map(|observance| {
            let onset = latest_onset(observance, wall, budget)?;
            let offset = utc_offset(observance.find_prop("TZOFFSETTO")?.val.as_str())?;
            Some((onset, offset))
        })
        .max_by_key(|(onset, _)| *onset)
        .map(|(_, offset)| offset)
}

/// The observance's latest onset (wall-clock seconds) at or before `wall`, each
/// onset looked at taken from `budget`.
fn latest_onset(observance: &Component<'_>, wall: i64, budget: &Cell<usize>) -> Option<i64> {
    let start = observance.find_prop("DTSTART")?.val.as_str().trim();
    let start = start.strip_suffix(['Z', 'z']).unwrap_or(start);
    // DTSTART is the first onset whether or not the rule matches it (RFC 5545 3.8.5.3).
    let first = as_if_utc(DateTime::strptime("%Y%m%dT%H%M%S", start).ok()?)?;
    if first > wall {
        return None;
    }
    let mut text = format!("DTSTART:{start}Z");
    let rules = observance.properties.iter().filter(|p| p.name == "RRULE").take(MAX_RULES);
    for rule in rules {
        text.push_str("\nRRULE:");
        text.push_str(rule.val.as_str().trim());
    }
    if !text.contains("RRULE:") {
        return Some(first);
    }
    let onsets: rrule::RRuleSet = text.parse().ok()?;
    let mut latest = Some(first);
    let mut seen = 0;
    for onset in onsets.into_iter().take(MAX_ONSETS) {
        // Out of budget: no answer rather than a wrong one.
        budget.set(budget.get().checked_sub(1)?);
        let onset = onset.timestamp();
        if onset > wall {
            return latest;
        }
        latest = Some(onset);
        seen += 1;
    }
    // A rule that ended (UNTIL, COUNT) before `wall` gave its last onset; one still
    // before `wall` after MAX_ONSETS repeats too fast to be a time zone.
    if seen == MAX_ONSETS { None } else { latest }
}

/// `+0200`, `-0800`, `+053000` → seconds east of UTC.
fn utc_offset(text: &str) -> Option<i64> {
    let text = text.trim();
    let (sign, digits) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    if !(digits.len() == 4 || digits.len() == 6) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let field = |range: std::ops::Range<usize>| digits.get(range).map_or(0, |d| d.parse::<i64>().unwrap_or(0));
    Some(sign * (field(0..2) * 3600 + field(2..4) * 60 + field(4..6)))
}
