//! The typed-header contract and the comma-list splitter shared by the message and the parsers.

use crate::{HeaderError, HeaderName};

/// A header value parsed on access into a typed view that borrows the message.
///
/// `parse` receives one value exactly as the message holds it: for list headers
/// ([`HeaderName::is_list`]) one element of a comma-separated line, already split outside quotes
/// and `<>`; otherwise the whole field value. Leading and trailing whitespace is trimmed, but
/// folded lines (RFC 3261 §7.3.1: CRLF followed by SP or HTAB) may remain inside and count as
/// linear whitespace.
pub trait TypedHeader<'a>: Sized {
    /// The header this type parses; [`Message::typed`](crate::Message::typed) looks it up.
    const NAME: HeaderName;

    /// Parses one value.
    ///
    /// # Errors
    /// A [`HeaderError`] naming what did not match the grammar and where.
    fn parse(value: &'a str) -> Result<Self, HeaderError>;
}

/// Splits a list header's field value at top-level commas (RFC 3261 §7.3.1): not inside a
/// quoted string (honouring `\` quoted-pairs) and not inside `<...>`. Each piece is trimmed of
/// linear whitespace; empty pieces are yielded as empty so that a caller can reject `a,,b`.
pub fn split_list(value: &[u8]) -> SplitList<'_> {
    SplitList { rest: Some(value) }
}

/// Iterator returned by [`split_list`].
#[derive(Clone, Debug)]
pub struct SplitList<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> Iterator for SplitList<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let s = self.rest?;
        let mut quoted = false;
        let mut angle = false;
        let mut i = 0;
        while let Some(&c) = s.get(i) {
            match c {
                b'\\' if quoted => i += 1,
                b'"' if !angle => quoted = !quoted,
                b'<' if !quoted => angle = true,
                b'>' if !quoted => angle = false,
                b',' if !quoted && !angle => {
                    let (piece, tail) = (s.get(..i).unwrap_or(s), s.get(i + 1..).unwrap_or(&[]));
                    self.rest = Some(tail);
                    return Some(trim_lws(piece));
                }
                _ => {}
            }
            i += 1;
        }
        self.rest = None;
        Some(trim_lws(s))
    }
}

/// Trims linear whitespace (SP, HTAB, CR, LF of folded lines) from both ends.
#[must_use]
pub fn trim_lws(mut s: &[u8]) -> &[u8] {
    while let [c, rest @ ..] = s {
        if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., c] = s {
        if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
            s = rest;
        } else {
            break;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<&str> {
        split_list(s.as_bytes()).map(|p| std::str::from_utf8(p).unwrap()).collect()
    }

    #[test]
    fn splits_only_outside_quotes_and_angle_brackets() {
        assert_eq!(
            split(r#""a, b" <sip:x@y;p=1,2>;q=1 , <sip:z> ,w"#),
            [r#""a, b" <sip:x@y;p=1,2>;q=1"#, "<sip:z>", "w"]
        );
        assert_eq!(split(r#""esc \" , still" <sip:a>, b"#), [r#""esc \" , still" <sip:a>"#, "b"]);
        assert_eq!(split("a,,b"), ["a", "", "b"]);
        assert_eq!(split("single"), ["single"]);
        assert_eq!(split("a,\r\n b"), ["a", "b"]);
    }
}
