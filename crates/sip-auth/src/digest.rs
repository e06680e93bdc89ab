//! The digest computation shared by client and server (RFC 7616 §3.4.1–§3.4.4, RFC 2617
//! §3.2.2, RFC 2069), the `H(A1)` value a credential store keeps, the request facts a digest
//! covers, and quoted-string output (RFC 3261 §25.1).

use std::fmt;

use sip_message::{HeaderName, Message};

use crate::algorithm::{Algorithm, HashAlgorithm, Qop, from_hex};

/// `H(A1)` for a plain (non-`-sess`) algorithm: `H(username ":" realm ":" password)` in hex
/// (RFC 7616 §3.4.2).
///
/// This is what a credential database should store instead of passwords (RFC 7616 §5.2): it is
/// enough to verify any response in its realm, for the plain algorithm and its `-sess` variant
/// alike, and it is useless in any other realm. `Debug` does not print the digest.
///
/// ```
/// use sip_auth::{Ha1, HashAlgorithm};
/// // RFC 2617 §3.5: H("Mufasa:testrealm@host.com:Circle Of Life").
/// let ha1 = Ha1::from_password(HashAlgorithm::Md5, "Mufasa", "testrealm@host.com", "Circle Of Life");
/// assert_eq!(ha1.as_hex(), "939e7578ed9e3c518a452acee763bce9");
/// let stored = Ha1::from_hex(HashAlgorithm::Md5, "939E7578ED9E3C518A452ACEE763BCE9")?;
/// assert_eq!(stored, ha1); // hex is normalised to lower case
/// # Ok::<(), sip_auth::Ha1Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Ha1 {
    hash: HashAlgorithm,
    hex: String,
}

/// Why a string is not an [`Ha1`] for the given hash: wrong length or not hex.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ha1Error {
    hash: HashAlgorithm,
    len: usize,
}

/// Who authenticates, which fixes the status code and the header names (RFC 3261 §22.1–§22.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthRole {
    /// A UAS, registrar or redirect server: challenges with 401 and `WWW-Authenticate`, reads
    /// `Authorization` (RFC 3261 §22.2).
    Uas,
    /// A proxy: challenges with 407 and `Proxy-Authenticate`, reads `Proxy-Authorization`
    /// (RFC 3261 §22.3).
    Proxy,
}

/// The parts of a request a digest covers: method, Request-URI (as the `uri` parameter
/// carries it) and body (for `qop=auth-int`).
///
/// ```
/// use bytes::Bytes;
/// use sip_auth::DigestRequest;
/// use sip_message::Message;
/// let msg = Message::parse(Bytes::from_static(
///     b"REGISTER sip:example.com SIP/2.0\r\nContent-Length: 0\r\n\r\n",
/// ))?;
/// let req = DigestRequest::from_message(&msg).unwrap();
/// assert_eq!((req.method, req.uri, req.body), ("REGISTER", "sip:example.com", &b""[..]));
/// # Ok::<(), sip_message::ParseError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DigestRequest<'a> {
    /// The method, as on the request line (`A2 = Method ":" ...`).
    pub method: &'a str,
    /// The Request-URI, as on the request line.
    pub uri: &'a str,
    /// The message body; `H(entity-body)` of `qop=auth-int` hashes it (RFC 3261 §22.4 item 7:
    /// an empty body hashes the empty string).
    pub body: &'a [u8],
}

impl Ha1 {
    /// Computes `H(username ":" realm ":" password)` (RFC 7616 §3.4.2).
    #[must_use]
    pub fn from_password(hash: HashAlgorithm, username: &str, realm: &str, password: &str) -> Ha1 {
        let hex =
            hash.hex(&[username.as_bytes(), b":", realm.as_bytes(), b":", password.as_bytes()]);
        Ha1 { hash, hex }
    }

    /// A stored `H(A1)` in hex, either case.
    ///
    /// # Errors
    /// [`Ha1Error`] when `hex` is not [`HashAlgorithm::hex_len`] hex digits.
    pub fn from_hex(hash: HashAlgorithm, hex: &str) -> Result<Ha1, Ha1Error> {
        if hex.len() != hash.hex_len() || from_hex(hex).is_none() {
            return Err(Ha1Error { hash, len: hex.len() });
        }
        Ok(Ha1 { hash, hex: hex.to_ascii_lowercase() })
    }

    /// The hash function this value was computed with.
    #[must_use]
    pub fn hash(&self) -> HashAlgorithm {
        self.hash
    }

    /// The digest in lower-case hex.
    #[must_use]
    pub fn as_hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Debug for Ha1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ha1").field("hash", &self.hash).finish_non_exhaustive()
    }
}

impl fmt::Display for Ha1Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "an {} H(A1) is {} hex digits; got {} characters that are not",
            self.hash,
            self.hash.hex_len(),
            self.len
        )
    }
}

impl std::error::Error for Ha1Error {}

impl AuthRole {
    /// The status of the challenge: 401 (Unauthorized) or 407 (Proxy Authentication Required).
    #[must_use]
    pub const fn status(self) -> u16 {
        match self {
            AuthRole::Uas => 401,
            AuthRole::Proxy => 407,
        }
    }

    /// The challenge header: `WWW-Authenticate` or `Proxy-Authenticate`.
    #[must_use]
    pub const fn challenge_header(self) -> HeaderName {
        match self {
            AuthRole::Uas => HeaderName::WwwAuthenticate,
            AuthRole::Proxy => HeaderName::ProxyAuthenticate,
        }
    }

    /// The credentials header: `Authorization` or `Proxy-Authorization`.
    #[must_use]
    pub const fn credentials_header(self) -> HeaderName {
        match self {
            AuthRole::Uas => HeaderName::Authorization,
            AuthRole::Proxy => HeaderName::ProxyAuthorization,
        }
    }
}

impl<'a> DigestRequest<'a> {
    /// The facts from a request with its body.
    #[must_use]
    pub const fn new(method: &'a str, uri: &'a str, body: &'a [u8]) -> DigestRequest<'a> {
        DigestRequest { method, uri, body }
    }

    /// The method, Request-URI and body of `msg`; `None` for a response.
    #[must_use]
    pub fn from_message(msg: &'a Message) -> Option<DigestRequest<'a>> {
        Some(DigestRequest {
            method: msg.method()?.as_str(),
            uri: msg.request_uri_str()?,
            body: msg.body(),
        })
    }
}

/// What a response digest is computed over, beyond `H(A1)`: everything RFC 7616 §3.4.1 and
/// §3.4.3 name.
pub(crate) struct DigestInput<'a> {
    pub(crate) algorithm: Algorithm,
    pub(crate) nonce: &'a str,
    /// `(nc, cnonce, qop)`; `None` for the RFC 2069 form.
    pub(crate) qop: Option<(u32, &'a str, Qop)>,
    /// The method; empty for `rspauth` (RFC 7616 §3.5: `A2 = ":" request-uri`).
    pub(crate) method: &'a str,
    pub(crate) uri: &'a str,
    pub(crate) body: &'a [u8],
}

/// The `H(A1)` a response uses: the stored one for a plain algorithm, or `H(H(A1-base) ":"
/// nonce ":" cnonce)` for a `-sess` variant (RFC 7616 §3.4.2; RFC 2617 §3.2.2.2). Without a
/// cnonce (RFC 2069) a `-sess` variant is not defined; callers refuse it before.
pub(crate) fn session_ha1(algorithm: Algorithm, base: &Ha1, nonce: &str, cnonce: &str) -> String {
    if algorithm.is_session() {
        algorithm.hash().hex(&[
            base.as_hex().as_bytes(),
            b":",
            nonce.as_bytes(),
            b":",
            cnonce.as_bytes(),
        ])
    } else {
        base.as_hex().to_owned()
    }
}

/// The `response` (or `rspauth`) value for `input`, given the session `H(A1)` in hex.
///
/// RFC 7616 §3.4.1: `KD(H(A1), nonce ":" nc ":" cnonce ":" qop ":" H(A2))`; the RFC 2069 form
/// (no qop, RFC 2617 §3.2.2.1) is `KD(H(A1), nonce ":" H(A2))`.
pub(crate) fn response(ha1_hex: &str, input: &DigestInput<'_>) -> String {
    let hash = input.algorithm.hash();
    let qop = input.qop.map(|(_, _, q)| q);
    let ha2 = match qop {
        Some(Qop::AuthInt) => {
            let body = hash.hex(&[input.body]);
            hash.hex(&[input.method.as_bytes(), b":", input.uri.as_bytes(), b":", body.as_bytes()])
        }
        Some(Qop::Auth) | None => hash.hex(&[input.method.as_bytes(), b":", input.uri.as_bytes()]),
    };
    match input.qop {
        Some((nc, cnonce, qop)) => {
            let nc = format_nc(nc);
            hash.hex(&[
                ha1_hex.as_bytes(),
                b":",
                input.nonce.as_bytes(),
                b":",
                nc.as_bytes(),
                b":",
                cnonce.as_bytes(),
                b":",
                qop.as_str().as_bytes(),
                b":",
                ha2.as_bytes(),
            ])
        }
        None => hash.hex(&[ha1_hex.as_bytes(), b":", input.nonce.as_bytes(), b":", ha2.as_bytes()]),
    }
}

/// `nc-value = 8LHEX` (RFC 7616 §3.5: exactly 8 hex digits).
pub(crate) fn format_nc(nc: u32) -> String {
    format!("{nc:08x}")
}

/// A value that cannot be written as a `quoted-string`: it holds CR or LF, which no escape can
/// carry (RFC 3261 §25.1: `quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Unquotable;

/// Appends `value` as a quoted-string: `"` and `\` and control characters other than tab are
/// escaped with a quoted-pair, UTF-8 passes as `UTF8-NONASCII` (RFC 3261 §25.1).
pub(crate) fn push_quoted(out: &mut String, value: &str) -> Result<(), Unquotable> {
    out.reserve(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\r' | '\n' => return Err(Unquotable),
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push(c),
            c if c.is_ascii_control() => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(())
}

/// Whether [`push_quoted`] accepts `value`.
pub(crate) fn is_quotable(value: &str) -> bool {
    !value.contains(['\r', '\n'])
}

/// Appends `, name="value"` (or `name="value"` at the start of the parameter list).
pub(crate) fn push_quoted_param(
    out: &mut String,
    first: &mut bool,
    name: &str,
    value: &str,
) -> Result<(), Unquotable> {
    push_separator(out, first);
    out.push_str(name);
    out.push('=');
    push_quoted(out, value)
}

/// Appends `, name=token` (or `name=token` at the start of the parameter list).
pub(crate) fn push_token_param(out: &mut String, first: &mut bool, name: &str, value: &str) {
    push_separator(out, first);
    out.push_str(name);
    out.push('=');
    out.push_str(value);
}

fn push_separator(out: &mut String, first: &mut bool) {
    if !*first {
        out.push_str(", ");
    }
    *first = false;
}

#[cfg(test)]
mod tests {
    use sip_message::unquote;

    use super::*;

    #[test]
    fn rfc2617_section_3_5_response() {
        // RFC 2617 §3.5, the canonical example.
        let ha1 = Ha1::from_password(
            HashAlgorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        let input = DigestInput {
            algorithm: Algorithm::Md5,
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            qop: Some((1, "0a4f113b", Qop::Auth)),
            method: "GET",
            uri: "/dir/index.html",
            body: b"",
        };
        assert_eq!(response(ha1.as_hex(), &input), "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn rfc2069_form_omits_nc_cnonce_qop() {
        // RFC 2069 §2.1.2: response = KD(H(A1), nonce ":" H(A2)).
        let ha1 = Ha1::from_password(HashAlgorithm::Md5, "u", "r", "p");
        let input = DigestInput {
            algorithm: Algorithm::Md5,
            nonce: "n",
            qop: None,
            method: "INVITE",
            uri: "sip:b@c",
            body: b"",
        };
        let ha2 = HashAlgorithm::Md5.hex(&[b"INVITE:sip:b@c"]);
        let expect = HashAlgorithm::Md5.hex(&[format!("{}:n:{ha2}", ha1.as_hex()).as_bytes()]);
        assert_eq!(response(ha1.as_hex(), &input), expect);
    }

    #[test]
    fn auth_int_hashes_the_body_and_sess_folds_in_the_nonces() {
        let base = Ha1::from_password(HashAlgorithm::Sha256, "u", "r", "p");
        let sess = session_ha1(Algorithm::Sha256Sess, &base, "n", "c");
        assert_eq!(sess, HashAlgorithm::Sha256.hex(&[format!("{}:n:c", base.as_hex()).as_bytes()]));
        assert_eq!(session_ha1(Algorithm::Sha256, &base, "n", "c"), base.as_hex());
        let mut input = DigestInput {
            algorithm: Algorithm::Sha256Sess,
            nonce: "n",
            qop: Some((2, "c", Qop::AuthInt)),
            method: "MESSAGE",
            uri: "sip:b@c",
            body: b"hello",
        };
        let a = response(&sess, &input);
        input.body = b"hellO";
        assert_ne!(a, response(&sess, &input));
    }

    #[test]
    fn ha1_from_hex_checks_length_and_digits() {
        assert!(Ha1::from_hex(HashAlgorithm::Md5, "00").is_err());
        assert!(Ha1::from_hex(HashAlgorithm::Sha256, &"0".repeat(32)).is_err());
        assert!(Ha1::from_hex(HashAlgorithm::Md5, &"g".repeat(32)).is_err());
        let e = Ha1::from_hex(HashAlgorithm::Md5, "xy").unwrap_err();
        assert!(e.to_string().contains("32 hex digits"));
        assert!(
            !format!("{:?}", Ha1::from_password(HashAlgorithm::Md5, "a", "b", "c"))
                .contains(Ha1::from_password(HashAlgorithm::Md5, "a", "b", "c").as_hex())
        );
    }

    #[test]
    fn quoting_escapes_and_round_trips() {
        let mut out = String::new();
        push_quoted(&mut out, "a \"b\" \\ c\u{1}é").unwrap();
        assert_eq!(out, "\"a \\\"b\\\" \\\\ c\\\u{1}é\"");
        assert_eq!(unquote(&out), "a \"b\" \\ c\u{1}é");
        assert_eq!(push_quoted(&mut String::new(), "a\r\nb"), Err(Unquotable));
        assert!(!is_quotable("x\n"));
    }

    #[test]
    fn nc_is_eight_lower_hex_digits() {
        assert_eq!(format_nc(1), "00000001");
        assert_eq!(format_nc(0xABCDEF12), "abcdef12");
    }
}
