//! Matching keys (RFC 3261 §17.1.3, §17.2.3, §8.2.2.2), branches, and the requests the
//! transaction layer builds itself (ACK for a non-2xx, §17.1.1.3; CANCEL, §9.1).

use bytes::Bytes;
use rand::Rng;
use sip_message::{BuildError, HeaderName, Host, Message, MessageBuilder, Method, Via};

/// The magic cookie that opens every RFC 3261 branch (§8.1.1.7).
pub const BRANCH_COOKIE: &str = "z9hG4bK";

/// Random characters after the cookie in a generated branch.
const BRANCH_RANDOM_LEN: usize = 16;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// What a UAS core needs to detect a merged request (RFC 3261 §8.2.2.2): From tag, Call-ID and
/// CSeq. Two requests without a To tag that share it but match different transactions arrived
/// over different paths; the UAS answers the later one 482 (Loop Detected).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MergeKey {
    from_tag: Box<str>,
    call_id: Box<str>,
    cseq: u32,
    method: Method,
}

impl MergeKey {
    /// The key of a request; `None` for a response or a request without From tag, Call-ID or
    /// CSeq.
    #[must_use]
    pub fn of(request: &Message) -> Option<MergeKey> {
        if !request.is_request() {
            return None;
        }
        Some(MergeKey {
            from_tag: request.from_tag()?.into(),
            call_id: request.call_id()?.into(),
            cseq: request.cseq_number()?,
            method: request.cseq_method()?.clone(),
        })
    }

    /// The From tag.
    #[must_use]
    pub fn from_tag(&self) -> &str {
        &self.from_tag
    }

    /// The Call-ID.
    #[must_use]
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// The CSeq number.
    #[must_use]
    pub fn cseq(&self) -> u32 {
        self.cseq
    }

    /// The CSeq method.
    #[must_use]
    pub fn method(&self) -> &Method {
        &self.method
    }
}

/// Whether a branch carries the RFC 3261 magic cookie (§17.2.3).
pub(crate) fn has_cookie(branch: &str) -> bool {
    branch.starts_with(BRANCH_COOKIE)
}

/// A fresh branch: the cookie plus random alphanumerics from the seeded generator.
pub(crate) fn new_branch(rng: &mut impl Rng) -> String {
    let mut branch = String::with_capacity(BRANCH_COOKIE.len() + BRANCH_RANDOM_LEN);
    branch.push_str(BRANCH_COOKIE);
    for _ in 0..BRANCH_RANDOM_LEN {
        let i = rng.random_range(0..ALPHABET.len());
        branch.push(char::from(ALPHABET.get(i).copied().unwrap_or(b'0')));
    }
    branch
}

/// The top Via sent-by of `message`, canonical for comparison (§17.2.3 rule 2): the typed
/// [`Via`] view's host (domain in lower case, IP addresses in their standard form) and port as
/// given. A Via the typed parser refuses falls back to [`sent_by`] on the raw value, so matching
/// stays as lenient as the message parser.
pub(crate) fn top_sent_by(message: &Message) -> Option<Box<str>> {
    match message.typed::<Via<'_>>() {
        Some(Ok(via)) => {
            let host = match via.host() {
                Host::Domain(d) => d.to_ascii_lowercase(),
                Host::Ipv4(a) => a.to_string(),
                Host::Ipv6(a) => format!("[{a}]"),
            };
            Some(match via.port() {
                Some(port) => format!("{host}:{port}").into_boxed_str(),
                None => host.into_boxed_str(),
            })
        }
        Some(Err(_)) => sent_by(message.top_via()?),
        None => None,
    }
}

/// The sent-by of a raw Via value (RFC 3261 §20.42:
/// `via-parm = sent-protocol LWS sent-by *( SEMI via-params )`), without whitespace and in
/// lower case so that comparisons ignore the case of the host.
pub(crate) fn sent_by(via: &[u8]) -> Option<Box<str>> {
    let head = via.split(|&c| c == b';').next()?;
    // sent-protocol is `name SLASH version SLASH transport`; the sent-by follows the last slash's
    // transport token and LWS. IPv6 references (`[::1]:5060`) hold no slash.
    let last_slash = head.iter().rposition(|&c| c == b'/')?;
    let after = head.get(last_slash + 1..)?;
    let start = after.iter().position(|c| !c.is_ascii_whitespace())?;
    let after = after.get(start..)?;
    // Skip the transport token; what follows, without LWS, is the sent-by.
    let token_end = after.iter().position(u8::is_ascii_whitespace)?;
    let sent: String = after
        .get(token_end..)?
        .iter()
        .filter(|c| !c.is_ascii_whitespace())
        .map(|&c| char::from(c.to_ascii_lowercase()))
        .collect();
    if sent.is_empty() { None } else { Some(sent.into_boxed_str()) }
}

/// What RFC 2543 matching compares (§17.2.3, for branches without the cookie): Request-URI, To
/// tag, From tag, Call-ID, CSeq and the top Via, byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LegacyKey {
    pub(crate) request_uri: Box<str>,
    pub(crate) to_tag: Option<Box<str>>,
    pub(crate) from_tag: Option<Box<str>>,
    pub(crate) call_id: Box<str>,
    pub(crate) cseq: u32,
    pub(crate) method: Method,
    pub(crate) top_via: Bytes,
}

/// The part of a [`LegacyKey`] the table hashes on.
pub(crate) type LegacyHash = (Box<str>, u32);

impl LegacyKey {
    pub(crate) fn of(request: &Message) -> Option<LegacyKey> {
        Some(LegacyKey {
            request_uri: request.request_uri_str()?.into(),
            to_tag: request.to_tag().map(Into::into),
            from_tag: request.from_tag().map(Into::into),
            call_id: request.call_id()?.into(),
            cseq: request.cseq_number()?,
            method: request.cseq_method()?.clone(),
            top_via: request.header_bytes(HeaderName::Via)?,
        })
    }

    pub(crate) fn hash_key(&self) -> LegacyHash {
        (self.call_id.clone(), self.cseq)
    }

    /// The fields every legacy match compares: Request-URI, From tag, Call-ID, CSeq number and
    /// top Via.
    fn common(&self, other: &LegacyKey) -> bool {
        self.request_uri == other.request_uri
            && self.from_tag == other.from_tag
            && self.call_id == other.call_id
            && self.cseq == other.cseq
            && self.top_via == other.top_via
    }

    /// §17.2.3: a request other than ACK matches when all fields, CSeq method and To tag
    /// included, are equal.
    pub(crate) fn matches_request(&self, other: &LegacyKey) -> bool {
        self.common(other) && self.method == other.method && self.to_tag == other.to_tag
    }

    /// §17.2.3: an ACK matches the INVITE when the common fields are equal and its To tag is the
    /// tag of the response the server transaction sent.
    pub(crate) fn matches_ack(&self, ack: &LegacyKey, response_to_tag: Option<&str>) -> bool {
        self.method == Method::Invite
            && self.common(ack)
            && ack.to_tag.as_deref() == response_to_tag.or(self.to_tag.as_deref())
    }

    /// §9.2 with §17.2.3: a CANCEL matches the INVITE it cancels as if its method were INVITE.
    pub(crate) fn matches_cancel(&self, cancel: &LegacyKey) -> bool {
        self.method == Method::Invite && self.common(cancel) && self.to_tag == cancel.to_tag
    }
}

/// The ACK for a non-2xx final response (RFC 3261 §17.1.1.3): Request-URI, Call-ID and From of
/// the original request, To of the response, a single Via equal to the original's top Via, the
/// original's Route headers, the original's CSeq number with method ACK.
pub(crate) fn build_ack(original: &Message, response: &Message) -> Result<Message, BuildError> {
    build_from_original(original, &Method::Ack, response.to_header())
}

/// The CANCEL for a client INVITE (RFC 3261 §9.1): as the ACK, but with the original's To.
pub(crate) fn build_cancel(original: &Message) -> Result<Message, BuildError> {
    build_from_original(original, &Method::Cancel, original.to_header())
}

fn build_from_original(
    original: &Message,
    method: &Method,
    to: Option<&[u8]>,
) -> Result<Message, BuildError> {
    let uri = original.request_uri_str().unwrap_or_default();
    let mut b = MessageBuilder::request(method, uri);
    if let Some(via) = original.top_via() {
        b = b.header(HeaderName::Via, via);
    }
    for route in original.header_lines(HeaderName::Route) {
        b = b.header(HeaderName::Route, route);
    }
    b = b.header(HeaderName::MaxForwards, "70");
    if let Some(to) = to {
        b = b.header(HeaderName::To, to);
    }
    if let Some(from) = original.from_header() {
        b = b.header(HeaderName::From, from);
    }
    if let Some(call_id) = original.header(HeaderName::CallId) {
        b = b.header(HeaderName::CallId, call_id);
    }
    let cseq = original.cseq_number().unwrap_or_default();
    b = b.header(HeaderName::CSeq, format!("{cseq} {method}"));
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sent_by_is_host_and_port_without_whitespace() {
        // RFC 3261 §20.42: via-parm = sent-protocol LWS sent-by *( SEMI via-params )
        assert_eq!(
            sent_by(b"SIP/2.0/UDP pc33.Atlanta.com;branch=z9hG4bK1").as_deref(),
            Some("pc33.atlanta.com")
        );
        assert_eq!(
            sent_by(b"SIP / 2.0 / TCP  10.0.0.1 : 5070 ;rport").as_deref(),
            Some("10.0.0.1:5070")
        );
        assert_eq!(
            sent_by(b"SIP/2.0/UDP [2001:db8::1]:5060").as_deref(),
            Some("[2001:db8::1]:5060")
        );
        assert_eq!(sent_by(b"SIP/2.0/UDP"), None);
        assert_eq!(sent_by(b"garbage"), None);
    }

    #[test]
    fn typed_sent_by_is_canonical() {
        let via = |v: &str| {
            let m = MessageBuilder::request(&Method::Options, "sip:a@b")
                .header(HeaderName::Via, v)
                .build()
                .unwrap();
            top_sent_by(&m)
        };
        assert_eq!(
            via("SIP/2.0/UDP Pc33.Atlanta.COM;branch=z9hG4bK1").as_deref(),
            Some("pc33.atlanta.com")
        );
        assert_eq!(via("SIP/2.0/TCP 10.0.0.1:5070").as_deref(), Some("10.0.0.1:5070"));
        assert_eq!(via("SIP/2.0/UDP [2001:DB8:0::1]:5060").as_deref(), Some("[2001:db8::1]:5060"));
    }
}
