//! Headers whose value is a number, possibly with a method or parameters: CSeq, Max-Forwards,
//! Content-Length, Expires, Min-Expires, MIME-Version, Timestamp, Retry-After (RFC 3261 §20);
//! RSeq and RAck (RFC 3262 §7); Session-Expires and Min-SE (RFC 4028 §4, §5).
//!
//! The ABNF's `1*DIGIT` is unbounded, but RFC 3261 bounds the ranges (CSeq < 2^31,
//! Max-Forwards ≤ 255, delta-seconds ≤ 2^32-1), and RFC 4475 §3.1.2.4 expects overlarge
//! values to be rejected, so a number that does not fit its type is an error.

use crate::chars::{TOKEN, run_len};
use crate::{HeaderError, HeaderName, Method, TypedHeader};

use super::lex::{Cursor, method_of};
use super::params::{ParamList, Params, checked, delta_value, with_params};

/// Largest CSeq sequence number plus one: "MUST be less than 2**31" (RFC 3261 §8.1.1.5).
const SEQ_LIMIT: u32 = 1 << 31;

/// Defines a header whose whole value is one bounded number.
macro_rules! number_header {
    ($(#[$doc:meta])* $ty:ident($int:ty), $what:literal, $range:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $ty(pub $int);

        impl From<$ty> for $int {
            fn from(value: $ty) -> $int {
                value.0
            }
        }

        impl<'a> TypedHeader<'a> for $ty {
            const NAME: HeaderName = HeaderName::$ty;

            fn parse(value: &'a str) -> Result<Self, HeaderError> {
                let mut cur = Cursor::new(value, HeaderName::$ty);
                let n: $int = cur.number($what)?;
                cur.finish()?;
                if !$range.contains(&n) {
                    return Err(cur.err_at("number out of range", 0));
                }
                Ok($ty(n))
            }
        }
    };
}

number_header! {
    /// `Max-Forwards` (RFC 3261 §20.22): hops left before the request is refused with 483.
    ///
    /// ```text
    /// Max-Forwards  =  "Max-Forwards" HCOLON 1*DIGIT     ; 0 to 255 (§8.1.1.6)
    /// ```
    ///
    /// ```
    /// use sip_message::{MaxForwards, TypedHeader};
    /// assert_eq!(MaxForwards::parse("0068"), Ok(MaxForwards(68))); // RFC 4475 wsinv
    /// assert!(MaxForwards::parse("300").is_err()); // RFC 4475 scalar02
    /// ```
    MaxForwards(u8), "expected number of hops", 0..=u8::MAX
}

number_header! {
    /// `Content-Length` (RFC 3261 §20.14): the body size in octets.
    ///
    /// ```text
    /// Content-Length  =  ( "Content-Length" / "l" ) HCOLON 1*DIGIT
    /// ```
    ContentLength(u32), "expected octet count", 0..=u32::MAX
}

number_header! {
    /// `Expires` (RFC 3261 §20.19): lifetime of a registration, subscription or offer, in
    /// seconds. RFC 2543's HTTP-date form is not accepted.
    ///
    /// ```text
    /// Expires        =  "Expires" HCOLON delta-seconds
    /// delta-seconds  =  1*DIGIT                          ; at most 2^32-1
    /// ```
    Expires(u32), "expected delta-seconds", 0..=u32::MAX
}

number_header! {
    /// `Min-Expires` (RFC 3261 §20.23): the shortest registration or subscription interval a
    /// server accepts, sent in a 423.
    ///
    /// ```text
    /// Min-Expires  =  "Min-Expires" HCOLON delta-seconds
    /// ```
    MinExpires(u32), "expected delta-seconds", 0..=u32::MAX
}

number_header! {
    /// `RSeq` (RFC 3262 §7.1): sequence number of a reliable provisional response, 1 to
    /// 2^31-1.
    ///
    /// ```text
    /// RSeq          =  "RSeq" HCOLON response-num
    /// response-num  =  1*DIGIT
    /// ```
    RSeq(u32), "expected response number", 1..SEQ_LIMIT
}

/// `CSeq` (RFC 3261 §20.16): the request's sequence number and method.
///
/// ```text
/// CSeq  =  "CSeq" HCOLON 1*DIGIT LWS Method          ; number < 2^31 (§8.1.1.5)
/// ```
///
/// ```
/// use sip_message::{CSeq, Method, TypedHeader};
/// let cseq = CSeq::parse("0009\r\n  INVITE")?; // RFC 4475 wsinv
/// assert_eq!((cseq.number(), cseq.method()), (9, Method::Invite));
/// assert!(CSeq::parse("36893488147419103232 REGISTER").is_err()); // RFC 4475 scalar02
/// # Ok::<(), sip_message::HeaderError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CSeq<'a> {
    number: u32,
    method: &'a str,
}

impl<'a> CSeq<'a> {
    /// The sequence number, below 2^31.
    #[must_use]
    pub fn number(&self) -> u32 {
        self.number
    }

    /// The method (an extension method is copied out; [`CSeq::method_str`] borrows).
    #[must_use]
    pub fn method(&self) -> Method {
        method_of(self.method)
    }

    /// The method as it appears on the wire.
    #[must_use]
    pub fn method_str(&self) -> &'a str {
        self.method
    }
}

impl<'a> TypedHeader<'a> for CSeq<'a> {
    const NAME: HeaderName = HeaderName::CSeq;

    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let mut cur = Cursor::new(value, HeaderName::CSeq);
        let cseq = cseq(&mut cur)?;
        cur.finish()?;
        Ok(cseq)
    }
}

/// `RAck` (RFC 3262 §7.2): which reliable provisional response a PRACK acknowledges.
///
/// ```text
/// RAck          =  "RAck" HCOLON response-num LWS CSeq-num LWS Method
/// response-num  =  1*DIGIT
/// CSeq-num      =  1*DIGIT
/// ```
///
/// ```
/// use sip_message::{Method, RAck, TypedHeader};
/// let rack = RAck::parse("776656 1 INVITE")?;
/// assert_eq!(rack.rseq(), 776656);
/// assert_eq!((rack.cseq().number(), rack.cseq().method()), (1, Method::Invite));
/// # Ok::<(), sip_message::HeaderError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RAck<'a> {
    rseq: u32,
    cseq: CSeq<'a>,
}

impl<'a> RAck<'a> {
    /// The RSeq of the acknowledged response.
    #[must_use]
    pub fn rseq(&self) -> u32 {
        self.rseq
    }

    /// The CSeq (number and method) of the acknowledged response.
    #[must_use]
    pub fn cseq(&self) -> CSeq<'a> {
        self.cseq
    }
}

impl<'a> TypedHeader<'a> for RAck<'a> {
    const NAME: HeaderName = HeaderName::RAck;

    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let mut cur = Cursor::new(value, HeaderName::RAck);
        let rseq = seq_number(&mut cur, "expected response number", 1)?;
        cur.lws("expected whitespace after response number")?;
        let cseq = cseq(&mut cur)?;
        cur.finish()?;
        Ok(RAck { rseq, cseq })
    }
}

/// `MIME-Version` (RFC 3261 §20.24).
///
/// ```text
/// MIME-Version  =  "MIME-Version" HCOLON 1*DIGIT "." 1*DIGIT
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MimeVersion {
    /// The number before the dot.
    pub major: u32,
    /// The number after the dot.
    pub minor: u32,
}

impl<'a> TypedHeader<'a> for MimeVersion {
    const NAME: HeaderName = HeaderName::MimeVersion;

    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let mut cur = Cursor::new(value, HeaderName::MimeVersion);
        let major = cur.number("expected major version")?;
        if !cur.eat(b'.') {
            return Err(cur.err("expected '.'"));
        }
        let minor = cur.number("expected minor version")?;
        cur.finish()?;
        Ok(MimeVersion { major, minor })
    }
}

/// `Timestamp` (RFC 3261 §20.38, §8.2.6.1): when the UAC sent the request, echoed with the
/// delay the UAS held it. Kept as text, since units and precision are the UAC's.
///
/// ```text
/// Timestamp  =  "Timestamp" HCOLON 1*(DIGIT) [ "." *(DIGIT) ] [ LWS delay ]
/// delay      =  *(DIGIT) [ "." *(DIGIT) ]
/// ```
///
/// ```
/// use sip_message::{Timestamp, TypedHeader};
/// let t = Timestamp::parse("986395257.13924321 3")?;
/// assert_eq!((t.time(), t.delay()), ("986395257.13924321", Some("3")));
/// # Ok::<(), sip_message::HeaderError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timestamp<'a> {
    time: &'a str,
    delay: Option<&'a str>,
}

impl<'a> Timestamp<'a> {
    /// The timestamp as sent.
    #[must_use]
    pub fn time(&self) -> &'a str {
        self.time
    }

    /// The delay a UAS added when echoing the timestamp in a response.
    #[must_use]
    pub fn delay(&self) -> Option<&'a str> {
        self.delay
    }
}

impl<'a> TypedHeader<'a> for Timestamp<'a> {
    const NAME: HeaderName = HeaderName::Timestamp;

    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let mut cur = Cursor::new(value, HeaderName::Timestamp);
        let time = decimal(&mut cur);
        if !time.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(cur.err_at("expected timestamp", 0));
        }
        let delay = if cur.skip_sws() && !cur.at_end() {
            Some(decimal(&mut cur)).filter(|d| !d.is_empty())
        } else {
            None
        };
        cur.finish()?;
        Ok(Timestamp { time, delay })
    }
}

/// `Retry-After` (RFC 3261 §20.33): when to retry, in a 404, 413, 480, 486, 500, 503, 600
/// or 603. RFC 2543's HTTP-date form is not accepted.
///
/// ```text
/// Retry-After  =  "Retry-After" HCOLON delta-seconds [ comment ] *( SEMI retry-param )
/// retry-param  =  ("duration" EQUAL delta-seconds) / generic-param
/// ```
///
/// ```
/// use sip_message::{RetryAfter, TypedHeader};
/// let r = RetryAfter::parse("18000;duration=3600")?;
/// assert_eq!((r.seconds(), r.duration()), (18000, Some(3600)));
/// let r = RetryAfter::parse("120 (I'm in a meeting)")?;
/// assert_eq!(r.comment(), Some("I'm in a meeting"));
/// # Ok::<(), sip_message::HeaderError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RetryAfter<'a> {
    seconds: u32,
    comment: Option<&'a str>,
    params: Params<'a>,
}

impl<'a> RetryAfter<'a> {
    /// Seconds to wait before retrying.
    #[must_use]
    pub fn seconds(&self) -> u32 {
        self.seconds
    }

    /// The comment's text, without its parentheses (nested comments and quoted-pairs kept
    /// as written).
    #[must_use]
    pub fn comment(&self) -> Option<&'a str> {
        self.comment
    }

    /// The `duration` parameter: how long the callee will be reachable, in seconds.
    #[must_use]
    pub fn duration(&self) -> Option<u32> {
        self.params.get("duration").and_then(delta_value)
    }

    /// All parameters.
    #[must_use]
    pub fn params(&self) -> Params<'a> {
        self.params
    }
}

impl<'a> TypedHeader<'a> for RetryAfter<'a> {
    const NAME: HeaderName = HeaderName::RetryAfter;

    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let (seconds, comment, params) = delta_params(value, HeaderName::RetryAfter, true, |p| {
            checked(p, "duration", "invalid duration", delta_value).map(drop)
        })?;
        Ok(RetryAfter { seconds, comment, params })
    }
}

/// Who refreshes a session (RFC 4028 §4 `refresher` parameter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refresher {
    /// The UAC of the refreshing transaction.
    Uac,
    /// The UAS of the refreshing transaction.
    Uas,
}

/// `Session-Expires` (RFC 4028 §4): the session interval and who refreshes.
///
/// ```text
/// Session-Expires  = ("Session-Expires" / "x") HCOLON delta-seconds *(SEMI se-params)
/// se-params        = refresher-param / generic-param
/// refresher-param  = "refresher" EQUAL  ("uas" / "uac")
/// ```
///
/// ```
/// use sip_message::{Refresher, SessionExpires, TypedHeader};
/// let se = SessionExpires::parse("3600;Refresher=uac")?;
/// assert_eq!((se.seconds(), se.refresher()), (3600, Some(Refresher::Uac)));
/// # Ok::<(), sip_message::HeaderError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SessionExpires<'a> {
    seconds: u32,
    params: Params<'a>,
}

impl<'a> SessionExpires<'a> {
    /// The session interval in seconds.
    #[must_use]
    pub fn seconds(&self) -> u32 {
        self.seconds
    }

    /// The `refresher` parameter.
    #[must_use]
    pub fn refresher(&self) -> Option<Refresher> {
        self.params.get("refresher").and_then(refresher_value)
    }

    /// All parameters.
    #[must_use]
    pub fn params(&self) -> Params<'a> {
        self.params
    }
}

impl<'a> TypedHeader<'a> for SessionExpires<'a> {
    const NAME: HeaderName = HeaderName::SessionExpires;

    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let (seconds, _, params) = delta_params(value, HeaderName::SessionExpires, false, |p| {
            checked(p, "refresher", "refresher is not uac or uas", refresher_value).map(drop)
        })?;
        Ok(SessionExpires { seconds, params })
    }
}

/// `Min-SE` (RFC 4028 §5): the smallest session interval allowed.
///
/// ```text
/// Min-SE  =  "Min-SE" HCOLON delta-seconds *(SEMI generic-param)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MinSe<'a> {
    seconds: u32,
    params: Params<'a>,
}

impl<'a> MinSe<'a> {
    /// The minimum session interval in seconds.
    #[must_use]
    pub fn seconds(&self) -> u32 {
        self.seconds
    }

    /// The parameters.
    #[must_use]
    pub fn params(&self) -> Params<'a> {
        self.params
    }
}

impl<'a> TypedHeader<'a> for MinSe<'a> {
    const NAME: HeaderName = HeaderName::MinSe;

    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let (seconds, _, params) = delta_params(value, HeaderName::MinSe, false, |_| Ok(()))?;
        Ok(MinSe { seconds, params })
    }
}

/// `delta-seconds [ comment ] *( SEMI generic-param )` as the whole value (the comment only
/// where `comment` says the header has one); `check` validates the parameters.
fn delta_params<'a>(
    value: &'a str,
    name: HeaderName,
    comment: bool,
    check: impl FnOnce(&ParamList<'a>) -> Result<(), &'static str>,
) -> Result<(u32, Option<&'a str>, Params<'a>), HeaderError> {
    let head = |cur: &mut Cursor<'a>| {
        let seconds = cur.delta_seconds()?;
        let before = cur.pos();
        cur.skip_sws();
        if comment && cur.peek() == Some(b'(') {
            return Ok((seconds, Some(cur.comment_text()?)));
        }
        cur.reset(before);
        Ok((seconds, None))
    };
    let ((seconds, text), params, ()) = with_params(value, name, head, check)?;
    Ok((seconds, text, params))
}

/// A sequence number below 2^31 and at least `min` (RFC 3261 §8.1.1.5, RFC 3262 §7.1).
fn seq_number(cur: &mut Cursor<'_>, what: &'static str, min: u32) -> Result<u32, HeaderError> {
    let start = cur.pos();
    let n: u32 = cur.number(what)?;
    if n < min || n >= SEQ_LIMIT {
        return Err(cur.err_at("sequence number out of range", start));
    }
    Ok(n)
}

/// `1*DIGIT LWS Method`, the number below 2^31: a CSeq value, also the tail of RAck.
fn cseq<'a>(cur: &mut Cursor<'a>) -> Result<CSeq<'a>, HeaderError> {
    let number = seq_number(cur, "expected sequence number", 0)?;
    cur.lws("expected whitespace before method")?;
    let method = cur.expect_token("expected method")?;
    Ok(CSeq { number, method })
}

/// Whether the typed parser of `name` accepts `value`, for CSeq and the number headers whose
/// range is all of their integer type (Max-Forwards, Content-Length, Expires, Min-Expires):
/// the same grammar, read without building the header (for
/// [`Message::validate`](crate::Message::validate)). `false` for any other header.
pub(crate) fn number_is_valid(value: &str, name: HeaderName) -> bool {
    // The common shapes in one pass over the bytes: the digits alone, or for CSeq the digits,
    // spaces and a token to the end. Anything else takes the cursor's steps below.
    let b = value.as_bytes();
    if plain_number(b, name) {
        return true;
    }
    let limit: u64 = match name {
        HeaderName::MaxForwards => u64::from(u8::MAX) + 1,
        HeaderName::ContentLength | HeaderName::Expires | HeaderName::MinExpires => 1 << 32,
        HeaderName::CSeq => {
            // `seq_number LWS token`, then the end.
            let mut cur = Cursor::new(value, name);
            return cur.digits_below(u64::from(SEQ_LIMIT))
                && cur.skip_sws()
                && cur.token().is_some()
                && cur.finish().is_ok();
        }
        _ => return false,
    };
    let mut cur = Cursor::new(value, name);
    cur.digits_below(limit) && cur.finish().is_ok()
}

/// Whether [`number_is_valid`] accepts `b` by its one pass over the common shapes: the
/// digits alone, in range, or for CSeq the digits, spaces and a token to the end. On bytes
/// that need not be UTF-8 (every byte accepted is ASCII); `false` says nothing.
pub(crate) fn plain_number(b: &[u8], name: HeaderName) -> bool {
    let (digits, number) = leading_digits(b);
    let limit: u64 = match name {
        HeaderName::MaxForwards => u64::from(u8::MAX) + 1,
        HeaderName::ContentLength | HeaderName::Expires | HeaderName::MinExpires => 1 << 32,
        HeaderName::CSeq => {
            let rest = b.get(digits..).unwrap_or_default();
            let spaces = rest.iter().take_while(|&&c| c == b' ').count();
            let method = rest.get(spaces..).unwrap_or_default();
            return digits > 0
                && number < u64::from(SEQ_LIMIT)
                && spaces > 0
                && !method.is_empty()
                && run_len(&TOKEN, method) == method.len();
        }
        _ => return false,
    };
    digits > 0 && digits == b.len() && number < limit
}

/// How many ASCII digits `b` starts with, and their value, saturating as
/// [`Cursor::digits_below`] counts it (so that a comparison with its limit answers alike).
#[inline]
fn leading_digits(b: &[u8]) -> (usize, u64) {
    let mut value: u64 = 0;
    let mut n = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        value = value.saturating_mul(10).saturating_add(u64::from(d));
        n += 1;
    }
    (n, value)
}

/// `*(DIGIT) [ "." *(DIGIT) ]`, possibly empty.
fn decimal<'a>(cur: &mut Cursor<'a>) -> &'a str {
    let start = cur.pos();
    cur.take_while(|c| c.is_ascii_digit());
    if cur.eat(b'.') {
        cur.take_while(|c| c.is_ascii_digit());
    }
    cur.since(start)
}

/// `"uac" / "uas"`, case-insensitive.
fn refresher_value(value: Option<&str>) -> Option<Refresher> {
    match value? {
        v if v.eq_ignore_ascii_case("uac") => Some(Refresher::Uac),
        v if v.eq_ignore_ascii_case("uas") => Some(Refresher::Uas),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_forwards_is_at_most_255() {
        // RFC 3261 §20.22 / RFC 4475 §3.1.2.4 scalar02 (Max-Forwards: 300).
        assert_eq!(MaxForwards::parse("255"), Ok(MaxForwards(255)));
        assert_eq!(MaxForwards::parse("0"), Ok(MaxForwards(0)));
        assert!(MaxForwards::parse("300").is_err());
        assert!(MaxForwards::parse("notanumber").is_err()); // pjsip msg_test
        assert!(MaxForwards::parse("").is_err());
    }

    #[test]
    fn content_length_rejects_negative_and_overflow() {
        // RFC 4475 §3.1.2.3 ncl: Content-Length: -999.
        assert_eq!(ContentLength::parse("150"), Ok(ContentLength(150)));
        assert!(ContentLength::parse("-999").is_err());
        assert!(ContentLength::parse("99999999999").is_err());
        assert!(ContentLength::parse("1 2").is_err());
    }

    #[test]
    fn expires_rejects_overlarge_and_dates() {
        // RFC 4475 §3.1.2.4 scalar02; sofia test29/test30 (RFC 2543 HTTP-date).
        assert_eq!(Expires::parse("4294967295"), Ok(Expires(u32::MAX)));
        assert!(Expires::parse("4294967296").is_err());
        assert!(Expires::parse("10000000000000000000").is_err());
        assert!(Expires::parse("Thu, 01 Dec 1994 16:00:00 GMT").is_err());
        assert!(Expires::parse("0 0l@company.com").is_err()); // sofia test35
        assert_eq!(MinExpires::parse("60"), Ok(MinExpires(60)));
    }

    #[test]
    fn cseq_number_is_below_2_pow_31() {
        // RFC 3261 §8.1.1.5, RFC 4475 §3.1.2.4 scalar02 and §3.1.2.5 scalarlg.
        assert_eq!(CSeq::parse("2147483647 ACK").map(|c| c.number()), Ok(2_147_483_647));
        assert!(CSeq::parse("2147483648 ACK").is_err());
        assert!(CSeq::parse("36893488147419103232 REGISTER").is_err());
    }

    #[test]
    fn cseq_requires_number_whitespace_and_method() {
        // resiprocate L926: empty CSeq.
        assert!(CSeq::parse("").is_err());
        assert!(CSeq::parse("1").is_err());
        assert!(CSeq::parse("INVITE").is_err());
        assert!(CSeq::parse("1INVITE").is_err());
        assert!(CSeq::parse("1 INVITE extra").is_err());
    }

    #[test]
    fn cseq_keeps_extension_methods() {
        // RFC 4475 §3.1.1.2 intmeth.
        let c = CSeq::parse("139122385 !interesting-Method0123456789_*+`.%indeed'~").unwrap();
        assert_eq!(c.method_str(), "!interesting-Method0123456789_*+`.%indeed'~");
        assert_eq!(c.method().as_str(), c.method_str());
    }

    #[test]
    fn rseq_is_between_1_and_2_pow_31_minus_1() {
        // RFC 3262 §3.
        assert_eq!(RSeq::parse("988789"), Ok(RSeq(988_789)));
        assert!(RSeq::parse("0").is_err());
        assert!(RSeq::parse("2147483648").is_err());
    }

    #[test]
    fn rack_needs_three_fields() {
        // RFC 3262 §7.2.
        assert_eq!(RAck::parse("776656\r\n 1 INVITE").map(|r| r.rseq()), Ok(776_656));
        assert!(RAck::parse("776656 1").is_err());
        assert!(RAck::parse("0 1 INVITE").is_err());
    }

    #[test]
    fn mime_version_is_two_numbers() {
        assert_eq!(MimeVersion::parse("1.0"), Ok(MimeVersion { major: 1, minor: 0 }));
        assert!(MimeVersion::parse("1").is_err());
        assert!(MimeVersion::parse("1.").is_err());
        assert!(MimeVersion::parse("1 .0").is_err());
    }

    #[test]
    fn timestamp_with_and_without_delay() {
        // RFC 3261 §20.38.
        let t = Timestamp::parse("54").unwrap();
        assert_eq!((t.time(), t.delay()), ("54", None));
        let t = Timestamp::parse("54.1 .5").unwrap();
        assert_eq!(t.delay(), Some(".5"));
        assert!(Timestamp::parse(".5").is_err());
        assert!(Timestamp::parse("54 x").is_err());
    }

    #[test]
    fn retry_after_rejects_dates_and_overlarge_values() {
        // sofia own0 (HTTP-date) and RFC 4475 §3.1.2.5 scalarlg.
        assert!(
            RetryAfter::parse("Wed, 04 Apr 2001 19:00:00 GMT (wake-up) ;duration=1800").is_err()
        );
        assert!(RetryAfter::parse("949302838503028349304023988").is_err());
        assert!(RetryAfter::parse("5;duration=x").is_err());
    }

    #[test]
    fn retry_after_with_comment_and_params() {
        let r = RetryAfter::parse("3600 (lunch (long)) ;duration=60;foo").unwrap();
        assert_eq!(r.comment(), Some("lunch (long)"));
        assert_eq!(r.duration(), Some(60));
        assert!(r.params().contains("foo"));
    }

    #[test]
    fn session_expires_refresher_must_be_uac_or_uas() {
        // RFC 4028 §4.
        let se = SessionExpires::parse("600;refresher=uas").unwrap();
        assert_eq!(se.refresher(), Some(Refresher::Uas));
        assert_eq!(SessionExpires::parse("1350").unwrap().refresher(), None);
        assert!(SessionExpires::parse("600;refresher=both").is_err());
        assert!(SessionExpires::parse("600 (comment)").is_err());
    }

    #[test]
    fn min_se_takes_generic_params() {
        let m = MinSe::parse("90;x=y").unwrap();
        assert_eq!(m.seconds(), 90);
        assert_eq!(m.params().get("x"), Some(Some("y")));
    }
}
