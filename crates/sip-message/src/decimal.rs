//! Decimal rendering of integers without `fmt` and without allocating.

/// The decimal digits of an unsigned integer, held on the stack: what a `Content-Length`, a
/// `CSeq` number, a status code or a port is written with on a hot path, where `format!` or
/// `write!` would go through the formatting machinery (and, into a `String`, allocate).
///
/// ```
/// use sip_message::Decimal;
/// assert_eq!(Decimal::new(0).as_str(), "0");
/// assert_eq!(Decimal::new(314159).as_bytes(), b"314159");
/// assert_eq!(Decimal::new(u64::MAX).as_str(), "18446744073709551615");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Decimal {
    buf: [u8; 20],
    start: u8,
}

impl Decimal {
    /// The digits of `n`, without leading zeros.
    ///
    /// Written from the end, two digits at a time from a table of the pairs `00` to `99` (one
    /// division by 100 per pair instead of one by 10 per digit), the first one or two digits
    /// last.
    #[must_use]
    #[inline]
    pub fn new(mut n: u64) -> Decimal {
        let mut buf = [b'0'; 20];
        let mut i = buf.len();
        // A u64 has at most 20 digits: the loop writes at most 9 pairs (n >= 100 before each),
        // leaving room for the last two digits.
        while n >= 100 && i >= 4 {
            let pair = (n % 100) as usize * 2;
            n /= 100;
            i -= 2;
            if let (Some(to), Some(from)) = (buf.get_mut(i..i + 2), PAIRS.get(pair..pair + 2)) {
                to.copy_from_slice(from);
            }
        }
        if n >= 10 {
            let pair = n as usize * 2;
            i -= 2;
            if let (Some(to), Some(from)) = (buf.get_mut(i..i + 2), PAIRS.get(pair..pair + 2)) {
                to.copy_from_slice(from);
            }
        } else {
            i -= 1;
            if let Some(slot) = buf.get_mut(i) {
                *slot = b'0' + n as u8;
            }
        }
        Decimal { buf, start: i as u8 }
    }

    /// The digits as bytes.
    #[must_use]
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(usize::from(self.start)..).unwrap_or_default()
    }

    /// The digits as text.
    #[must_use]
    #[inline]
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("0")
    }
}

/// The two digits of each number from 0 to 99, in order: `00`, `01`, ... `99`.
const PAIRS: &[u8; 200] = b"\
    000102030405060708091011121314151617181920212223242526272829\
    303132333435363738394041424344454647484950515253545556575859\
    606162636465666768697071727374757677787980818283848586878889\
    90919293949596979899";

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::Decimal;

    proptest! {
        #[test]
        fn digits_of_any_number_are_what_display_writes(n in any::<u64>(), shift in 0u32..64) {
            let (a, b) = (Decimal::new(n), Decimal::new(n >> shift));
            prop_assert_eq!(a.as_str(), n.to_string());
            prop_assert_eq!(b.as_str(), (n >> shift).to_string());
        }
    }

    #[test]
    fn digits_are_what_display_writes() {
        for n in [0, 1, 9, 10, 99, 100, 4_294_967_295, 4_294_967_296, u64::MAX]
            .into_iter()
            .chain((0..2000).map(|i| i * 7919))
        {
            assert_eq!(Decimal::new(n).as_str(), n.to_string());
        }
    }
}
