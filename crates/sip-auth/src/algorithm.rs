//! Digest algorithms (RFC 7616 §3.2, §6.1; RFC 8760 §2) and quality of protection (RFC 7616
//! §3.3), plus the unkeyed digest `H` and keyed digest `KD` they define.

use std::fmt;
use std::str::FromStr;

use md5::{Digest, Md5};
use sha2::{Sha256, Sha512_256};
use sip_message::grammar::hex_value;
use subtle::ConstantTimeEq;

/// The hash function underneath a digest [`Algorithm`]: what `H(data)` computes.
///
/// A stored `H(A1)` ([`Ha1`](crate::Ha1)) belongs to one hash function; the plain and `-sess`
/// variants of an algorithm share it (RFC 7616 §3.4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashAlgorithm {
    /// MD5 (RFC 1321): 32 hex digits. Kept for RFC 2617 peers; NOT RECOMMENDED by RFC 7616.
    Md5,
    /// SHA-256 (FIPS 180-4): 64 hex digits. Mandatory to implement (RFC 7616 §3.7).
    Sha256,
    /// SHA-512/256 (FIPS 180-4): 64 hex digits (RFC 7616 §3.2).
    Sha512_256,
}

/// A digest algorithm as named in the `algorithm` parameter (RFC 7616 §3.3, §6.1), each hash in
/// its plain and its session (`-sess`) variant.
///
/// ```
/// use sip_auth::{Algorithm, HashAlgorithm};
/// let a: Algorithm = "sha-256-SESS".parse().unwrap(); // tokens compare case-insensitively
/// assert_eq!(a, Algorithm::Sha256Sess);
/// assert_eq!(a.as_str(), "SHA-256-sess");
/// assert_eq!(a.hash(), HashAlgorithm::Sha256);
/// assert!(a.is_session());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5`, the default when a challenge names no algorithm (RFC 7616 §3.3).
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256`.
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
    /// `SHA-512-256`.
    Sha512_256,
    /// `SHA-512-256-sess`.
    Sha512_256Sess,
}

/// A quality of protection (RFC 7616 §3.3 `qop`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Qop {
    /// `auth`: authentication only; `A2 = Method ":" uri`.
    Auth,
    /// `auth-int`: authentication with integrity of the body; `A2 = Method ":" uri ":"
    /// H(entity-body)`.
    AuthInt,
}

/// An `algorithm` or `qop` token this crate does not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownToken {
    token: String,
}

impl HashAlgorithm {
    /// Every hash function, strongest first.
    pub const ALL: [HashAlgorithm; 3] =
        [HashAlgorithm::Sha512_256, HashAlgorithm::Sha256, HashAlgorithm::Md5];

    /// Length of a digest in hex digits (RFC 7616 §3.2): 32 for MD5, 64 for the SHA-2 ones.
    #[must_use]
    pub const fn hex_len(self) -> usize {
        match self {
            HashAlgorithm::Md5 => 32,
            HashAlgorithm::Sha256 | HashAlgorithm::Sha512_256 => 64,
        }
    }

    /// A rank for choosing among challenges: SHA-512-256 > SHA-256 > MD5. RFC 7616 §3.7 lets
    /// local policy override the server's order; this is the policy
    /// [`AlgorithmSelection::Strongest`](crate::AlgorithmSelection::Strongest) applies
    /// (SHA-512/256 has the larger internal state and resists length extension).
    #[must_use]
    pub const fn strength(self) -> u8 {
        match self {
            HashAlgorithm::Md5 => 0,
            HashAlgorithm::Sha256 => 1,
            HashAlgorithm::Sha512_256 => 2,
        }
    }

    /// `H(data)` in lower-case hex, `data` being the concatenation of `parts`.
    ///
    /// ```
    /// use sip_auth::HashAlgorithm;
    /// // RFC 3261 §22.4 item 7: H of an empty body is MD5("").
    /// assert_eq!(HashAlgorithm::Md5.hex(&[b""]), "d41d8cd98f00b204e9800998ecf8427e");
    /// assert_eq!(HashAlgorithm::Md5.hex(&[b"a", b"bc"]), HashAlgorithm::Md5.hex(&[b"abc"]));
    /// ```
    #[must_use]
    pub fn hex(self, parts: &[&[u8]]) -> String {
        match self {
            HashAlgorithm::Md5 => digest_hex::<Md5>(parts),
            HashAlgorithm::Sha256 => digest_hex::<Sha256>(parts),
            HashAlgorithm::Sha512_256 => digest_hex::<Sha512_256>(parts),
        }
    }
}

impl Algorithm {
    /// Every algorithm, strongest hash first, plain before `-sess`.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::Sha512_256,
        Algorithm::Sha512_256Sess,
        Algorithm::Sha256,
        Algorithm::Sha256Sess,
        Algorithm::Md5,
        Algorithm::Md5Sess,
    ];

    /// The algorithm named by `token`, compared case-insensitively; `None` if unknown.
    #[must_use]
    pub fn parse(token: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.as_str().eq_ignore_ascii_case(token))
    }

    /// The token as RFC 7616 §6.1 registers it (`SHA-256`, `MD5-sess`, ...).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
            Algorithm::Sha512_256 => "SHA-512-256",
            Algorithm::Sha512_256Sess => "SHA-512-256-sess",
        }
    }

    /// The hash function `H` of this algorithm.
    #[must_use]
    pub const fn hash(self) -> HashAlgorithm {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => HashAlgorithm::Md5,
            Algorithm::Sha256 | Algorithm::Sha256Sess => HashAlgorithm::Sha256,
            Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => HashAlgorithm::Sha512_256,
        }
    }

    /// Whether this is a session variant, whose `A1` folds in the nonce and cnonce (RFC 7616
    /// §3.4.2); such a variant needs `qop` (RFC 3261 §22.4 item 8).
    #[must_use]
    pub const fn is_session(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess | Algorithm::Sha512_256Sess)
    }
}

impl Qop {
    /// The qop named by `token`, compared case-insensitively; `None` if unknown.
    #[must_use]
    pub fn parse(token: &str) -> Option<Qop> {
        if token.eq_ignore_ascii_case("auth") {
            Some(Qop::Auth)
        } else if token.eq_ignore_ascii_case("auth-int") {
            Some(Qop::AuthInt)
        } else {
            None
        }
    }

    /// The token: `auth` or `auth-int`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Qop::Auth => "auth",
            Qop::AuthInt => "auth-int",
        }
    }
}

impl UnknownToken {
    /// The token that was not recognised.
    #[must_use]
    pub fn token(&self) -> &str {
        &self.token
    }
}

impl FromStr for Algorithm {
    type Err = UnknownToken;

    fn from_str(s: &str) -> Result<Algorithm, UnknownToken> {
        Algorithm::parse(s).ok_or_else(|| UnknownToken { token: s.to_owned() })
    }
}

impl FromStr for Qop {
    type Err = UnknownToken;

    fn from_str(s: &str) -> Result<Qop, UnknownToken> {
        Qop::parse(s).ok_or_else(|| UnknownToken { token: s.to_owned() })
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Qop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HashAlgorithm::Md5 => "MD5",
            HashAlgorithm::Sha256 => "SHA-256",
            HashAlgorithm::Sha512_256 => "SHA-512-256",
        })
    }
}

impl fmt::Display for UnknownToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown digest token {:?}", self.token)
    }
}

impl std::error::Error for UnknownToken {}

/// Lower-case hex of `bytes` (RFC 7616 §3.2: four bits at a time, most significant first).
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    // `from_digit` yields lower case; a nibble is always below 16.
    let nibble = |n: u8| char::from_digit(u32::from(n), 16).unwrap_or('0');
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(nibble(b >> 4));
        out.push(nibble(b & 0x0f));
    }
    out
}

/// The bytes of an even-length hex string (either case); `None` if it is not one.
pub(crate) fn from_hex(s: &str) -> Option<Vec<u8>> {
    let digits = s.as_bytes();
    if digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks_exact(2)
        .map(|pair| match pair {
            [hi, lo] => Some(hex_value(*hi)? << 4 | hex_value(*lo)?),
            _ => None,
        })
        .collect()
}

/// The longest string [`ct_eq_ignore_ascii_case`] compares: a hex digest of 512 bits (the
/// longest hash RFC 7616 and RFC 8760 name is SHA-512/256, 64 hex digits), with room to spare.
const CT_EQ_MAX: usize = 128;

/// Compares two byte strings ignoring ASCII case (hex digests may arrive in upper case from
/// lenient peers), in time that does not depend on their contents: both sides are lower-cased
/// into fixed buffers and compared whole with [`subtle::ConstantTimeEq`], so that how long a
/// wrong `response` or `rspauth` takes to refuse tells nothing about how much of it was right.
/// Only the lengths, which are public (the algorithm fixes the expected one), decide the
/// early `false`; strings longer than [`CT_EQ_MAX`] are never equal to a digest and are
/// refused the same way.
pub(crate) fn ct_eq_ignore_ascii_case(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() || a.len() > CT_EQ_MAX {
        return false;
    }
    let mut left = [0_u8; CT_EQ_MAX];
    let mut right = [0_u8; CT_EQ_MAX];
    // `to_ascii_lowercase` is a mask and an or, no branch on the byte.
    for (dst, src) in left.iter_mut().zip(a) {
        *dst = src.to_ascii_lowercase();
    }
    for (dst, src) in right.iter_mut().zip(b) {
        *dst = src.to_ascii_lowercase();
    }
    // The whole buffers: the zero padding beyond the (equal) lengths is equal on both sides.
    bool::from(left[..].ct_eq(&right[..]))
}

fn digest_hex<D: Digest>(parts: &[&[u8]]) -> String {
    let mut hasher = D::new();
    for part in parts {
        hasher.update(part);
    }
    to_hex(&hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors_for_each_hash() {
        // FIPS 180-4 / RFC 1321 test vectors for "abc".
        assert_eq!(HashAlgorithm::Md5.hex(&[b"abc"]), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            HashAlgorithm::Sha256.hex(&[b"abc"]),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            HashAlgorithm::Sha512_256.hex(&[b"abc"]),
            "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"
        );
    }

    #[test]
    fn algorithm_tokens_round_trip_case_insensitively() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::parse(a.as_str()), Some(a));
            assert_eq!(Algorithm::parse(&a.as_str().to_ascii_lowercase()), Some(a));
            assert_eq!(a.as_str().parse::<Algorithm>(), Ok(a));
        }
        assert_eq!(Algorithm::parse("SHA-1"), None);
        assert_eq!("AKAv1-MD5".parse::<Algorithm>().unwrap_err().token(), "AKAv1-MD5");
    }

    #[test]
    fn qop_tokens() {
        assert_eq!(Qop::parse("AUTH"), Some(Qop::Auth));
        assert_eq!(Qop::parse("auth-int"), Some(Qop::AuthInt));
        assert_eq!(Qop::parse("auth-conf"), None);
    }

    #[test]
    fn hex_round_trip_and_rejects() {
        assert_eq!(to_hex(&[0x00, 0xab, 0xff]), "00abff");
        assert_eq!(from_hex("00ABff"), Some(vec![0x00, 0xab, 0xff]));
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
    }

    #[test]
    fn constant_time_compare_ignores_case_only() {
        assert!(ct_eq_ignore_ascii_case(b"abCD", b"ABcd"));
        assert!(!ct_eq_ignore_ascii_case(b"abcd", b"abce"));
        assert!(!ct_eq_ignore_ascii_case(b"abc", b"abcd"));
        assert!(ct_eq_ignore_ascii_case(b"", b""));
        // Only ASCII letters fold: other bytes that differ by the case bit stay different.
        assert!(!ct_eq_ignore_ascii_case(b"@", b"`"));
        assert!(!ct_eq_ignore_ascii_case(b"[", b"{"));
        // A full SHA-512/256 hex digest compares; anything longer than the buffers never does.
        let digest = "53048E2681941EF99B2E29B76B4C7DABE4C2D0C634FC6D46E0E2F13107E7AF23";
        assert!(ct_eq_ignore_ascii_case(digest.as_bytes(), digest.to_ascii_lowercase().as_bytes()));
        let long = [b'a'; CT_EQ_MAX + 1];
        assert!(!ct_eq_ignore_ascii_case(&long, &long));
        let longest = [b'A'; CT_EQ_MAX];
        assert!(ct_eq_ignore_ascii_case(&longest, &[b'a'; CT_EQ_MAX]));
    }
}
