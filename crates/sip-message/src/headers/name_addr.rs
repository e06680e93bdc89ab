//! `name-addr / addr-spec` (RFC 3261 §20.10, §25.1): the address form shared by From, To,
//! Contact, Route, Record-Route, Reply-To and the extension headers built the same way.

use std::borrow::Cow;

use crate::uri::{SipWalk, walk_sip_uri};
use crate::{HeaderError, Uri};

use super::lex::{Cursor, decode, unquote};

/// A URI with an optional display name, as it appears in From, To, Contact, Route, ...
///
/// RFC 3261 §25.1:
///
/// ```text
/// name-addr      =  [ display-name ] LAQUOT addr-spec RAQUOT
/// addr-spec      =  SIP-URI / SIPS-URI / absoluteURI
/// display-name   =  *(token LWS)/ quoted-string
/// LAQUOT  =  SWS "<"        RAQUOT  =  ">" SWS
/// ```
///
/// No whitespace is allowed inside `<...>` (RFC 4475 §3.1.2.14). Without angle brackets (the
/// `addr-spec` form) the URI ends at the first `;` or whitespace, and what follows are header
/// parameters, not URI parameters (RFC 3261 §20.10, RFC 4475 §3.3.12); a URI containing `?`
/// or `,` must then be enclosed in `<>` (RFC 4475 §3.1.2.13). The URI is validated with
/// [`Uri::parse`].
///
/// ```
/// use sip_message::{From, TypedHeader};
/// let from = From::parse(r#""A. G. Bell" <sip:agb@bell-telephone.com>;tag=a48s"#)?;
/// let addr = from.name_addr();
/// assert_eq!(addr.display_name().as_deref(), Some("A. G. Bell"));
/// assert_eq!(addr.uri_str(), "sip:agb@bell-telephone.com");
/// assert!(addr.is_bracketed());
/// # Ok::<(), sip_message::HeaderError>(())
/// ```
#[derive(Clone)]
pub struct NameAddr<'a> {
    display: Option<&'a str>,
    /// The URI; its text ([`Uri::as_str`]) is the URI as written, which is what
    /// [`NameAddr::uri_str`] answers (not kept twice: every address parse moves this struct).
    uri: Uri<'a>,
    bracketed: bool,
}

impl std::fmt::Debug for NameAddr<'_> {
    /// As a derived `Debug` of the parts, the URI text included.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NameAddr")
            .field("display", &self.display)
            .field("uri", &self.uri)
            .field("uri_str", &self.uri_str())
            .field("bracketed", &self.bracketed)
            .finish()
    }
}

impl<'a> NameAddr<'a> {
    /// The display name, decoded: a quoted-string loses its quotes and quoted-pairs, a
    /// sequence of tokens is kept as written (folds removed). `None` when there is none;
    /// `Some("")` for `""`.
    #[must_use]
    pub fn display_name(&self) -> Option<Cow<'a, str>> {
        self.display.map(|d| if d.starts_with('"') { unquote(d) } else { decode(d, false) })
    }

    /// The display name as it appears on the wire (quotes included for a quoted-string).
    #[must_use]
    pub fn display_name_raw(&self) -> Option<&'a str> {
        self.display
    }

    /// The URI.
    #[must_use]
    pub fn uri(&self) -> Uri<'a> {
        self.uri
    }

    /// The URI as it appears on the wire, without the angle brackets.
    #[must_use]
    pub fn uri_str(&self) -> &'a str {
        self.uri.as_str()
    }

    /// Whether the URI was enclosed in `<>` (the `name-addr` form).
    #[must_use]
    pub fn is_bracketed(&self) -> bool {
        self.bracketed
    }
}

/// Which address forms a header admits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    /// `name-addr` only (Route, Record-Route, Path, Service-Route).
    NameAddr,
    /// `name-addr / addr-spec` (From, To, Contact, Reply-To, Refer-To, Referred-By).
    Either,
}

/// ASCII bytes but those in `stops`, as a table for [`Cursor::take_class`].
// Runs at compile time only: every index is below 256.
#[allow(clippy::indexing_slicing)]
const fn ascii_but(stops: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 128 {
        t[i] = true;
        i += 1;
    }
    let mut j = 0;
    while j < stops.len() {
        t[stops[j] as usize] = false;
        j += 1;
    }
    t
}

/// What a URI inside `<>` may hold here: ASCII up to `>` or whitespace (RFC 4475 §3.1.2.14;
/// a non-ASCII byte ends it too, and is then refused as no `>`).
pub(crate) static URI_IN_BRACKETS: [bool; 256] = ascii_but(b"> \t\r\n");

/// What the URI of an addr-spec may hold here: ASCII up to `;` or whitespace (RFC 3261
/// §20.10).
pub(crate) static URI_OF_ADDR_SPEC: [bool; 256] = ascii_but(b"; \t\r\n");

/// Parses `name-addr` or, if `form` allows, `addr-spec` at the cursor; stops after `>` or
/// after the URI of an addr-spec.
pub(crate) fn parse_name_addr<'a>(
    cur: &mut Cursor<'a>,
    form: Form,
) -> Result<NameAddr<'a>, HeaderError> {
    let parts = scan_name_addr(cur, form)?;
    let uri =
        Uri::parse(parts.uri).map_err(|e| cur.err_at(e.what(), parts.uri_start + e.offset()))?;
    debug_assert_eq!(uri.as_str(), parts.uri);
    Ok(NameAddr { display: parts.display, uri, bracketed: parts.bracketed })
}

/// Whether `name-addr` or, if `form` allows, `addr-spec` is at the cursor, as
/// [`parse_name_addr`] would find it (the URI checked by the same grammar, without being
/// built); the cursor stops where that parser stops.
pub(crate) fn check_name_addr(cur: &mut Cursor<'_>, form: Form) -> bool {
    // The common shape first, in one walk: `<` and a SIP URI whose grammar stops at a `>`.
    // [`scan_name_addr`] would take the same bytes as the URI (the walk reads none that ends
    // a URI in brackets, see `walk_sip_uri`), and `check_sip_uri` would accept them. Any other
    // outcome takes the general steps, which give the verdict.
    if cur.peek() == Some(b'<')
        && let SipWalk::Ends { end, .. } = walk_sip_uri(cur.src(), cur.pos() + 1)
        && cur.bytes().get(end) == Some(&b'>')
    {
        cur.reset(end + 1);
        return true;
    }
    scan_name_addr(cur, form).is_ok_and(|parts| crate::uri::is_valid_uri(parts.uri))
}

/// What [`scan_name_addr`] found: everything of a [`NameAddr`] but the parsed URI.
struct Parts<'a> {
    display: Option<&'a str>,
    /// The URI text, without `<>`.
    uri: &'a str,
    /// Where the URI text starts in the value (for the offset of a URI error).
    uri_start: usize,
    bracketed: bool,
}

/// The lexical part of [`parse_name_addr`]: display name, brackets and the extent of the URI,
/// whose grammar is left to the caller. Stops after `>` or after the URI of an addr-spec.
#[inline]
fn scan_name_addr<'a>(cur: &mut Cursor<'a>, form: Form) -> Result<Parts<'a>, HeaderError> {
    cur.skip_sws();
    let start = cur.pos();
    let display = match cur.peek() {
        Some(b'"') => {
            let quoted = cur.quoted_string()?;
            cur.skip_sws();
            if cur.peek() != Some(b'<') {
                return Err(cur.err("expected '<' after display name"));
            }
            Some(quoted)
        }
        Some(b'<') => None,
        _ => {
            // *(token LWS) then "<"; RFC 4475 §3.1.1.6 lets the last token touch the "<".
            let mut end = start;
            while cur.token().is_some() {
                end = cur.pos();
                if !cur.skip_sws() {
                    break;
                }
            }
            if end > start && cur.peek() == Some(b'<') {
                Some(cur.slice(start, end))
            } else {
                cur.reset(start);
                return match form {
                    Form::Either => addr_spec(cur),
                    Form::NameAddr => Err(cur.err("expected '<'")),
                };
            }
        }
    };
    cur.eat(b'<');
    let uri_start = cur.pos();
    let uri = cur.take_long_class(&URI_IN_BRACKETS);
    match cur.peek() {
        Some(b'>') => {}
        Some(b' ' | b'\t' | b'\r' | b'\n') => return Err(cur.err("whitespace inside <>")),
        _ => return Err(cur.err("expected '>'")),
    }
    cur.eat(b'>');
    Ok(Parts { display, uri, uri_start, bracketed: true })
}

/// `addr-spec` outside `<>`: the URI runs to the first `;` or whitespace.
fn addr_spec<'a>(cur: &mut Cursor<'a>) -> Result<Parts<'a>, HeaderError> {
    let start = cur.pos();
    let uri = cur.take_class(&URI_OF_ADDR_SPEC);
    if let Some(i) = uri.find(['?', ',']) {
        let what = match uri.get(..i) {
            Some(before) if before.contains(':') => "'?' or ',' in a URI outside <>",
            _ => "display name with separators must be quoted",
        };
        return Err(cur.err_at(what, start + i));
    }
    Ok(Parts { display: None, uri, uri_start: start, bracketed: false })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HeaderName;

    fn parse(s: &str, form: Form) -> Result<(NameAddr<'_>, &str), HeaderError> {
        let mut cur = Cursor::new(s, HeaderName::Other);
        let addr = parse_name_addr(&mut cur, form)?;
        Ok((addr, cur.rest()))
    }

    fn either(s: &str) -> Result<(NameAddr<'_>, &str), HeaderError> {
        parse(s, Form::Either)
    }

    #[test]
    fn uri_str_is_the_uri_text_and_debug_shows_it_as_before() {
        for (value, uri) in [
            ("\"A\" <sip:a@b;lr>;tag=1", "sip:a@b;lr"),
            ("tel:+1-201-555-0123;tag=x", "tel:+1-201-555-0123"),
            ("<http://www.example.com>", "http://www.example.com"),
        ] {
            let (addr, _) = either(value).unwrap();
            assert_eq!(addr.uri_str(), uri);
            assert_eq!(addr.uri().as_str(), uri);
        }
        let (addr, _) = either("<tel:+1>").unwrap();
        assert_eq!(
            format!("{addr:?}"),
            "NameAddr { display: None, uri: Tel(TelUri { raw: \"tel:+1\", scheme: \"tel\", \
             number: \"+1\", params: \"\" }), uri_str: \"tel:+1\", bracketed: true }"
        );
    }

    #[test]
    fn uri_tables_are_the_old_stop_sets() {
        for c in 0..=255u8 {
            let in_brackets = c.is_ascii() && !matches!(c, b'>' | b' ' | b'\t' | b'\r' | b'\n');
            let addr_spec = c.is_ascii() && !matches!(c, b';' | b' ' | b'\t' | b'\r' | b'\n');
            assert_eq!(URI_IN_BRACKETS[usize::from(c)], in_brackets, "{c}");
            assert_eq!(URI_OF_ADDR_SPEC[usize::from(c)], addr_spec, "{c}");
        }
    }

    #[test]
    fn quoted_display_name_is_decoded() {
        // RFC 4475 §3.1.1.1 wsinv: "J Rosenberg \\\"" is J Rosenberg \"
        let (a, rest) =
            either(r#""J Rosenberg \\\""       <sip:jdrosen@example.com>;tag=1"#).unwrap();
        assert_eq!(a.display_name().as_deref(), Some(r#"J Rosenberg \""#));
        assert_eq!(a.display_name_raw(), Some(r#""J Rosenberg \\\"""#));
        assert_eq!(a.uri_str(), "sip:jdrosen@example.com");
        assert_eq!(rest, ";tag=1");
    }

    #[test]
    fn quoted_display_name_with_escaped_quotes_and_controls() {
        // RFC 4475 §3.1.1.2 intmeth and §3.1.1.1 wsinv ("Quoted string \"\"").
        let (a, _) = either("\"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7F\" <sip:a@example.com>").unwrap();
        assert_eq!(a.display_name().as_deref(), Some("BEL:\x07 NUL:\x00 DEL:\x7F"));
        let (a, _) = either(r#""Quoted string \"\"" <sip:jdrosen@example.com>"#).unwrap();
        assert_eq!(a.display_name().as_deref(), Some(r#"Quoted string """#));
    }

    #[test]
    fn token_display_names_may_touch_the_angle_bracket() {
        // RFC 4475 §3.1.1.6 lwsdisp: caller<sip:caller@example.com>
        let (a, _) = either("caller<sip:caller@example.com>").unwrap();
        assert_eq!(a.display_name().as_deref(), Some("caller"));
        let (a, _) = either("\"caller\"<sip:caller@example.com>").unwrap();
        assert_eq!(a.display_name().as_deref(), Some("caller"));
    }

    #[test]
    fn token_display_name_keeps_its_words() {
        // RFC 4475 §3.1.1.2 intmeth.
        let (a, _) = either("token1~` token2'+_ token3*%!.- <sip:mundane@example.com>").unwrap();
        assert_eq!(a.display_name().as_deref(), Some("token1~` token2'+_ token3*%!.-"));
    }

    #[test]
    fn non_token_display_names_are_rejected() {
        // RFC 4475 §3.1.2.15 baddn: "Bell, Alexander" must be quoted.
        assert!(either("Bell, Alexander <sip:a.g.bell@bell-tel.com>;tag=43").is_err());
        assert!(either("J. User (work) <sip:a@example.com>").is_err());
    }

    #[test]
    fn whitespace_inside_angle_brackets_is_rejected() {
        // RFC 4475 §3.1.2.14 badaspec.
        assert!(either(r#""Watson, Thomas" < sip:t.watson@example.org >"#).is_err());
        assert!(either("<sip:t.watson@example.org >").is_err());
        assert!(either("<sip:a@example.\r\n org>").is_err());
    }

    #[test]
    fn unterminated_quote_or_bracket_is_rejected() {
        // RFC 4475 §3.1.2.6 quotbal.
        assert!(either(r#""Mr. J. User <sip:j.user@example.com>"#).is_err());
        assert!(either("<sip:j.user@example.com").is_err());
        assert!(either("<>").is_err());
    }

    #[test]
    fn addr_spec_ends_at_the_first_semicolon() {
        // RFC 4475 §3.3.12 cparam01: ;unknownparam is a header parameter.
        let (a, rest) = either("sip:+19725552222@gw1.example.net;unknownparam").unwrap();
        assert_eq!(a.uri_str(), "sip:+19725552222@gw1.example.net");
        assert!(!a.is_bracketed());
        assert_eq!(a.display_name(), None);
        assert_eq!(rest, ";unknownparam");
    }

    #[test]
    fn bracketed_uri_keeps_its_parameters() {
        // RFC 4475 §3.3.13 cparam02.
        let (a, rest) = either("<sip:+19725552222@gw1.example.net;unknownparam>").unwrap();
        assert_eq!(a.uri_str(), "sip:+19725552222@gw1.example.net;unknownparam");
        assert_eq!(rest, "");
    }

    #[test]
    fn addr_spec_with_headers_or_comma_is_rejected() {
        // RFC 4475 §3.1.2.13 regbadct.
        assert!(either("sip:user@example.com?Route=%3Csip:sip.example.com%3E").is_err());
        assert!(either("sip:a@example.com,sip:b@example.com").is_err());
        // RFC 4475 §3.3.14 regescrt: the same URI inside <> is fine.
        assert!(either("<sip:user@example.com?Route=%3Csip:sip.example.com%3E>").is_ok());
    }

    #[test]
    fn name_addr_form_requires_brackets() {
        assert!(parse("sip:p1.example.com;lr", Form::NameAddr).is_err());
        assert!(parse("<sip:p1.example.com;lr>", Form::NameAddr).is_ok());
    }

    #[test]
    fn non_sip_schemes_are_addresses_too() {
        // RFC 4475 §3.3.4 unksm2.
        let (a, _) = either("isbn:2983792873").unwrap();
        assert_eq!(a.uri().scheme(), "isbn");
        let (a, _) = either("<http://www.example.com>").unwrap();
        assert_eq!(a.uri_str(), "http://www.example.com");
    }
}
