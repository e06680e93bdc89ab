//! Byte classes of the RFC 3261 §25 grammar as 256-entry tables (as httparse does).

// Runs at compile time only: every index is below 256 by construction.
#[allow(clippy::indexing_slicing)]
const fn table(extra: &[u8], alnum: bool) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        if alnum && c.is_ascii_alphanumeric() {
            t[i] = true;
        }
        i += 1;
    }
    let mut j = 0;
    while j < extra.len() {
        t[extra[j] as usize] = true;
        j += 1;
    }
    t
}

/// `token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")`
pub(crate) static TOKEN: [bool; 256] = table(b"-.!%*_+`'~", true);

/// `word`: token characters plus `( ) < > : \ " / [ ] ? { }` (Call-ID, RFC 3261 §25.1).
pub(crate) static WORD: [bool; 256] = table(b"-.!%*_+`'~()<>:\\\"/[]?{}", true);

/// `user = 1*( unreserved / escaped / user-unreserved )`; `%` is checked separately.
pub(crate) static USER: [bool; 256] = table(b"-_.!~*'()&=+$,;?/", true);

/// `password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )`
pub(crate) static PASSWORD: [bool; 256] = table(b"-_.!~*'()&=+$,", true);

/// `paramchar = param-unreserved / unreserved / escaped` without `%`.
pub(crate) static PARAMCHAR: [bool; 256] = table(b"-_.!~*'()[]/:&+$", true);

/// `hname` / `hvalue` characters: `hnv-unreserved / unreserved / escaped` without `%`.
pub(crate) static HNVCHAR: [bool; 256] = table(b"-_.!~*'()[]/?:+$", true);

/// Characters allowed in the opaque part of an absolute URI (`uric` of RFC 2396) without `%`.
pub(crate) static URIC: [bool; 256] = table(b";/?:@&=+$,-_.!~*'()[]#", true);

/// Whether byte `c` is in the class `table`.
#[inline]
pub(crate) fn in_class(table: &[bool; 256], c: u8) -> bool {
    table.get(usize::from(c)).copied().unwrap_or(false)
}

/// The length of the run of bytes in `table` at the start of `s`. Eight bytes are looked up
/// per step (one branch for the eight) while the run lasts, then four, then the rest byte by
/// byte: the values scanned this way (branches, tags, Call-IDs, URIs) run to tens of bytes.
/// Always inlined: a call cost about as much as the scan of a tag, and the eager key parsers
/// run it on every message.
#[inline(always)]
pub(crate) fn run_len(table: &[bool; 256], s: &[u8]) -> usize {
    let mut rest = s;
    while let Some((chunk, tail)) = rest.split_first_chunk::<8>() {
        if !chunk.iter().fold(true, |all, &c| all & in_class(table, c)) {
            break;
        }
        rest = tail;
    }
    // A run to the end (a tag, a branch, a Call-ID host ending the value) is settled by the
    // last eight bytes of `s`, some of them already seen.
    if rest.len() < 8
        && s.last_chunk::<8>()
            .is_some_and(|c| c.iter().fold(true, |all, &c| all & in_class(table, c)))
    {
        return s.len();
    }
    if let Some((chunk, tail)) = rest.split_first_chunk::<4>()
        && chunk.iter().fold(true, |all, &c| all & in_class(table, c))
    {
        rest = tail;
    }
    let n = s.len() - rest.len();
    n + rest.iter().position(|&c| !in_class(table, c)).unwrap_or(rest.len())
}

#[inline]
pub(crate) fn is_token(c: u8) -> bool {
    in_class(&TOKEN, c)
}

/// Whether every byte of `s` is a token character and `s` is non-empty.
#[inline]
pub(crate) fn is_token_str(s: &[u8]) -> bool {
    !s.is_empty() && run_len(&TOKEN, s) == s.len()
}

/// `SP / HTAB`
#[inline]
pub(crate) fn is_ws(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn run_len_is_the_byte_by_byte_run(
            s in proptest::collection::vec(any::<u8>(), 0..40),
            class in 0_usize..4,
        ) {
            let table = [&TOKEN, &WORD, &USER, &PARAMCHAR][class];
            let expected = s.iter().position(|&c| !in_class(table, c)).unwrap_or(s.len());
            prop_assert_eq!(run_len(table, &s), expected);
        }

        #[test]
        fn run_len_on_runs_of_each_class(
            picks in proptest::collection::vec(any::<proptest::sample::Index>(), 0..40),
            tail in proptest::collection::vec(any::<u8>(), 0..12),
            class in 0_usize..4,
        ) {
            // Runs of class bytes of every length, each class, then any bytes: the eight- and
            // four-byte steps and the byte tail all end the run where the byte-by-byte scan does.
            let table = [&TOKEN, &WORD, &USER, &PARAMCHAR][class];
            let members: Vec<u8> = (0..=255u8).filter(|&c| in_class(table, c)).collect();
            let mut s: Vec<u8> = picks.iter().map(|i| *i.get(&members)).collect();
            s.extend_from_slice(&tail);
            let expected = s.iter().position(|&c| !in_class(table, c)).unwrap_or(s.len());
            prop_assert_eq!(run_len(table, &s), expected);
        }

        #[test]
        fn run_len_on_class_bytes_then_a_stop(n in 0_usize..40, stop in any::<u8>()) {
            // Long runs of class bytes (the vector above rarely makes them).
            let mut s = vec![b'a'; n];
            s.push(stop);
            let expected = if is_token(stop) { n + 1 } else { n };
            prop_assert_eq!(run_len(&TOKEN, &s), expected);
        }
    }

    #[test]
    fn token_excludes_separators() {
        for c in b"()<>@,;:\\\"/[]?={} \t" {
            assert!(!is_token(*c), "{}", *c as char);
        }
        for c in b"aZ09-.!%*_+`'~" {
            assert!(is_token(*c), "{}", *c as char);
        }
    }
}

/// Small RFC 3261 §25.1 character-class checks other crates need, from the same tables the
/// parser uses.
pub mod grammar {
    use super::{USER, in_class, is_token_str};

    /// Whether the byte `c` is a `token` character (RFC 3261 §25.1: letters, digits and
    /// `-.!%*_+`'~`), from the parser's own table.
    ///
    /// ```
    /// assert!(sip_message::grammar::is_token_byte(b'~'));
    /// assert!(!sip_message::grammar::is_token_byte(b';'));
    /// ```
    #[must_use]
    #[inline]
    pub fn is_token_byte(c: u8) -> bool {
        super::is_token(c)
    }

    /// Whether `s` is a non-empty `token` (tags, option tags, methods, parameter names).
    ///
    /// ```
    /// assert!(sip_message::grammar::is_token("a6c85cf"));
    /// assert!(!sip_message::grammar::is_token("a b"));
    /// ```
    #[must_use]
    pub fn is_token(s: &str) -> bool {
        is_token_str(s.as_bytes())
    }

    /// Whether `c` may stand unescaped in the user part of a SIP URI (`unreserved /
    /// user-unreserved`).
    #[must_use]
    pub fn is_user_char(c: u8) -> bool {
        in_class(&USER, c)
    }

    /// The value of one hexadecimal digit, either case.
    #[must_use]
    pub fn hex_value(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
}
