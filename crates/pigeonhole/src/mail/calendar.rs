//! Calendar invitations: a message's `text/calendar` part (or `.ics` attachment)
//! read with the `icalendar` crate's parser into what the UI's event card shows
//! (the message detail's `Calendar`): the method (invitation, update,
//! cancellation…), and per event its title, start and end (an instant, and as
//! written in the organiser's time zone), place, organiser, attendees with their
//! answers, and its recurrence in words. The instant comes from the calendar's own
//! VTIMEZONE, an IANA zone name or a Windows one (Outlook's), see [`zones`]. A part that cannot be read gives an
//! [`CalendarInvite::error`] instead, which the UI says and `mime.calendar-invalid`
//! reports. Everything here is the sender's text: the UI escapes it.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use mail_parser::Message;
use serde::Serialize;

use super::detail::{self, media_type};
use zones::Zones;

/// A message's calendar part, as the event card shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "PascalCase")]
pub struct CalendarInvite {
    /// The part's ID (`1.2`).
    #[serde(rename = "PartID")]
    pub part_id: String,
    /// iTIP's METHOD as sent (`REQUEST`, `CANCEL`, `PUBLISH`, …), or "".
    pub method: String,
    /// What it is: `invitation`, `update`, `cancellation`, `reply`, `event`.
    pub kind: String,
    /// Why the part could not be read, or "" when it could.
    pub error: String,
    pub events: Vec<CalendarEvent>,
}

/// One VEVENT.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "PascalCase")]
pub struct CalendarEvent {
    pub summary: String,
    pub location: String,
    /// The start as an RFC 3339 instant (the UI shows it in the viewer's zone), or
    /// "" for a floating time or a TZID that neither the calendar's VTIMEZONE nor the
    /// IANA database (by its name or a Windows zone's) defines.
    pub start: String,
    pub end: String,
    /// The start and end as written (`2025-03-14 10:00`), in [`Self::time_zone`].
    pub start_local: String,
    pub end_local: String,
    /// DTSTART's TZID as written (`Europe/Berlin`, Outlook's `Pacific Standard Time`),
    /// `UTC`, or "" for a floating time.
    pub time_zone: String,
    pub all_day: bool,
    pub organizer: CalendarPerson,
    pub attendees: Vec<CalendarPerson>,
    /// RRULE in words ("Weekly on Monday and Wednesday, 10 times"), or "".
    pub recurrence: String,
    pub sequence: u32,
    /// STATUS (`CONFIRMED`, `CANCELLED`…), or "".
    pub status: String,
}

/// An organiser or attendee.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "PascalCase")]
pub struct CalendarPerson {
    pub name: String,
    pub email: String,
    /// PARTSTAT (`ACCEPTED`, `NEEDS-ACTION`, …); "" for the organiser.
    pub status: String,
}

/// The message's first calendar part, read; `None` when it has none.
pub fn invite(message: &Message<'_>) -> Option<CalendarInvite> {
    let leaf = detail::leaves(message).into_iter().find(|leaf| {
        let media_type = media_type(leaf.part);
        media_type == "text/calendar" || media_type == "application/ics"
    })?;
    let text = String::from_utf8_lossy(leaf.part.contents());
    Some(match read(&text) {
        Ok(invite) => CalendarInvite { part_id: leaf.id, ..invite },
        Err(error) => CalendarInvite { part_id: leaf.id, error, ..CalendarInvite::default() },
    })
}

/// An iCalendar text read, or what is wrong with it.
pub fn read(text: &str) -> Result<CalendarInvite, String> {
    let unfolded = icalendar::parser::unfold(text);
    let calendar = icalendar::parser::read_calendar(&unfolded)
        .map_err(|_| "The calendar part is not valid iCalendar (RFC 5545), so it cannot be read.".to_string())?;
    let property = |properties: &[icalendar::parser::Property<'_>], name: &str| {
        properties.iter().find(|p| p.name == name).map(|p| p.val.as_str().to_string()).unwrap_or_default()
    };
    let method = property(&calendar.properties, "METHOD").to_ascii_uppercase();
    let zones = Zones::of(&calendar);
    let mut events = Vec::new();
    for component in calendar.components.iter().filter(|c| c.name == "VEVENT") {
        let text_of = |name: &str| {
            component.find_prop(name).map(|p| p.val.clone().unescape_text().as_str().to_string()).unwrap_or_default()
        };
        let start_property = component
            .find_prop("DTSTART")
            .ok_or_else(|| "An event in the calendar part has no start (DTSTART).".to_string())?;
        let start = Time::read(start_property, &zones)?;
        let end = component.find_prop("DTEND").map(|end| Time::read(end, &zones)).transpose()?.unwrap_or_default();
        events.push(CalendarEvent {
            summary: text_of("SUMMARY"),
            location: text_of("LOCATION"),
            start: start.instant.clone(),
            end: end.instant,
            start_local: start.local.clone(),
            end_local: end.local,
            time_zone: start.zone.clone(),
            all_day: start.all_day,
            organizer: component.find_prop("ORGANIZER").map(person).unwrap_or_default(),
            attendees: component.properties.iter().filter(|p| p.name == "ATTENDEE").map(person).collect(),
            recurrence: component.find_prop("RRULE").map(|p| recurrence(p.val.as_str())).unwrap_or_default(),
            sequence: text_of("SEQUENCE").trim().parse().unwrap_or(0),
            status: text_of("STATUS").to_ascii_uppercase(),
        });
    }
    if events.is_empty() {
        return Err("The calendar part has no event (VEVENT) in it.".to_string());
    }
    let kind = match method.as_str() {
        "CANCEL" => "cancellation",
        "REQUEST" if events.iter().any(|e| e.sequence > 0) => "update",
        "REQUEST" => "invitation",
        "REPLY" => "reply",
        _ => "event",
    };
    Ok(CalendarInvite { part_id: String::new(), method, kind: kind.to_string(), error: String::new(), events })
}

fn parameter(property: &icalendar::parser::Property<'_>, key: &str) -> String {
    property
        .params
        .iter()
        .find(|p| p.key.as_str().eq_ignore_ascii_case(key))
        .and_then(|p| p.val.as_ref())
        .map(|v| v.as_str().trim_matches('"').to_string())
        .unwrap_or_default()
}

fn person(property: &icalendar::parser::Property<'_>) -> CalendarPerson {
    let value = property.val.as_str();
    let email = value.get(..7).filter(|s| s.eq_ignore_ascii_case("mailto:")).map_or(value, |_| &value[7..]);
    CalendarPerson {
        name: parameter(property, "CN"),
        email: email.to_string(),
        status: parameter(property, "PARTSTAT").to_ascii_uppercase(),
    }
}

/// A DTSTART or DTEND.
#[derive(Default)]
struct Time {
    instant: String,
    local: String,
    zone: String,
    all_day: bool,
}

impl Time {
    fn read(property: &icalendar::parser::Property<'_>, zones: &Zones<'_, '_>) -> Result<Time, String> {
        let value = property.val.as_str().trim();
        let invalid = || format!("The event's time {value:?} is not an iCalendar date or date-time.");
        if value.len() == 8 {
            let date = Date::strptime("%Y%m%d", value).map_err(|_| invalid())?;
            return Ok(Time { local: date.to_string(), all_day: true, ..Time::default() });
        }
        let (civil, utc) = match value.strip_suffix(['Z', 'z']) {
            Some(civil) => (civil, true),
            None => (value, false),
        };
        let civil = DateTime::strptime("%Y%m%dT%H%M%S", civil).map_err(|_| invalid())?;
        let local = civil.strftime("%Y-%m-%d %H:%M").to_string();
        let tzid = parameter(property, "TZID");
        let (zone, instant) = if utc {
            ("UTC".to_string(), civil.to_zoned_datetime(TimeZone::UTC).ok().map(|zoned| zoned.timestamp()))
        } else if tzid.is_empty() {
            (String::new(), None)
        } else {
            let instant = zones.instant(&tzid, civil);
            (tzid, instant)
        };
        let instant = instant.map(|instant| instant.to_string()).unwrap_or_default();
        Ok(Time { instant, local, zone, all_day: false })
    }
}

/// An RRULE in words: "Every 2 weeks on Monday and Wednesday, until 2025-06-30".
fn recurrence(rule: &str) -> String {
    let part = |name: &str| {
        rule.split(';').find_map(|p| p.split_once('=').filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
    };
    let interval: u32 = part("INTERVAL").and_then(|i| i.parse().ok()).unwrap_or(1);
    let unit = match part("FREQ").map(str::to_ascii_uppercase).as_deref() {
        Some("DAILY") => ("Daily", "days"),
        Some("WEEKLY") => ("Weekly", "weeks"),
        Some("MONTHLY") => ("Monthly", "months"),
        Some("YEARLY") => ("Yearly", "years"),
        Some("HOURLY") => ("Hourly", "hours"),
        Some("MINUTELY") => ("Every minute", "minutes"),
        _ => return format!("Repeats ({rule})"),
    };
    let mut words = if interval > 1 { format!("Every {interval} {}", unit.1) } else { unit.0.to_string() };
    if let Some(days) = part("BYDAY") {
        let names: Vec<String> = days.split(',').map(day_name).collect();
        words.push_str(&format!(" on {}", and_list(&names)));
    }
    if let Some(count) = part("COUNT") {
        words.push_str(&format!(", {count} times"));
    }
    if let Some(until) = part("UNTIL") {
        let date = until.get(..8).and_then(|d| Date::strptime("%Y%m%d", d).ok());
        words.push_str(&format!(", until {}", date.map_or(until.to_string(), |d| d.to_string())));
    }
    words
}

/// `MO` → `Monday`, `-1FR` → `last Friday`, `2TU` → `2nd Tuesday`.
fn day_name(day: &str) -> String {
    let day = day.trim();
    let split = day.len().saturating_sub(2);
    let (ordinal, code) = day.split_at(split);
    let name = match code.to_ascii_uppercase().as_str() {
        "MO" => "Monday",
        "TU" => "Tuesday",
        "WE" => "Wednesday",
        "TH" => "Thursday",
        "FR" => "Friday",
        "SA" => "Saturday",
        "SU" => "Sunday",
        _ => return day.to_string(),
    };
    match ordinal.trim_start_matches('+') {
        "" => name.to_string(),
        "-1" => format!("last {name}"),
        "1" => format!("1st {name}"),
        "2" => format!("2nd {name}"),
        "3" => format!("3rd {name}"),
        n => format!("{n}th {name}"),
    }
}

fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests;
mod zones;
