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
    #[must_use]
    #[inline]
    pub fn new(mut n: u64) -> Decimal {
        let mut buf = [b'0'; 20];
        let mut i = buf.len();
        loop {
            i -= 1;
            if let Some(slot) = buf.get_mut(i) {
                *slot = b'0' + (n % 10) as u8;
            }
            n /= 10;
            if n == 0 || i == 0 {
                break;
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

#[cfg(test)]
mod tests {
    use super::Decimal;

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
