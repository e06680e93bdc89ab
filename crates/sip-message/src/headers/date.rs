//! `Date` (RFC 3261 §20.17): an RFC 1123 date, always in GMT.

use crate::{HeaderError, HeaderName, TypedHeader};

use super::lex::Cursor;

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// `Date` (RFC 3261 §20.17): when the request or response was first sent.
///
/// ```text
/// Date          =  "Date" HCOLON SIP-date
/// SIP-date      =  rfc1123-date
/// rfc1123-date  =  wkday "," SP date1 SP time SP "GMT"
/// date1         =  2DIGIT SP month SP 4DIGIT
/// time          =  2DIGIT ":" 2DIGIT ":" 2DIGIT
/// wkday         =  "Mon" / "Tue" / "Wed" / "Thu" / "Fri" / "Sat" / "Sun"
/// month         =  "Jan" / "Feb" / "Mar" / "Apr" / "May" / "Jun"
///                  / "Jul" / "Aug" / "Sep" / "Oct" / "Nov" / "Dec"
/// ```
///
/// The time zone must be `GMT` (RFC 4475 §3.1.2.12); the day must exist in its month. The
/// weekday is not checked against the date. Linear whitespace is accepted where SP is.
///
/// ```
/// use sip_message::{Date, TypedHeader};
/// let d = Date::parse("Sat, 13 Nov 2010 23:29:00 GMT")?;
/// assert_eq!((d.year(), d.month(), d.day()), (2010, 11, 13));
/// assert_eq!((d.hour(), d.minute(), d.second()), (23, 29, 0));
/// assert_eq!(d.unix_time(), 1_289_690_940);
/// assert!(Date::parse("Fri, 01 Jan 2010 16:00:00 EST").is_err());
/// # Ok::<(), sip_message::HeaderError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Date<'a> {
    raw: &'a str,
    weekday: u8,
    day: u8,
    month: u8,
    year: u16,
    hour: u8,
    minute: u8,
    second: u8,
}

impl<'a> Date<'a> {
    /// The date as it appears on the wire.
    #[must_use]
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// Day of the week as sent, 1 (Monday) to 7 (Sunday), as in ISO 8601.
    #[must_use]
    pub fn weekday(&self) -> u8 {
        self.weekday
    }

    /// Day of the month, 1 to 31.
    #[must_use]
    pub fn day(&self) -> u8 {
        self.day
    }

    /// Month, 1 (January) to 12.
    #[must_use]
    pub fn month(&self) -> u8 {
        self.month
    }

    /// Year, four digits.
    #[must_use]
    pub fn year(&self) -> u16 {
        self.year
    }

    /// Hour, 0 to 23.
    #[must_use]
    pub fn hour(&self) -> u8 {
        self.hour
    }

    /// Minute, 0 to 59.
    #[must_use]
    pub fn minute(&self) -> u8 {
        self.minute
    }

    /// Second, 0 to 60 (60 for a leap second).
    #[must_use]
    pub fn second(&self) -> u8 {
        self.second
    }

    /// Seconds since 1970-01-01T00:00:00 GMT (negative before), ignoring leap seconds.
    #[must_use]
    pub fn unix_time(&self) -> i64 {
        // Days from civil (H. Hinnant's algorithm), years starting in March.
        let (y, m, d) = (i64::from(self.year), i64::from(self.month), i64::from(self.day));
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        let secs = i64::from(self.hour) * 3600 + i64::from(self.minute) * 60;
        days * 86_400 + secs + i64::from(self.second)
    }
}

impl<'a> TypedHeader<'a> for Date<'a> {
    const NAME: HeaderName = HeaderName::Date;

    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let mut cur = Cursor::new(value, HeaderName::Date);
        let weekday = name_of(&mut cur, &WEEKDAYS, "expected day of the week")?;
        if !cur.eat(b',') {
            return Err(cur.err("expected ','"));
        }
        cur.lws("expected space after ','")?;
        let day = cur.fixed_number(2, "expected two-digit day")?;
        cur.lws("expected space after day")?;
        let month = name_of(&mut cur, &MONTHS, "expected month")?;
        cur.lws("expected space after month")?;
        let year = cur.fixed_number(4, "expected four-digit year")?;
        cur.lws("expected space after year")?;
        let time_start = cur.pos();
        let hour = cur.fixed_number(2, "expected two-digit hour")?;
        let minute = colon_digits(&mut cur, "expected two-digit minute")?;
        let second = colon_digits(&mut cur, "expected two-digit second")?;
        if hour > 23 || minute > 59 || second > 60 {
            return Err(cur.err_at("time out of range", time_start));
        }
        cur.lws("expected space before GMT")?;
        let zone = cur.take_while(|c| c.is_ascii_alphabetic());
        if !zone.eq_ignore_ascii_case("GMT") {
            return Err(cur.err("time zone is not GMT"));
        }
        cur.finish()?;
        if day == 0 || day > days_in_month(year, month) {
            return Err(cur.err_at("no such day in that month", 0));
        }
        Ok(Date { raw: value, weekday, day, month, year, hour, minute, second })
    }
}

/// A three-letter name from `names` (case-insensitive, as ABNF strings are); its 1-based index.
fn name_of(cur: &mut Cursor<'_>, names: &[&str], what: &'static str) -> Result<u8, HeaderError> {
    let start = cur.pos();
    let word = cur.take_while(|c| c.is_ascii_alphabetic());
    names
        .iter()
        .position(|n| n.eq_ignore_ascii_case(word))
        .and_then(|i| u8::try_from(i + 1).ok())
        .ok_or_else(|| cur.err_at(what, start))
}

/// `":" 2DIGIT`
fn colon_digits(cur: &mut Cursor<'_>, what: &'static str) -> Result<u8, HeaderError> {
    if !cur.eat(b':') {
        return Err(cur.err("expected ':'"));
    }
    cur.fixed_number(2, what)
}

fn days_in_month(year: u16, month: u8) -> u8 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_rfc3261_example() {
        // RFC 3261 §20.17.
        let d = Date::parse("Sat, 13 Nov 2010 23:29:00 GMT").unwrap();
        assert_eq!(d.weekday(), 6);
        assert_eq!(d.as_str(), "Sat, 13 Nov 2010 23:29:00 GMT");
    }

    #[test]
    fn time_zone_must_be_gmt() {
        // RFC 4475 §3.1.2.12 baddate.
        assert!(Date::parse("Fri, 01 Jan 2010 16:00:00 EST").is_err());
        assert!(Date::parse("Fri, 01 Jan 2010 16:00:00").is_err());
        assert!(Date::parse("Fri, 01 Jan 2010 16:00:00 GMT+1").is_err());
    }

    #[test]
    fn fields_have_fixed_widths_and_ranges() {
        // sipsorcery L625: a one-digit day is not 2DIGIT.
        assert!(Date::parse("Fri, 1 Jul 2011 12:54:11 GMT").is_err());
        assert!(Date::parse("Thu, 44 Dec 1999 16:00:00 GMT").is_err()); // sofia test13
        assert!(Date::parse("Thu, 29 Feb 2001 16:00:00 GMT").is_err());
        assert!(Date::parse("Thu, 29 Feb 2000 16:00:00 GMT").is_ok());
        assert!(Date::parse("Thu, 01 Dec 19999 16:00:00 GMT").is_err());
        assert!(Date::parse("Thu, 01 Dec 1999 24:00:00 GMT").is_err());
        assert!(Date::parse("Thu, 01 Foo 1999 16:00:00 GMT").is_err());
        assert!(Date::parse("Thu 01 Dec 1999 16:00:00 GMT").is_err());
    }

    #[test]
    fn unix_time_counts_from_the_epoch() {
        assert_eq!(Date::parse("Thu, 01 Jan 1970 00:00:00 GMT").unwrap().unix_time(), 0);
        assert_eq!(Date::parse("Wed, 31 Dec 1969 23:59:59 GMT").unwrap().unix_time(), -1);
        assert_eq!(
            Date::parse("Wed, 29 Nov 2006 22:31:58 GMT").unwrap().unix_time(),
            1_164_839_518
        );
    }
}
