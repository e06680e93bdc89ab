//! The `Date` header value (RFC 3261 §20.17: `rfc1123-date`, always GMT), written from a
//! wall-clock time the caller passes in.

use std::time::{SystemTime, UNIX_EPOCH};

const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]; // from 1970-01-01
const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Last second that still has a four-digit year: 9999-12-31T23:59:59Z.
const MAX_UNIX: u64 = 253_402_300_799;

/// Formats `time` as an RFC 1123 date for the `Date` header (RFC 3261 §20.17), e.g.
/// `Sat, 13 Nov 2010 23:29:00 GMT`. Times before 1970 are written as the epoch and times after
/// 9999 as its last second (the grammar has four year digits); sub-second parts are dropped.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use sip_registrar::format_date;
///
/// let t = UNIX_EPOCH + Duration::from_secs(1_289_690_940);
/// assert_eq!(format_date(t), "Sat, 13 Nov 2010 23:29:00 GMT");
/// ```
#[must_use]
pub fn format_date(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()).min(MAX_UNIX);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let weekday = WEEKDAYS.get((days % 7) as usize).copied().unwrap_or("Thu");
    let month_name = MONTHS.get(month.saturating_sub(1) as usize).copied().unwrap_or("Jan");
    format!(
        "{weekday}, {day:02} {month_name} {year:04} {:02}:{:02}:{:02} GMT",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`, for non-negative day counts).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01 so leap days fall at the end of a "year".
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;
    use sip_message::{Date, TypedHeader};

    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn known_dates() {
        assert_eq!(format_date(at(0)), "Thu, 01 Jan 1970 00:00:00 GMT");
        // RFC 3261 §20.17 example.
        assert_eq!(format_date(at(1_289_690_940)), "Sat, 13 Nov 2010 23:29:00 GMT");
        // Leap day, and the day after the end of February in a century leap year.
        assert_eq!(format_date(at(951_782_400)), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(format_date(at(951_868_800)), "Wed, 01 Mar 2000 00:00:00 GMT");
        assert_eq!(format_date(at(4_107_542_399)), "Sun, 28 Feb 2100 23:59:59 GMT");
        assert_eq!(format_date(at(4_107_542_400)), "Mon, 01 Mar 2100 00:00:00 GMT");
        assert_eq!(format_date(at(MAX_UNIX)), "Fri, 31 Dec 9999 23:59:59 GMT");
        assert_eq!(format_date(at(MAX_UNIX + 1000)), "Fri, 31 Dec 9999 23:59:59 GMT");
        assert_eq!(format_date(UNIX_EPOCH - Duration::from_secs(5)), format_date(at(0)));
        assert_eq!(format_date(at(1) + Duration::from_millis(999)), format_date(at(1)));
    }

    proptest! {
        #[test]
        fn round_trips_through_the_date_parser(secs in 0..=MAX_UNIX) {
            let text = format_date(at(secs));
            let parsed = Date::parse(&text).unwrap();
            prop_assert_eq!(parsed.unix_time(), secs as i64);
            // The weekday must be the real one (the parser does not check it): ISO 1 = Monday.
            let iso = ((secs / 86_400 + 3) % 7 + 1) as u8;
            prop_assert_eq!(parsed.weekday(), iso);
        }
    }
}
