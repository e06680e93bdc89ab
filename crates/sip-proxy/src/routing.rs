//! Pure helpers for the request path: branch and loop hashes (RFC 3261 §16.6 step 8, §16.11),
//! URI rewriting (§16.4, §16.6 step 2), Route processing (§16.4, §16.6 step 6) and the
//! `received`/`rport` parameters (§18.2.1, RFC 3581).

use std::borrow::Cow;
use std::fmt::Write as _;

use bytes::{BufMut, Bytes, BytesMut};
use sip_message::{
    HeaderError, HeaderName, Host, Message, Route, SipUri, TypedHeader, Uri, UriError, Via,
    split_list, trim_lws,
};
use sip_transaction::{BRANCH_COOKIE, Target};
use smallvec::SmallVec;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Sixteen lowercase hexadecimal digits: the 64 bits of a [`Fields`] digest (§16.6 step 8:
/// the branch's loop-detection part may be any hash of the fields, "MD5, expressed in
/// hexadecimal, is a reasonable choice").
pub(crate) type Hex16 = [u8; 16];

fn hex16(digest: u64) -> Hex16 {
    let high = hex8((digest >> 32) as u32);
    let low = hex8(digest as u32);
    let mut out = [0u8; 16];
    let (a, b) = out.split_at_mut(8);
    a.copy_from_slice(&high);
    b.copy_from_slice(&low);
    out
}

/// The eight lowercase hexadecimal digits of `v`, most significant first, worked out for all
/// eight at once: each nibble spread into a byte of its own, then `0`-`9` or `a`-`f` added.
fn hex8(v: u32) -> [u8; 8] {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_ffff_0000_ffff;
    x = (x | (x << 8)) & 0x00ff_00ff_00ff_00ff;
    x = (x | (x << 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    // 1 in every byte whose nibble is 10 or more (adding 6 carries into bit 4).
    let letters = ((x + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
    // `0` (0x30) to every byte, and `a` - `0` - 10 (0x27) more to the letters.
    (x + 0x3030_3030_3030_3030 + letters * 0x27).to_be_bytes()
}

pub(crate) fn hex_str(hex: &Hex16) -> &str {
    std::str::from_utf8(hex).unwrap_or("0000000000000000")
}

/// A 64-bit digest of a sequence of length-prefixed fields: XXH3 (a specified, stable
/// algorithm) over the fields gathered on the stack, so that it is the same on every platform
/// and with every version of the dependencies: the branches a proxy writes stay comparable
/// across its restarts and among the instances of a cluster.
///
/// It is not collision-resistant, and need not be: the loop part only has to differ between
/// requests the proxy would process differently (§16.6 step 8), and anyone able to forge a
/// colliding request can as well forge the Via it would be compared with. (MD5, used before,
/// cost ten times as much.)
pub(crate) struct Fields {
    /// Which use the digest is for (the XXH3 seed), keeping different uses apart.
    domain: u64,
    /// The fields so far, on the stack while they fit ([`FIELDS_INLINE`] bytes covers the
    /// fields of an ordinary request), else in `spill`.
    inline: [u8; FIELDS_INLINE],
    len: usize,
    spill: Vec<u8>,
}

/// How many bytes of fields [`Fields`] keeps on the stack.
const FIELDS_INLINE: usize = 512;

impl Fields {
    /// A digest for one purpose: `domain` keeps the digests of different uses apart.
    fn new(domain: u64) -> Fields {
        Fields { domain, inline: [0; FIELDS_INLINE], len: 0, spill: Vec::new() }
    }

    /// Fields kept to be [`reset`](Self::reset) for each digest: the inline buffer is zeroed
    /// once, not for every request (its bytes past `len` are never read).
    pub(crate) fn scratch() -> Fields {
        Fields::new(0)
    }

    /// Empty again, for a digest of `domain` (the bytes left in `inline` are overwritten
    /// before they are read; a `spill` keeps its capacity).
    fn reset(&mut self, domain: u64) -> &mut Fields {
        self.domain = domain;
        self.len = 0;
        self.spill.clear();
        self
    }

    /// Feeds one field, its length first, so that adjacent fields cannot run into each other.
    #[inline(always)]
    fn field(&mut self, bytes: &[u8]) {
        let length = (bytes.len() as u64).to_le_bytes();
        let end = self.len + length.len() + bytes.len();
        if self.spill.is_empty() {
            let room = self.inline.get_mut(self.len..end);
            if let Some((head, tail)) = room.and_then(|r| r.split_at_mut_checked(length.len())) {
                head.copy_from_slice(&length);
                tail.copy_from_slice(bytes);
                self.len = end;
                return;
            }
        }
        self.push(&length);
        self.push(bytes);
    }

    fn push(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        match self.inline.get_mut(self.len..end) {
            Some(room) if self.spill.is_empty() => {
                room.copy_from_slice(bytes);
                self.len = end;
            }
            _ => {
                if self.spill.is_empty() {
                    self.spill.extend_from_slice(self.inline.get(..self.len).unwrap_or_default());
                }
                self.spill.extend_from_slice(bytes);
            }
        }
    }

    /// The digest. Borrowed: moving the fields in would copy the whole inline buffer.
    fn finish(&self) -> Hex16 {
        let input = match self.spill.is_empty() {
            true => self.inline.get(..self.len).unwrap_or_default(),
            false => &self.spill,
        };
        hex16(xxh3_64_with_seed(input, self.domain))
    }
}

impl std::fmt::Debug for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fields").field("domain", &self.domain).field("len", &self.len).finish()
    }
}

/// Feeds one field (see [`Fields::field`]).
#[inline(always)]
fn field(h: &mut Fields, bytes: &[u8]) {
    h.field(bytes);
}

/// The [`Fields`] domains: the loop part, the unique part of a stateless branch, a local tag.
const LOOP: u64 = 1;
const STATELESS: u64 = 2;
const LOCAL_TAG: u64 = 3;

/// The loop-detection part of the branch (RFC 3261 §16.6 step 8): a hash of everything that
/// affects how the request is processed: To tag, From tag, Call-ID, the Request-URI as
/// received, the CSeq number, every Route value and, unless `for_stateless`, Proxy-Require and
/// Proxy-Authorization. Never the method, so CANCEL and ACK hash like their INVITE.
///
/// Deviation: §16.6 suggests the topmost Via, but the topmost Via is the previous hop's and
/// changes on every pass of a loop, so a loop through another element would never hash the
/// same. The bottom-most Via's sent-by and branch (the originating client's) are used
/// instead: invariant along the loop and different for every client transaction.
///
/// A stateless proxy must give a CANCEL and a non-2xx ACK the branch of their INVITE (§16.11).
/// A CANCEL does not repeat Proxy-Require or Proxy-Authorization (§9.1) and a non-2xx ACK adds
/// the response's To tag, so `for_stateless` leaves those three out.
pub(crate) fn loop_hash(request: &Message, for_stateless: bool) -> Hex16 {
    loop_hash_with(request, for_stateless, None)
}

/// A request's top Via value as §16.3 step 4 (the loop hash) and §18.2.1 (the `received`
/// stamp) read it: by [`plain_via`] when it has the form nearly every user agent writes,
/// else by the typed parser ([`Message::typed`]).
pub(crate) enum TopVia<'a> {
    Plain(PlainVia<'a>),
    Typed(Option<Result<Via<'a>, HeaderError>>),
}

impl<'a> TopVia<'a> {
    /// The top Via of `request`.
    pub(crate) fn of(request: &'a Message) -> TopVia<'a> {
        // A value the parser found of the plain shape is read knowing that shape (and where
        // its branch is): no second walk over its parameters.
        if let Some((value, branch)) = request.plain_top_via() {
            return match plain_via_judged(value, branch) {
                Some(plain) => TopVia::Plain(plain),
                None => TopVia::Typed(request.typed::<Via<'_>>()),
            };
        }
        // The first line rather than its first value: a line of several values holds a comma,
        // which no plain Via does, so both give the same plain Via or none.
        // Read as bytes: a plain Via is ASCII throughout, and what reads it takes bytes (no
        // UTF-8 check of the line).
        let line = request.header_lines(HeaderName::Via).next();
        match line.and_then(plain_via) {
            Some(plain) => TopVia::Plain(plain),
            None => TopVia::Typed(request.typed::<Via<'_>>()),
        }
    }

    /// Its sent-by and branch (empty when absent) if it parses, as the typed [`Via`] gives
    /// them.
    fn sent_by_and_branch(&self) -> Option<(&'a [u8], &'a [u8])> {
        match self {
            TopVia::Plain(via) => Some((via.sent_by, via.branch.unwrap_or_default())),
            TopVia::Typed(Some(Ok(via))) => {
                Some((via.sent_by().as_bytes(), via.branch().unwrap_or_default().as_bytes()))
            }
            TopVia::Typed(_) => None,
        }
    }

    /// [`stamped_via`] of it for a request received from `addr`.
    #[cfg(test)]
    pub(crate) fn stamped(&self, addr: std::net::SocketAddr) -> Option<String> {
        let mut out = Vec::new();
        self.stamped_into(addr, &mut out).then(|| String::from_utf8(out).unwrap_or_default())
    }

    /// [`stamped`](Self::stamped) written into `out` (its old text replaced, its buffer reused
    /// on the usual path): whether there is a stamp; `out` holds it when there is.
    pub(crate) fn stamped_into(&self, addr: std::net::SocketAddr, out: &mut Vec<u8>) -> bool {
        let stamped = match self {
            TopVia::Plain(via) => return stamp_plain_into(via, addr, out),
            TopVia::Typed(Some(Ok(via))) => stamped_via(via, addr),
            TopVia::Typed(_) => None,
        };
        stamped.map(|s| *out = s.into_bytes()).is_some()
    }
}

/// A Via value of the form `SIP/2.0/<transport> <a.b.c.d>[:<port>]` followed by parameters
/// `;name[=value]` of token characters only, none of them `received`, `maddr` or `ttl`, no
/// `rport` with a value, `branch` at most once and with a value: a value [`Via::parse`]
/// accepts, read here as it reads it (sent-by as written, the host a dotted quad without
/// leading zeros, the parameters' text) at a fraction of the cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
///
/// Its parts are bytes (ASCII, as the form requires): the loop hash and the stamp read them so.
pub(crate) struct PlainVia<'a> {
    pub(crate) transport: &'a [u8],
    pub(crate) sent_by: &'a [u8],
    pub(crate) host: std::net::Ipv4Addr,
    /// From the first `;` to the end (empty without parameters), as `Via::params().as_str()`.
    pub(crate) params: &'a [u8],
    pub(crate) branch: Option<&'a [u8]>,
    /// Whether a valueless `rport` is present.
    pub(crate) has_rport: bool,
    /// The value up to its parameters: `SIP/2.0/<transport> <sent-by>`.
    pub(crate) head: &'a [u8],
    /// Where in `params` the name of the one valueless `rport` ends, when there is exactly one
    /// and it is spelled `rport` (the stamp writes `=<port>` there).
    pub(crate) rport_end: Option<usize>,
}

/// `value` as a [`PlainVia`]; `None` for any other form (the typed parser decides those).
/// One pass over the bytes, no searching.
pub(crate) fn plain_via(value: &[u8]) -> Option<PlainVia<'_>> {
    let rest = value.strip_prefix(b"SIP/2.0/")?;
    let transport_len = rest.iter().take_while(|c| c.is_ascii_alphanumeric()).count();
    if transport_len == 0 {
        return None;
    }
    let (transport, rest) = rest.split_at_checked(transport_len)?;
    let sent_by_and_params = rest.strip_prefix(b" ")?;
    let (host, sent_by_len) = plain_sent_by(sent_by_and_params)?;
    let (sent_by, params) = sent_by_and_params.split_at_checked(sent_by_len)?;
    let facts = plain_via_params(params)?;
    let head = value.get(..value.len() - params.len())?;
    Some(PlainVia {
        transport,
        sent_by,
        host,
        params,
        branch: facts.branch,
        has_rport: facts.rports > 0,
        head,
        rport_end: facts.rport_end.filter(|_| facts.rports == 1),
    })
}

/// [`plain_via`] of a top Via value `value` that [`Message::plain_top_via`] gives (its
/// shape known: `SIP/2.0/UDP `, a host and port, then only `;branch=<token>` at `branch`,
/// `;received=<IPv4>` and `;rport[=<port>]`, each at most once), read without walking its
/// branch: the same answer, for such values, at a fraction of the cost.
pub(crate) fn plain_via_judged(
    value: &[u8],
    branch: Option<(usize, usize)>,
) -> Option<PlainVia<'_>> {
    const HEAD: &[u8] = b"SIP/2.0/UDP ";
    if !value.starts_with(HEAD) {
        return None;
    }
    let transport = value.get(8..11)?;
    let sent_by_and_params = value.get(HEAD.len()..)?;
    let (host, sent_by_len) = plain_sent_by(sent_by_and_params)?;
    let (sent_by, params) = sent_by_and_params.split_at_checked(sent_by_len)?;
    let params_at = HEAD.len() + sent_by_len;
    let branch_value = match branch {
        Some((start, end)) => Some(value.get(start..end)?),
        None => None,
    };
    // Each parameter is one of the three: `branch` is skipped to the end of its known value,
    // `received` and a valued `rport` are not of the plain form, a bare `rport` is noted.
    let (mut i, mut rport_end) = (0, None);
    while let Some(param) = params.get(i..).filter(|p| !p.is_empty()) {
        let name = param.strip_prefix(b";")?;
        if name.starts_with(b"branch=") {
            let (start, end) = branch?;
            if start != params_at + i + 8 {
                return None;
            }
            i = end - params_at;
        } else if name.starts_with(b"rport") && matches!(name.get(5), None | Some(b';')) {
            if rport_end.is_some() {
                return None;
            }
            rport_end = Some(i + 6);
            i += 6;
        } else {
            return None;
        }
    }
    let head = value.get(..params_at)?;
    Some(PlainVia {
        transport,
        sent_by,
        host,
        params,
        branch: branch_value,
        has_rport: rport_end.is_some(),
        head,
        rport_end,
    })
}

/// What [`plain_via_params`] reads of a parameter list.
struct PlainParams<'a> {
    branch: Option<&'a [u8]>,
    /// How many valueless `rport`s (saturating at 2).
    rports: u8,
    /// Where the name of the first one ends.
    rport_end: Option<usize>,
}

/// A sent-by at the start of `bytes`: a dotted quad without leading zeros (octets at most
/// 255), then optionally `:` and a port of one to five digits without a leading zero, at most
/// 65535; then the end or `;`. The address and the sent-by's length.
fn plain_sent_by(bytes: &[u8]) -> Option<(std::net::Ipv4Addr, usize)> {
    #[inline(always)]
    fn digit(bytes: &[u8], i: usize) -> Option<u32> {
        match bytes.get(i) {
            Some(&c) if c.is_ascii_digit() => Some(u32::from(c - b'0')),
            _ => None,
        }
    }
    // Four octets, `.` between them, each of one to three digits, a lone `0` or none leading.
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (k, octet) in octets.iter_mut().enumerate() {
        if k > 0 {
            if bytes.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let mut value = digit(bytes, i)?;
        i += 1;
        if value != 0 {
            if let Some(d) = digit(bytes, i) {
                value = value * 10 + d;
                i += 1;
                if let Some(d) = digit(bytes, i) {
                    value = value * 10 + d;
                    i += 1;
                }
            }
        }
        *octet = u8::try_from(value).ok()?;
    }
    let host = std::net::Ipv4Addr::from(octets);
    match bytes.get(i) {
        None | Some(b';') => Some((host, i)),
        Some(b':') => {
            // One to five digits, none leading, at most 65535, read in one pass.
            let mut j = i + 1;
            let mut port = digit(bytes, j).filter(|&d| d != 0)?;
            j += 1;
            while let Some(d) = digit(bytes, j) {
                port = port * 10 + d;
                j += 1;
                if j - i - 1 > 5 {
                    return None;
                }
            }
            if port > u32::from(u16::MAX) || !matches!(bytes.get(j), None | Some(b';')) {
                return None;
            }
            Some((host, j))
        }
        _ => None,
    }
}

/// The parameters of a [`PlainVia`] (`params` empty or from its first `;`): each `name` or
/// `name=value` of token characters, none `received`, `maddr` or `ttl`, `rport` without a
/// value, `branch` once with one. Its branch, and its valueless `rport`s. One pass over the
/// bytes: each parameter is a run of token characters, then `=` and another run or not, then
/// the `;` of the next or the end.
fn plain_via_params(params: &[u8]) -> Option<PlainParams<'_>> {
    let mut facts = PlainParams { branch: None, rports: 0, rport_end: None };
    let bytes = params;
    let mut i = 0;
    while i < bytes.len() {
        if bytes.get(i) != Some(&b';') {
            return None;
        }
        let start = i + 1;
        let name_end = start + token_run(bytes.get(start..)?);
        if name_end == start {
            return None; // an empty name
        }
        let (value, end) = match bytes.get(name_end) {
            Some(b'=') => {
                let value_start = name_end + 1;
                let value_end = value_start + token_run(bytes.get(value_start..)?);
                if value_end == value_start {
                    return None; // an empty value
                }
                (params.get(value_start..value_end), value_end)
            }
            _ => (None, name_end),
        };
        let name = bytes.get(start..name_end)?;
        match name.len() {
            6 if name.eq_ignore_ascii_case(b"branch") => {
                if facts.branch.is_some() || value.is_none() {
                    return None;
                }
                facts.branch = value;
            }
            5 if name.eq_ignore_ascii_case(b"rport") => {
                if value.is_some() {
                    return None;
                }
                // Spliced only as the stamp spells it (`rport`, lowercase).
                if facts.rports == 0 && name == b"rport" {
                    facts.rport_end = Some(name_end);
                }
                facts.rports = facts.rports.saturating_add(1).min(2);
            }
            8 if name.eq_ignore_ascii_case(b"received") => return None,
            5 if name.eq_ignore_ascii_case(b"maddr") => return None,
            3 if name.eq_ignore_ascii_case(b"ttl") => return None,
            _ => {}
        }
        i = end;
    }
    Some(facts)
}

/// How many token characters `bytes` starts with.
#[inline]
fn token_run(bytes: &[u8]) -> usize {
    bytes.iter().position(|&c| !is_token_char(c)).unwrap_or(bytes.len())
}

/// RFC 3261 §25.1 `token` characters (the parser's table).
#[inline]
fn is_token_char(c: u8) -> bool {
    sip_message::grammar::is_token_byte(c)
}

/// [`loop_hash`], given the request's top Via already parsed ([`Message::typed`]), which
/// serves when it is also the bottom-most one (a request from a UA: one Via).
pub(crate) fn loop_hash_with(
    request: &Message,
    for_stateless: bool,
    top: Option<&TopVia<'_>>,
) -> Hex16 {
    loop_hash_read(request, for_stateless, top).0
}

/// What [`loop_hash_read`] reads of a request besides the loop part, in the same pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct LoopRead<'a> {
    /// The branch (empty when absent) of the request's only Via value, when it has exactly
    /// one and the caller's [`TopVia`] read it (a request from a UA): what §16.3 step 4
    /// compares the loop part with, with no second pass over the Via lines.
    pub(crate) lone_branch: Option<&'a [u8]>,
    /// Whether any Proxy-Require or Proxy-Authorization line is there (without one, §16.3
    /// step 5 has nothing to check).
    pub(crate) proxy_lines: bool,
    /// How many Route lines there are, when each holds exactly one value (`None` otherwise):
    /// §16.4 then knows when it has removed the last one without looking again.
    pub(crate) route_lines: Option<usize>,
}

/// [`loop_hash_with`], and what else the same pass reads ([`LoopRead`]).
pub(crate) fn loop_hash_read<'a>(
    request: &Message,
    for_stateless: bool,
    top: Option<&TopVia<'a>>,
) -> (Hex16, LoopRead<'a>) {
    loop_hash_read_in(&mut Fields::new(LOOP), request, for_stateless, top)
}

/// [`loop_hash_read`] gathering its fields in `h` (kept by the caller, reset here).
pub(crate) fn loop_hash_read_in<'a>(
    h: &mut Fields,
    request: &Message,
    for_stateless: bool,
    top: Option<&TopVia<'a>>,
) -> (Hex16, LoopRead<'a>) {
    let mut lone_branch = None;
    let h = h.reset(LOOP);
    // A non-2xx ACK carries the To tag of the response it acknowledges, its INVITE none; in
    // stateless mode the two must share a branch (§16.11), so the tag is left out there. The
    // originating client's Via branch, hashed below, already tells transactions apart.
    let to_tag = if for_stateless { None } else { request.to_tag_bytes() };
    field(h, to_tag.unwrap_or_default());
    field(h, request.from_tag_bytes().unwrap_or_default());
    field(h, request.call_id_bytes().unwrap_or_default());
    field(h, utf8_request_uri(request));
    field(h, &request.cseq_number().unwrap_or_default().to_le_bytes());
    // One pass over the header lines: the Via and Route lines, and whether Proxy-Require or
    // Proxy-Authorization lines are there (hashed below as `values` and `header_lines` read
    // them).
    let mut vias: SmallVec<[&[u8]; 2]> = SmallVec::new();
    let mut routes: SmallVec<[&[u8]; 2]> = SmallVec::new();
    let mut proxy_lines = false;
    for line in request.lines() {
        match line.name {
            HeaderName::Via => vias.push(line.value),
            HeaderName::Route => routes.push(line.value),
            HeaderName::ProxyRequire | HeaderName::ProxyAuthorization => proxy_lines = true,
            _ => {}
        }
    }
    // The first Via value, and the last one when there are several.
    let (first, later) = match vias.as_slice() {
        [] => (None, None),
        // A plain top Via is its whole line (no plain value holds a comma).
        [line] if matches!(top, Some(TopVia::Plain(_))) => (Some(*line), None),
        [line] => {
            let mut values = list_values(line);
            (values.next(), values.last())
        }
        lines => {
            let mut values = lines.iter().flat_map(|line| list_values(line));
            (values.next(), values.last())
        }
    };
    if let Some(bottom) = later.or(first) {
        let parsed =
            match (later, top) {
                // The only Via: the top one, read the same way (`typed` reads the first value).
                (None, Some(top)) => {
                    let read = top.sent_by_and_branch();
                    if vias.len() == 1 {
                        lone_branch = read.map(|(_, branch)| branch);
                    }
                    read
                }
                _ => std::str::from_utf8(bottom).ok().map(Via::parse).and_then(Result::ok).map(
                    |via| (via.sent_by().as_bytes(), via.branch().unwrap_or_default().as_bytes()),
                ),
            };
        match parsed {
            Some((sent_by, branch)) => {
                field(h, sent_by);
                field(h, branch);
            }
            None => field(h, bottom),
        }
    }
    // Whether every Route line holds exactly one value (then each is one `remove_front`).
    let mut single = true;
    for line in &routes {
        if let Some(lone) = lone_value(line) {
            if let Some(route) = lone {
                field(h, route);
            }
            single &= lone.is_some();
            continue;
        }
        let mut values = 0;
        for route in list_values(line) {
            field(h, route);
            values += 1;
        }
        single &= values == 1;
    }
    let route_lines = single.then_some(routes.len());
    if !for_stateless && proxy_lines {
        for line in request.header_lines(HeaderName::ProxyRequire) {
            field(h, line);
        }
        for line in request.header_lines(HeaderName::ProxyAuthorization) {
            field(h, line);
        }
    }
    (h.finish(), LoopRead { lone_branch, proxy_lines, route_lines })
}

/// The values of one line of a list header, as [`Message::values`] reads them: split at its
/// commas, an empty line holding none.
fn list_values(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut values = split_list(line);
    if line.is_empty() {
        values.next();
    }
    values
}

/// What [`list_values`] gives a line without a comma, found without the splitter: its one
/// value, or none when it is empty. `None` for a line with a comma.
#[inline(always)]
fn lone_value(line: &[u8]) -> Option<Option<&[u8]>> {
    if line.contains(&b',') {
        return None;
    }
    Some((!line.is_empty()).then(|| trim_lws(line)))
}

/// The Request-URI's bytes when they are UTF-8, else none (as
/// [`Message::request_uri_str`] reads it): an ASCII URI, the usual one, is taken without the
/// UTF-8 check.
fn utf8_request_uri(request: &Message) -> &[u8] {
    match request.request_uri_raw() {
        Some(raw) if raw.is_ascii() => raw,
        _ => request.request_uri_str().unwrap_or_default().as_bytes(),
    }
}

/// The branch of a request forwarded outside a transaction (§16.11): the same for every
/// retransmission, for its CANCEL, and (stateless mode) for a non-2xx ACK. Its unique part
/// hashes the received branch when it has the cookie, else the top Via, To and From tags,
/// Call-ID, CSeq number and Request-URI; its loop part is [`loop_hash`] for stateless use.
///
/// The proxy writes it straight into its Via ([`stateless_unique`] and `Proxy::via_value`);
/// this is the reference the tests hold that to.
#[cfg(test)]
pub(crate) fn stateless_branch(request: &Message, loop_part: &Hex16) -> String {
    branch_from(hex_str(&stateless_unique(request)), loop_part)
}

/// [`stateless_branch`] without the loop part: `z9hG4bK` + the unique part, for a request
/// that is never checked for a loop (an ACK for a 2xx forwarded by a stateful proxy).
#[cfg(test)]
pub(crate) fn stateless_branch_without_loop_part(request: &Message) -> String {
    let unique = stateless_unique(request);
    let mut branch = String::with_capacity(BRANCH_COOKIE.len() + unique.len());
    branch.push_str(BRANCH_COOKIE);
    branch.push_str(hex_str(&unique));
    branch
}

/// The unique part of [`stateless_branch`].
#[cfg(test)]
pub(crate) fn stateless_unique(request: &Message) -> Hex16 {
    stateless_unique_in(&mut Fields::new(STATELESS), request)
}

/// [`stateless_unique`] gathering its fields in `h` (kept by the caller, reset here).
pub(crate) fn stateless_unique_in(h: &mut Fields, request: &Message) -> Hex16 {
    let h = h.reset(STATELESS);
    // As bytes: the parser keeps only a token branch, so the UTF-8 check could not fail.
    // A judged top Via is its whole line: its value, with no split.
    let top_via = match request.plain_top_via() {
        Some((value, _)) => Some(value),
        None => request.top_via(),
    };
    match request.via_branch_bytes() {
        Some(branch) if branch.starts_with(BRANCH_COOKIE.as_bytes()) => {
            field(h, branch);
            field(h, top_via.unwrap_or_default());
        }
        _ => {
            field(h, top_via.unwrap_or_default());
            field(h, request.to_tag_bytes().unwrap_or_default());
            field(h, request.from_tag_bytes().unwrap_or_default());
            field(h, request.call_id_bytes().unwrap_or_default());
            field(h, &request.cseq_number().unwrap_or_default().to_le_bytes());
            field(h, utf8_request_uri(request));
        }
    }
    // ACKs and CANCELs share their INVITE's branch hop by hop, but each is a distinct message:
    // the method goes into no part of the branch (§16.6 step 8).
    h.finish()
}

/// `z9hG4bK` + `unique` + `.` + the loop part.
#[cfg(test)]
pub(crate) fn branch_from(unique: &str, loop_part: &Hex16) -> String {
    let mut branch = String::with_capacity(BRANCH_COOKIE.len() + unique.len() + 17);
    branch.push_str(unique);
    if !branch.starts_with(BRANCH_COOKIE) {
        branch.insert_str(0, BRANCH_COOKIE);
    }
    branch.push('.');
    branch.push_str(hex_str(loop_part));
    branch
}

/// The loop part of one of our branches (after the last `.`), if it has one.
pub(crate) fn loop_part_of(branch: &str) -> Option<&str> {
    let rest = branch.strip_prefix(BRANCH_COOKIE)?;
    rest.rsplit_once('.').map(|(_, part)| part)
}

/// A To tag for responses the proxy generates itself: derived from the request (Call-ID,
/// From tag, CSeq, top Via), so a retransmission of the request gets the same one.
pub(crate) fn local_tag(request: &Message) -> Hex16 {
    let mut h = Fields::new(LOCAL_TAG);
    field(&mut h, request.call_id_bytes().unwrap_or_default());
    field(&mut h, request.from_tag_bytes().unwrap_or_default());
    field(&mut h, &request.cseq_number().unwrap_or_default().to_le_bytes());
    field(&mut h, request.top_via().unwrap_or_default());
    h.finish()
}

/// Writes a SIP URI back with changes: without `port` unless `keep_port`, without the
/// parameters `drop` names, and without headers unless `keep_headers`.
pub(crate) fn rebuild_sip(
    sip: &SipUri<'_>,
    keep_port: bool,
    keep_headers: bool,
    drop: impl Fn(&str) -> bool,
) -> String {
    let mut out = String::with_capacity(sip.as_str().len());
    out.push_str(sip.scheme());
    out.push(':');
    if let Some(user) = sip.user_raw() {
        out.push_str(user);
        if let Some(password) = sip.password_raw() {
            out.push(':');
            out.push_str(password);
        }
        out.push('@');
    }
    out.push_str(sip.host_raw());
    if let (true, Some(port)) = (keep_port, sip.port()) {
        let _ = write!(out, ":{port}");
    }
    for (name, value) in sip.params() {
        if drop(name) {
            continue;
        }
        out.push(';');
        out.push_str(name);
        if let Some(value) = value {
            out.push('=');
            out.push_str(value);
        }
    }
    if keep_headers && sip.has_headers() {
        out.push('?');
        out.push_str(sip.headers_raw());
    }
    out
}

/// A target URI in the form a Request-URI may take (§16.6 step 2, §19.1.1 table 1): without
/// headers and without the `method` parameter. Borrows when nothing has to go.
#[cfg(test)]
pub(crate) fn request_uri_form(uri: &str) -> Cow<'_, str> {
    request_uri_form_of(uri, &Uri::parse(uri))
}

/// [`request_uri_form`] of `uri`, given its parse `parsed`.
pub(crate) fn request_uri_form_of<'a>(
    uri: &'a str,
    parsed: &Result<Uri<'_>, UriError>,
) -> Cow<'a, str> {
    match parsed {
        Ok(Uri::Sip(sip)) if sip.has_headers() || sip.method().is_some() => {
            Cow::Owned(rebuild_sip(sip, true, false, |n| n.eq_ignore_ascii_case("method")))
        }
        _ => Cow::Borrowed(uri),
    }
}

/// The URI of a Route (or Record-Route, Path) value, without `<>` and header parameters.
pub(crate) fn route_uri(value: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(value).ok()?;
    Route::parse(text).ok().map(|r| r.uri_str())
}

/// `<uri>` as a Route value.
pub(crate) fn bracketed(uri: &str) -> Bytes {
    let mut b = BytesMut::with_capacity(uri.len() + 2);
    b.put_u8(b'<');
    b.put_slice(uri.as_bytes());
    b.put_u8(b'>');
    b.freeze()
}

/// Removes the last Route value, keeping the others in order (§16.4, strict-router upstream).
/// Returns the removed value's URI.
pub(crate) fn pop_last_route(request: &mut Message) -> Option<String> {
    let values: Vec<&[u8]> = request.values(HeaderName::Route).collect();
    let (last, rest) = values.split_last()?;
    let uri = route_uri(last)?.to_owned();
    let mut joined = BytesMut::new();
    for (i, value) in rest.iter().enumerate() {
        if i > 0 {
            joined.put_slice(b", ");
        }
        joined.put_slice(value);
    }
    if rest.is_empty() {
        request.remove_all(HeaderName::Route);
    } else {
        request.set(HeaderName::Route, joined.freeze()).ok()?;
    }
    Some(uri)
}

/// §16.6 step 6: when the top Route has no `lr` (a strict router), the Request-URI goes to the
/// end of the Route set and the top Route becomes the Request-URI. Returns whether it did.
pub(crate) fn postprocess_strict_route(copy: &mut Message) -> bool {
    let strict = copy
        .header(HeaderName::Route)
        .and_then(route_uri)
        .and_then(|uri| match Uri::parse(uri) {
            Ok(Uri::Sip(sip)) => Some(!sip.lr()),
            _ => None,
        })
        .unwrap_or(false);
    if !strict {
        return false;
    }
    let Some(request_uri) = copy.request_uri_str().map(bracketed) else { return false };
    if copy.push_back(HeaderName::Route, request_uri).is_err() {
        return false;
    }
    let Some(top) = copy.pop_front(HeaderName::Route) else { return false };
    match route_uri(&top) {
        Some(uri) => copy.set_request_uri(Bytes::copy_from_slice(uri.as_bytes())).is_ok(),
        None => false,
    }
}

/// RFC 3261 §18.2.1 and RFC 3581 §4: the top Via of a request received from `source` gets
/// `received` when its sent-by host is not the source address (or is a name), and a valueless
/// `rport` gets the source port (with `received`, always). Nothing changes for a flow target
/// or a Via the typed parser refuses.
#[cfg(test)]
pub(crate) fn stamp_received(request: &mut Message, source: Target) {
    let stamped = match (request.typed::<Via<'_>>(), source) {
        (Some(Ok(via)), Target::Addr(_, addr)) => stamped_via(&via, addr),
        _ => None,
    };
    if let Some(via) = stamped {
        replace_top_via(request, via);
    }
}

/// The top Via `via` of a request received from `addr` as [`stamp_received`] leaves it; `None`
/// when it stays as it is.
pub(crate) fn stamped_via(via: &Via<'_>, addr: std::net::SocketAddr) -> Option<String> {
    stamped_via_with(via, addr, true)
}

/// [`stamped_via`]; `split` allows reading the parameters by splitting their text at `;` and
/// `=` when that reads them as the parameter lexer does (the result is the same either way).
fn stamped_via_with(via: &Via<'_>, addr: std::net::SocketAddr, split: bool) -> Option<String> {
    stamp(&StampHead::of_typed(via), addr, split, Some(via))
}

/// What [`stamp`] reads of a Via.
struct StampHead<'a> {
    protocol_name: &'a str,
    protocol_version: &'a str,
    transport: &'a str,
    sent_by: &'a str,
    host: Host<'a>,
    /// A valueless `rport` to fill in.
    fill_rport: bool,
    /// The parameters' text, from the first `;`.
    params: &'a str,
}

impl<'a> StampHead<'a> {
    fn of_typed(via: &Via<'a>) -> StampHead<'a> {
        StampHead {
            protocol_name: via.protocol_name(),
            protocol_version: via.protocol_version(),
            transport: via.transport(),
            sent_by: via.sent_by(),
            host: via.host(),
            fill_rport: via.has_rport() && via.rport().is_none(),
            params: via.params().as_str(),
        }
    }

    /// A [`PlainVia`] as the typed parser reads it (`SIP/2.0`, the host a dotted quad); its
    /// parts are ASCII, so the text is there.
    fn of_plain(via: &PlainVia<'a>) -> Option<StampHead<'a>> {
        Some(StampHead {
            protocol_name: "SIP",
            protocol_version: "2.0",
            transport: std::str::from_utf8(via.transport).ok()?,
            sent_by: std::str::from_utf8(via.sent_by).ok()?,
            host: Host::Ipv4(via.host),
            fill_rport: via.has_rport,
            params: std::str::from_utf8(via.params).ok()?,
        })
    }
}

/// [`stamped_via_with`] of a Via read as `via` says; the parameters are split from their
/// text (`split`, and [`plain_params`] reads them), else read from `typed` (none without it).
fn stamp(
    via: &StampHead<'_>,
    addr: std::net::SocketAddr,
    split: bool,
    typed: Option<&Via<'_>>,
) -> Option<String> {
    let same_host = match via.host {
        Host::Ipv4(a) => std::net::IpAddr::V4(a) == addr.ip(),
        Host::Ipv6(a) => std::net::IpAddr::V6(a) == addr.ip(),
        Host::Domain(_) => false,
    };
    let fill_rport = via.fill_rport;
    if same_host && !fill_rport {
        return None;
    }
    let port = sip_message::Decimal::new(u64::from(addr.port()));
    let port = port.as_str();
    // The `received` address: dotted decimal as Ipv4Addr's Display writes it (without the
    // formatting machinery), or as Ipv6Addr's Display writes it.
    let (v4, v6) = match addr.ip() {
        std::net::IpAddr::V4(a) => (Some(a.octets()), None),
        std::net::IpAddr::V6(a) => (None, Some(a.to_string())),
    };
    let ip_len = match (&v4, &v6) {
        (Some(octets), _) => octets.iter().map(|&o| octet_len(o)).sum::<usize>() + 3,
        (None, Some(text)) => text.len(),
        (None, None) => 0,
    };
    let raw = via.params;
    let pieces = if split { plain_params(raw) } else { None };
    let head_len = via.protocol_name.len()
        + via.protocol_version.len()
        + via.transport.len()
        + via.sent_by.len()
        + 3;
    // Exact for split parameters (a `Bytes` made from the value then needs no second
    // allocation), a bound otherwise.
    let params_len = match &pieces {
        Some(pieces) => pieces
            .iter()
            .map(|p| match p.param(raw) {
                (name, _) if name.eq_ignore_ascii_case("received") => 0,
                (name, None) if name.eq_ignore_ascii_case("rport") => 7 + port.len(),
                _ => 1 + p.end - p.start,
            })
            .sum(),
        None => raw.len() + 6 + port.len(),
    };
    let mut v = String::with_capacity(head_len + params_len + 10 + ip_len);
    v.push_str(via.protocol_name);
    v.push('/');
    v.push_str(via.protocol_version);
    v.push('/');
    v.push_str(via.transport);
    v.push(' ');
    v.push_str(via.sent_by);
    let mut push_param = |name: &str, value: Option<&str>, piece: Option<&str>| {
        if name.eq_ignore_ascii_case("received") {
            return;
        }
        if name.eq_ignore_ascii_case("rport") && value.is_none() {
            v.push_str(";rport=");
            v.push_str(port);
            return;
        }
        v.push(';');
        match piece {
            Some(piece) => v.push_str(piece),
            None => {
                v.push_str(name);
                if let Some(value) = value {
                    v.push('=');
                    v.push_str(value);
                }
            }
        }
    };
    match &pieces {
        Some(pieces) => {
            for p in pieces {
                let (name, value) = p.param(raw);
                push_param(name, value, raw.get(p.start..p.end));
            }
        }
        None => {
            for (name, value) in typed.iter().flat_map(|typed| typed.params()) {
                push_param(name, value, None);
            }
        }
    }
    v.push_str(";received=");
    match (v4, &v6) {
        (Some(octets), _) => {
            for (i, octet) in octets.into_iter().enumerate() {
                if i > 0 {
                    v.push('.');
                }
                push_octet(&mut v, octet);
            }
        }
        (None, Some(text)) => v.push_str(text),
        (None, None) => {}
    }
    Some(v)
}

/// [`stamp`] of a [`PlainVia`], written in one pass: its parameters are known to be
/// `;name[=value]` tokens without `received` and with any `rport` valueless, so each is copied
/// as it is but `rport`, which gets the port, and `received` follows them (the tests hold this
/// to the typed parser's stamp).
fn stamp_plain_into(via: &PlainVia<'_>, addr: std::net::SocketAddr, v: &mut Vec<u8>) -> bool {
    let std::net::IpAddr::V4(ip) = addr.ip() else {
        let stamped = StampHead::of_plain(via).and_then(|head| stamp(&head, addr, true, None));
        return stamped.map(|s| *v = s.into_bytes()).is_some();
    };
    if via.host == ip && !via.has_rport {
        return false;
    }
    let port = sip_message::Decimal::new(u64::from(addr.port()));
    let port = port.as_bytes();
    let octets = ip.octets();
    // From the address it was sent from, the usual case with `rport`, the `received` text is
    // the sent-by's host as written (a plain sent-by's dotted quad is written as it prints).
    let host_text = (via.host == ip).then(|| via.sent_by.split(|&c| c == b':').next()).flatten();
    let ip_len = match host_text {
        Some(text) => text.len(),
        None => octets.iter().map(|&o| octet_len(o)).sum::<usize>() + 3,
    };
    let received = |v: &mut Vec<u8>| match host_text {
        Some(text) => {
            v.extend_from_slice(b";received=");
            v.extend_from_slice(text);
        }
        None => push_received(v, octets),
    };
    let rport_len = if via.has_rport { 1 + port.len() } else { 0 };
    v.clear();
    v.reserve(via.head.len() + via.params.len() + rport_len + 10 + ip_len);
    // The usual case, no `rport` or one: the value as written with `=<port>` spliced in.
    let split = match (via.has_rport, via.rport_end) {
        (false, _) => Some((via.params, &b""[..])),
        (true, Some(end)) => via.params.split_at_checked(end),
        (true, None) => None,
    };
    if let Some((before, after)) = split {
        v.extend_from_slice(via.head);
        v.extend_from_slice(before);
        if via.has_rport {
            v.push(b'=');
            v.extend_from_slice(port);
        }
        v.extend_from_slice(after);
        received(v);
        return true;
    }
    v.extend_from_slice(b"SIP/2.0/");
    v.extend_from_slice(via.transport);
    v.push(b' ');
    v.extend_from_slice(via.sent_by);
    if let Some(list) = via.params.strip_prefix(b";") {
        for param in list.split(|&c| c == b';') {
            if param.eq_ignore_ascii_case(b"rport") {
                v.extend_from_slice(b";rport=");
                v.extend_from_slice(port);
            } else {
                v.push(b';');
                v.extend_from_slice(param);
            }
        }
    }
    received(v);
    true
}

/// Appends `;received=` and the dotted quad of `octets`, gathered on the stack first (one
/// copy into `v`).
fn push_received(v: &mut Vec<u8>, octets: [u8; 4]) {
    let mut text = [0u8; 15];
    let mut len = 0;
    for (i, octet) in octets.into_iter().enumerate() {
        if i > 0 {
            if let Some(dot) = text.get_mut(len) {
                *dot = b'.';
            }
            len += 1;
        }
        let (digits, n) = octet_digits(octet);
        for (slot, digit) in text.iter_mut().skip(len).zip(digits.iter().take(n)) {
            *slot = *digit;
        }
        len += n;
    }
    v.extend_from_slice(b";received=");
    v.extend_from_slice(text.get(..len).unwrap_or_default());
}

/// The decimal digits of `octet`, without leading zeros, and how many there are.
fn octet_digits(octet: u8) -> ([u8; 3], usize) {
    match octet {
        100.. => ([b'0' + octet / 100, b'0' + octet / 10 % 10, b'0' + octet % 10], 3),
        10.. => ([b'0' + octet / 10, b'0' + octet % 10, 0], 2),
        _ => ([b'0' + octet, 0, 0], 1),
    }
}

/// How many digits [`push_octet`] writes.
fn octet_len(octet: u8) -> usize {
    1 + usize::from(octet >= 10) + usize::from(octet >= 100)
}

/// Appends `octet` in decimal, without leading zeros.
fn push_octet(out: &mut String, octet: u8) {
    if octet >= 100 {
        out.push(char::from(b'0' + octet / 100));
    }
    if octet >= 10 {
        out.push(char::from(b'0' + octet / 10 % 10));
    }
    out.push(char::from(b'0' + octet % 10));
}

/// One parameter of a [`plain_params`] list: its text is `start..end` of the list, its name
/// `start..name_end` (a value follows `=` when `name_end < end`).
#[derive(Clone, Copy)]
struct Piece {
    start: usize,
    name_end: usize,
    end: usize,
}

impl Piece {
    /// `(name, value)` as the parameter lexer gives them.
    fn param(self, raw: &str) -> (&str, Option<&str>) {
        let name = raw.get(self.start..self.name_end).unwrap_or_default();
        let value = (self.name_end < self.end).then(|| raw.get(self.name_end + 1..self.end));
        (name, value.map(Option::unwrap_or_default))
    }
}

/// The parameters of a list as written (`raw` starts at its first `;`), split at each `;` and
/// at the first `=` after it, when that reads the list exactly as the parameter lexer does: no
/// whitespace, no quoted string, no empty name or value.
fn plain_params(raw: &str) -> Option<SmallVec<[Piece; 6]>> {
    let bytes = raw.as_bytes();
    if bytes.first() != Some(&b';') {
        return None;
    }
    let mut pieces = SmallVec::new();
    let mut start = 1;
    let mut name_end = None;
    let mut close = |start: usize, name_end: Option<usize>, end: usize| {
        let name_end = name_end.unwrap_or(end);
        let ok = start < name_end && (name_end == end || name_end + 1 < end);
        pieces.push(Piece { start, name_end, end });
        ok
    };
    for (i, &c) in bytes.iter().enumerate().skip(1) {
        match c {
            b';' => {
                if !close(start, name_end, i) {
                    return None;
                }
                start = i + 1;
                name_end = None;
            }
            b'=' if name_end.is_none() => name_end = Some(i),
            b' ' | b'\t' | b'\r' | b'\n' | b'"' => return None,
            _ => {}
        }
    }
    if !close(start, name_end, bytes.len()) {
        return None;
    }
    Some(pieces)
}

/// Replaces the top Via value with `via`, moved to the top of the header (a request keeps its
/// other Vias in order).
pub(crate) fn replace_top_via(request: &mut Message, via: impl Into<Bytes>) {
    // A lone Via value on the first line (a request straight from a UA): one `set` leaves
    // the same header as popping it and pushing the new one, with one edit instead of two.
    let lone_first = request.lines().next().is_some_and(|l| l.name == HeaderName::Via)
        && request.values(HeaderName::Via).nth(1).is_none();
    if lone_first {
        let _ = request.set(HeaderName::Via, via);
    } else if request.pop_front(HeaderName::Via).is_some() {
        let _ = request.push_front(HeaderName::Via, via);
    }
}

/// Where a response goes back to from its (new) top Via (RFC 3261 §18.2.2, RFC 3581 §4):
/// the `received` address (else the sent-by host if it is an address), the `rport` port
/// (else the sent-by port, else the transport default), over the Via's transport. `None` when
/// the host is a name without `received` (resolve `host` instead) or the transport is unknown.
pub(crate) fn via_target(via: &Via<'_>) -> Option<Target> {
    let transport = sip_transaction::Transport::from_token(via.transport())?;
    let ip = match (via.received(), via.host()) {
        (Some(ip), _) => ip,
        (None, Host::Ipv4(a)) => std::net::IpAddr::V4(a),
        (None, Host::Ipv6(a)) => std::net::IpAddr::V6(a),
        (None, Host::Domain(_)) => return None,
    };
    let default = if transport == sip_transaction::Transport::Tls { 5061 } else { 5060 };
    let port = via.rport().or(via.port()).unwrap_or(default);
    Some(Target::Addr(transport, std::net::SocketAddr::new(ip, port)))
}

#[cfg(test)]
pub(crate) mod tests {
    use sip_message::MessageBuilder;
    use sip_message::Method;

    use super::*;

    /// [`hex16`] as it was: one nibble at a time.
    fn hex16_reference(digest: u64) -> Hex16 {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [b'0'; 16];
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = DIGITS[((digest >> (60 - 4 * i)) & 0x0f) as usize];
        }
        out
    }

    #[test]
    fn hex_digits_at_once_are_the_nibbles_one_by_one() {
        for d in [0, u64::MAX, 0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210, 0xa0a0_9f9f_0a0a_f9f9]
        {
            assert_eq!(hex16(d), hex16_reference(d));
        }
        let mut d = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..10_000 {
            assert_eq!(hex16(d), hex16_reference(d), "{d:#x}");
            d = d.rotate_left(7).wrapping_mul(0x2545_f491_4f6c_dd1d).wrapping_add(1);
        }
    }

    /// [`plain_via_params`] as it was, one byte at a time: each byte is a token character, the
    /// `=` after a name, or the `;` ending a parameter.
    fn plain_via_params_reference(params: &[u8]) -> Option<PlainParams<'_>> {
        let mut facts = PlainParams { branch: None, rports: 0, rport_end: None };
        let bytes = params;
        match bytes.first() {
            None => return Some(facts),
            Some(b';') => {}
            Some(_) => return None,
        }
        // The parameter being read: its name starts at `start`, its `=` (if any) is at `eq`.
        let (mut start, mut eq) = (1, None);
        let mut i = 0;
        loop {
            i += 1;
            // The end of the list closes the last parameter as a `;` would.
            let c = match bytes.get(i) {
                Some(&c) if is_token_char(c) => continue,
                Some(&c) => c,
                None if i == bytes.len() => b';',
                None => break,
            };
            match (c, eq) {
                (b'=', None) if i > start => eq = Some(i),
                (b';', _) => {
                    let name_end = eq.unwrap_or(i);
                    if name_end == start || eq.is_some_and(|e| e + 1 == i) {
                        return None; // an empty name or value
                    }
                    let name = bytes.get(start..name_end)?;
                    match name.len() {
                        6 if name.eq_ignore_ascii_case(b"branch") => {
                            let value = eq.and_then(|e| params.get(e + 1..i));
                            if facts.branch.is_some() || value.is_none() {
                                return None;
                            }
                            facts.branch = value;
                        }
                        5 if name.eq_ignore_ascii_case(b"rport") => {
                            if eq.is_some() {
                                return None;
                            }
                            // Spliced only as the stamp spells it (`rport`, lowercase).
                            if facts.rports == 0 && name == b"rport" {
                                facts.rport_end = Some(name_end);
                            }
                            facts.rports = facts.rports.saturating_add(1).min(2);
                        }
                        8 if name.eq_ignore_ascii_case(b"received") => return None,
                        5 if name.eq_ignore_ascii_case(b"maddr") => return None,
                        3 if name.eq_ignore_ascii_case(b"ttl") => return None,
                        _ => {}
                    }
                    (start, eq) = (i + 1, None);
                }
                _ => return None,
            }
        }
        Some(facts)
    }

    /// What [`plain_via_params`] reads, as a comparable tuple.
    fn facts_of(p: Option<PlainParams<'_>>) -> Option<(Option<Vec<u8>>, u8, Option<usize>)> {
        p.map(|f| (f.branch.map(<[u8]>::to_vec), f.rports, f.rport_end))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
        #[test]
        fn plain_params_in_runs_read_as_byte_by_byte(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                ";", "=", "branch", "BRANCH", "rport", "rPort", "received", "maddr", "ttl",
                "z9hG4bK74bf9", "x", "1", " ", ",", "\"", "=5060", "a.b", "%", "~", "\u{e9}",
            ]), 0..9),
        ) {
            let params: String = pieces.concat();
            proptest::prop_assert_eq!(
                facts_of(plain_via_params(params.as_bytes())),
                facts_of(plain_via_params_reference(params.as_bytes()))
            );
        }
    }

    /// `plain_sent_by` as it was first written, byte by byte (the reference for the one that
    /// reads octet by octet).
    fn plain_sent_by_reference(bytes: &[u8]) -> Option<(std::net::Ipv4Addr, usize)> {
        let mut octets = [0u8; 4];
        let (mut dot, mut value, mut digits) = (0usize, 0u32, 0u32);
        let mut end = bytes.len();
        for (i, &c) in bytes.iter().enumerate() {
            match c {
                b'0'..=b'9' if digits < 3 && !(digits == 1 && value == 0) => {
                    value = value * 10 + u32::from(c - b'0');
                    digits += 1;
                }
                b'.' if digits > 0 && dot < 3 => {
                    *octets.get_mut(dot)? = u8::try_from(value).ok()?;
                    (dot, value, digits) = (dot + 1, 0, 0);
                }
                b':' | b';' => {
                    end = i;
                    break;
                }
                _ => return None,
            }
        }
        if dot != 3 || digits == 0 {
            return None;
        }
        *octets.get_mut(3)? = u8::try_from(value).ok()?;
        let host = std::net::Ipv4Addr::from(octets);
        match bytes.get(end..)? {
            [] | [b';', ..] => Some((host, end)),
            [b':', port @ ..] => {
                let digits = port.iter().take_while(|c| c.is_ascii_digit()).count();
                let (number, after) = port.split_at_checked(digits)?;
                let plain = matches!(number, [b'1'..=b'9', ..]) && digits <= 5;
                if !plain {
                    return None;
                }
                let value = number.iter().fold(0u32, |n, &c| n * 10 + u32::from(c - b'0'));
                if value > u32::from(u16::MAX) || !matches!(after, [] | [b';', ..]) {
                    return None;
                }
                Some((host, end + 1 + digits))
            }
            _ => None,
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5000))]

        /// The octet-by-octet sent-by reading is the byte-by-byte one, on dotted quads and
        /// near misses (leading zeros, long octets and ports, stray characters).
        #[test]
        fn plain_sent_by_reads_as_the_reference(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                "0", "1", "9", "25", "255", "256", "01", "199", "1000", ".", ".", ":", ";",
                "5060", "65535", "65536", "0123", "123456789012", "a", " ", ";branch=x",
            ]), 0..10),
        ) {
            let text: String = pieces.concat();
            proptest::prop_assert_eq!(
                plain_sent_by(text.as_bytes()),
                plain_sent_by_reference(text.as_bytes())
            );
        }
    }

    #[test]
    fn plain_sent_by_cases() {
        for (text, expected) in [
            ("192.0.2.1", Some(9)),
            ("192.0.2.1:5060;rport", Some(14)),
            ("0.0.0.0;x", Some(7)),
            ("10.0.0.255:65535", Some(16)),
            ("01.2.3.4", None),
            ("1.2.3.4:05060", None),
            ("1.2.3.4:65536", None),
            ("1.2.3.4:123456789012", None),
            ("1.2.3", None),
            ("1.2.3.4.5", None),
            ("1.2.3.1234", None),
        ] {
            assert_eq!(plain_sent_by(text.as_bytes()).map(|(_, n)| n), expected, "{text}");
            assert_eq!(plain_sent_by(text.as_bytes()), plain_sent_by_reference(text.as_bytes()));
        }
    }

    /// [`request`] as a peer sends it: written out and parsed (the parser's memos, such as
    /// [`Message::plain_top_via`], are then there).
    fn received(uri: &str, via: &str) -> Option<Message> {
        Message::parse(request(uri, via).to_bytes()).ok()
    }

    #[test]
    fn a_judged_top_via_reads_as_the_plain_one() {
        let m = received("sip:bob@example.com", "SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bKa")
            .unwrap();
        let (value, branch) = m.plain_top_via().expect("judged");
        let plain = plain_via_judged(value, branch).expect("plain");
        assert_eq!(Some(plain), plain_via(value));
        assert_eq!(plain.branch, Some(&b"z9hG4bKa"[..]));
        assert_eq!(plain.rport_end, Some(6));
        // A host name and a `received` are judged, but not plain.
        for via in [
            "SIP/2.0/UDP client.example.com;branch=z9hG4bKa",
            "SIP/2.0/UDP 192.0.2.1;received=192.0.2.2;branch=z9hG4bKa",
            "SIP/2.0/UDP 192.0.2.1;rport=5060;branch=z9hG4bKa",
        ] {
            let m = received("sip:bob@example.com", via).unwrap();
            let (value, branch) = m.plain_top_via().expect("judged");
            assert_eq!(plain_via_judged(value, branch), None, "{via}");
            assert_eq!(plain_via(value), None, "{via}");
        }
        // An edited Via is not judged any more; a built message never is.
        let mut edited = m.clone();
        edited.push_front(HeaderName::Via, "SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKx").unwrap();
        assert_eq!(edited.plain_top_via(), None);
        assert_eq!(
            request("sip:b@h", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa").plain_top_via(),
            None
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// A line without a comma reads as the splitter reads it.
        #[test]
        fn a_lone_value_is_the_split_one(
            line in proptest::collection::vec(
                proptest::sample::select(b" \t\r\n,<>\";=abc".to_vec()), 0..12),
        ) {
            if let Some(lone) = lone_value(&line) {
                proptest::prop_assert_eq!(lone.into_iter().collect::<Vec<_>>(),
                    list_values(&line).collect::<Vec<_>>());
            }
        }

        /// Top Vias of many shapes, parsed: where the parser judged the value plain-shaped,
        /// the reading that knows the shape is the one that walks it, and the top Via read
        /// either way gives the same loop hash and `received` stamp.
        #[test]
        fn the_judged_reading_is_the_walked_one(
            transport in proptest::sample::select(vec!["UDP", "TCP", "udp"]),
            host in proptest::sample::select(vec![
                "192.0.2.1", "192.0.2.1:5060", "10.0.0.255:65535", "example.com",
                "01.2.3.4", "256.1.1.1", "1.2.3.4:0", "1.2.3.4:65536", "[2001:db8::1]:5070",
            ]),
            params in proptest::collection::vec(proptest::sample::select(vec![
                ";branch=z9hG4bKa1", ";branch=x", ";branch=", ";rport", ";rport=5060",
                ";received=192.0.2.9", ";RPORT", ";rportx", ";ttl=1", ";Branch=z9hG4bKb",
                ", SIP/2.0/UDP 192.0.2.3", " ;rport",
            ]), 0..5),
        ) {
            let via = format!("SIP/2.0/{transport} {host}{}", params.concat());
            if let Some(m) = received("sip:bob@example.com", &via) {
                let line = m.header_lines(HeaderName::Via).next();
                if let Some((value, branch)) = m.plain_top_via() {
                    proptest::prop_assert_eq!(Some(value), line);
                    // The top value (what `stateless_unique` hashes) is the whole line.
                    proptest::prop_assert_eq!(Some(value), m.top_via());
                    proptest::prop_assert_eq!(plain_via_judged(value, branch), plain_via(value));
                }
                let walked = match line.and_then(plain_via) {
                    Some(plain) => TopVia::Plain(plain),
                    None => TopVia::Typed(m.typed::<Via<'_>>()),
                };
                let top = TopVia::of(&m);
                proptest::prop_assert_eq!(top.sent_by_and_branch(), walked.sent_by_and_branch());
                for stateless in [false, true] {
                    proptest::prop_assert_eq!(
                        loop_hash_read(&m, stateless, Some(&top)),
                        loop_hash_read(&m, stateless, Some(&walked))
                    );
                    proptest::prop_assert_eq!(
                        loop_hash_with(&m, stateless, Some(&top)),
                        loop_hash(&m, stateless)
                    );
                    // A kept buffer, left holding other fields (and spilled), digests the same.
                    let mut kept = Fields::scratch();
                    kept.reset(STATELESS).push(&[7; FIELDS_INLINE + 1]);
                    proptest::prop_assert_eq!(
                        loop_hash_read_in(&mut kept, &m, stateless, Some(&top)),
                        loop_hash_read(&m, stateless, Some(&top))
                    );
                    proptest::prop_assert_eq!(
                        loop_hash_read_in(&mut kept, &m, stateless, Some(&top)),
                        loop_hash_read(&m, stateless, Some(&top))
                    );
                    proptest::prop_assert_eq!(
                        stateless_unique_in(&mut kept, &m),
                        stateless_unique(&m)
                    );
                }
                for source in ["192.0.2.1:5060", "192.0.2.1:5070", "198.51.100.9:5060"] {
                    let addr: std::net::SocketAddr = source.parse().unwrap();
                    proptest::prop_assert_eq!(top.stamped(addr), walked.stamped(addr));
                }
            }
        }
    }

    /// An INVITE from Alice to `uri` with top Via `via` (also for the proxy's tests).
    pub(crate) fn request(uri: &str, via: &str) -> Message {
        MessageBuilder::request(&Method::Invite, uri)
            .header(HeaderName::Via, via)
            .header(HeaderName::MaxForwards, "70")
            .header(HeaderName::To, "<sip:bob@example.com>")
            .header(HeaderName::From, "<sip:alice@example.com>;tag=a")
            .header(HeaderName::CallId, "c1")
            .header(HeaderName::CSeq, "1 INVITE")
            .build()
            .unwrap()
    }

    #[test]
    fn loop_hash_ignores_the_top_via_and_max_forwards_but_not_the_request_uri() {
        // RFC 3261 §16.3 step 4 with §16.6 step 8: a spiral changes the Request-URI.
        let a = request("sip:bob@example.com", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa");
        let mut b = a.clone();
        b.push_front(HeaderName::Via, "SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKx").unwrap();
        b.decrement_max_forwards().unwrap();
        assert_eq!(loop_hash(&a, false), loop_hash(&b, false));
        let mut c = a.clone();
        c.set_request_uri("sip:bob@192.0.2.5").unwrap();
        assert_ne!(loop_hash(&a, false), loop_hash(&c, false));
    }

    #[test]
    fn loop_hash_with_the_parsed_top_via_is_the_loop_hash() {
        // The shared parse of the top Via gives the same hash, for one Via or several, and for
        // a Via the typed parser refuses (hashed as written).
        for vias in [
            &["SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa;rport"][..],
            &["SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa;received=nonsense"],
            &[
                "SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKx",
                "SIP/2.0/TCP client.example.com;branch=z9hG4bKb",
            ],
            &[
                "SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKx, SIP/2.0/UDP [2001:db8::1]:5070;branch=z9hG4bKc",
            ],
        ] {
            let mut m = request("sip:bob@example.com", vias[0]);
            for via in &vias[1..] {
                m.push_back(HeaderName::Via, *via).unwrap();
            }
            for stateless in [false, true] {
                let top = TopVia::Typed(m.typed::<Via<'_>>());
                assert_eq!(loop_hash_with(&m, stateless, Some(&top)), loop_hash(&m, stateless));
                let top = TopVia::of(&m);
                assert_eq!(loop_hash_with(&m, stateless, Some(&top)), loop_hash(&m, stateless));
                // The lone branch is given for exactly one Via value, as the typed parser
                // reads it (none for a Via it refuses).
                let lone = loop_hash_read(&m, stateless, Some(&top)).1.lone_branch;
                let values: Vec<_> = m.typed_all::<Via<'_>>().collect();
                let typed = match values.as_slice() {
                    [Ok(via)] => Some(via.branch().unwrap_or_default().as_bytes()),
                    _ => None,
                };
                assert_eq!(lone, typed, "{vias:?}");
            }
        }
        // The pass notes Proxy-Require and Proxy-Authorization lines, and only those.
        for (name, value) in [
            (HeaderName::ProxyRequire, "foo"),
            (HeaderName::ProxyAuthorization, "Digest username=\"a\""),
            (HeaderName::Require, "foo"),
        ] {
            let mut m = request("sip:bob@example.com", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa");
            assert!(!loop_hash_read(&m, false, None).1.proxy_lines);
            m.push_back(name, value).unwrap();
            let expected = m.has(HeaderName::ProxyRequire) || m.has(HeaderName::ProxyAuthorization);
            assert_eq!(loop_hash_read(&m, false, None).1.proxy_lines, expected, "{name:?}");
        }
        // The refused Via is hashed as written, not as an empty one.
        let bad = request("sip:b@h", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa;received=nonsense");
        let other = request("sip:b@h", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa;received=x");
        assert_ne!(loop_hash(&bad, false), loop_hash(&other, false));
    }

    /// The loop hash as it was computed before the one-pass scan of the header lines (each
    /// header read on its own through `values` and `header_lines`): what the proptest below
    /// holds [`loop_hash_with`] to.
    fn loop_hash_reference(request: &Message, for_stateless: bool) -> Hex16 {
        let mut h = Fields::new(LOOP);
        let to_tag = if for_stateless { None } else { request.to_tag_bytes() };
        field(&mut h, to_tag.unwrap_or_default());
        field(&mut h, request.from_tag_bytes().unwrap_or_default());
        field(&mut h, request.call_id_bytes().unwrap_or_default());
        field(&mut h, utf8_request_uri(request));
        field(&mut h, &request.cseq_number().unwrap_or_default().to_le_bytes());
        let mut vias = request.values(HeaderName::Via);
        let first = vias.next();
        let later = vias.last();
        if let Some(bottom) = later.or(first) {
            let parsed = std::str::from_utf8(bottom)
                .ok()
                .map(Via::parse)
                .and_then(Result::ok)
                .map(|via| (via.sent_by(), via.branch().unwrap_or_default()));
            match parsed {
                Some((sent_by, branch)) => {
                    field(&mut h, sent_by.as_bytes());
                    field(&mut h, branch.as_bytes());
                }
                None => field(&mut h, bottom),
            }
        }
        for route in request.values(HeaderName::Route) {
            field(&mut h, route);
        }
        if !for_stateless {
            for line in request.header_lines(HeaderName::ProxyRequire) {
                field(&mut h, line);
            }
            for line in request.header_lines(HeaderName::ProxyAuthorization) {
                field(&mut h, line);
            }
        }
        h.finish()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]

        /// The one-pass loop hash equals the reference, whatever Via, Route, Proxy-Require and
        /// Proxy-Authorization lines (several values a line, empty lines, fields past the
        /// inline buffer) the request holds, with and without the shared top Via.
        #[test]
        fn the_one_pass_loop_hash_is_the_reference(
            top in proptest::sample::select(vec![
                "SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bKa",
                "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa;received=nonsense",
                "SIP/2.0/TCP h.example.com;branch=z9hG4bKb, SIP/2.0/UDP 192.0.2.2;branch=z9hG4bKc",
            ]),
            lines in proptest::collection::vec((
                proptest::sample::select(vec![
                    HeaderName::Via, HeaderName::Route, HeaderName::ProxyRequire,
                    HeaderName::ProxyAuthorization, HeaderName::Contact,
                ]),
                proptest::sample::select(vec![
                    "SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKx".to_owned(),
                    "SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKx, SIP/2.0/TCP [2001:db8::1];branch=y"
                        .to_owned(),
                    "<sip:192.0.2.10;lr>".to_owned(),
                    "<sip:a@192.0.2.10;lr>, <sip:b,c@h;lr>".to_owned(),
                    "\"x, y\" <sip:h>".to_owned(),
                    "foo, bar".to_owned(),
                    "".to_owned(),
                    format!("<sip:{}@h;lr>", "u".repeat(600)),
                ]),
            ), 0..6),
            to_tag in proptest::bool::ANY,
        ) {
            let mut m = request("sip:bob@example.com", top);
            if to_tag {
                m.set(HeaderName::To, "<sip:bob@example.com>;tag=9").unwrap();
            }
            for (name, value) in &lines {
                let _ = m.push_back(*name, value.clone());
            }
            for stateless in [false, true] {
                let expected = loop_hash_reference(&m, stateless);
                proptest::prop_assert_eq!(loop_hash(&m, stateless), expected);
                let top = TopVia::of(&m);
                proptest::prop_assert_eq!(loop_hash_with(&m, stateless, Some(&top)), expected);
            }
        }
    }

    #[test]
    fn replacing_the_top_via_gives_the_bytes_of_pop_and_push() {
        let new = "SIP/2.0/UDP 192.0.2.1:5060;rport=5060;branch=z9hG4bKa;received=192.0.2.1";
        let mut cases = Vec::new();
        // One Via, first: the `set` path.
        cases.push(request("sip:b@h", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa;rport"));
        // One Via, not first.
        let mut m = request("sip:b@h", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa;rport");
        m.pop_front(HeaderName::Via).unwrap();
        m.push_back(HeaderName::Via, "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa;rport").unwrap();
        cases.push(m);
        // Two values on the first line; two lines.
        let mut m = request("sip:b@h", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa, SIP/2.0/TCP h2");
        cases.push(m.clone());
        m.push_back(HeaderName::Via, "SIP/2.0/UDP h3;branch=z9hG4bKc").unwrap();
        cases.push(m);
        // Compact name on the wire.
        let raw = "INVITE sip:b@h SIP/2.0\r\nv: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa\r\n\
                   Max-Forwards: 70\r\nTo: <sip:b@h>\r\nFrom: <sip:a@h>;tag=1\r\n\
                   Call-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
        cases.push(Message::parse(Bytes::from(raw)).unwrap());
        for case in cases {
            let mut fast = case.clone();
            replace_top_via(&mut fast, new.to_owned());
            let mut slow = case.clone();
            slow.pop_front(HeaderName::Via).unwrap();
            slow.push_front(HeaderName::Via, new).unwrap();
            assert_eq!(fast.to_bytes(), slow.to_bytes());
        }
    }

    #[test]
    fn decimal_and_dotted_quad_as_display_writes_them() {
        for (ip, port) in [("0.0.0.0", 0_u16), ("10.0.0.255", 9), ("192.0.2.7", 65535)] {
            let addr = std::net::SocketAddr::new(ip.parse().unwrap(), port);
            let via = Via::parse("SIP/2.0/UDP host.example.com;rport;branch=z9hG4bKa").unwrap();
            let stamped = stamped_via(&via, addr).unwrap();
            let want =
                format!("SIP/2.0/UDP host.example.com;rport={port};branch=z9hG4bKa;received={ip}");
            assert_eq!(stamped, want);
        }
        let v6: std::net::SocketAddr = "[2001:db8::7]:5062".parse().unwrap();
        let via = Via::parse("SIP/2.0/UDP [2001:db8::1];branch=z9hG4bKa").unwrap();
        assert_eq!(
            stamped_via(&via, v6).unwrap(),
            "SIP/2.0/UDP [2001:db8::1];branch=z9hG4bKa;received=2001:db8::7"
        );
    }

    #[test]
    fn split_parameters_stamp_as_the_lexed_ones() {
        // RFC 3261 §18.2.1, RFC 3581 §4: reading the parameters by splitting their text gives
        // the Via the parameter lexer gives, at its exact length; text the split would misread
        // (whitespace, quoted strings) goes the lexer's way.
        let sources: Vec<std::net::SocketAddr> = [
            "192.0.2.7:5090",
            "10.0.0.1:5060",
            "100.20.3.255:1",
            "0.0.0.0:0",
            "[2001:db8::7]:5062",
        ]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
        let mut split_used = 0;
        for via in [
            "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa;rport",
            "SIP/2.0/UDP 192.0.2.7:5090;branch=z9hG4bKa;rport",
            "SIP/2.0/UDP client.example.com;rport;branch=z9hG4bKa",
            "SIP/2.0/TCP client.example.com:5070;branch=z9hG4bKa;received=192.0.2.99",
            "SIP/2.0/UDP h;RPORT;Received=192.0.2.99;BRANCH=z9hG4bKa;ttl=3;maddr=224.0.1.75",
            "SIP/2.0/UDP h;rport=5060;branch=z9hG4bKa;x;y=1;received=192.0.2.1;z",
            "SIP/2.0/UDP h;branch=z9hG4bKa;rport;rport",
            "SIP/2.0/UDP [2001:db8::1]:5070;branch=z9hG4bKa;maddr=[2001:db8::9]",
            "SIP/2.0/UDP h;branch=z9hG4bKa;x=\"a;b=c\";rport",
            "SIP/2.0/UDP h ; branch = z9hG4bKa ; rport",
            "SIP / 2.0 / UDP h:5060;branch=z9hG4bKa;rport",
            "SIP/2.0/UDP h",
        ] {
            let parsed = Via::parse(via).unwrap();
            for &addr in &sources {
                let split = stamped_via_with(&parsed, addr, true);
                let lexed = stamped_via_with(&parsed, addr, false);
                assert_eq!(split, lexed, "{via} from {addr}");
                if let Some(split) = split {
                    if plain_params(parsed.params().as_str()).is_some() {
                        split_used += 1;
                        assert_eq!(split.len(), split.capacity(), "{via} from {addr}");
                    }
                }
            }
        }
        assert!(split_used >= 15, "{split_used}");
    }

    #[test]
    fn the_loop_hash_digests_the_named_fields_and_is_pinned() {
        // The loop part is the digest of the fields, in order; its value is pinned so that a
        // change of the digest (which changes every branch on the wire) is deliberate.
        let m = request("sip:bob@example.com", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa");
        let mut h = Fields::new(LOOP);
        for f in [&b""[..], b"a", b"c1", b"sip:bob@example.com", &1_u32.to_le_bytes()] {
            field(&mut h, f);
        }
        field(&mut h, b"192.0.2.1:5060");
        field(&mut h, b"z9hG4bKa");
        let digest = h.finish();
        assert_eq!(loop_hash(&m, false), digest);
        assert_eq!(hex_str(&digest), "c24334f1482b0e71");
    }

    #[test]
    fn fields_past_the_inline_buffer_digest_their_whole_input() {
        // The stack buffer and its spill give the digest of the same length-prefixed input.
        for sizes in [&[10_usize, 20][..], &[500, 3], &[504], &[505], &[300, 300, 300], &[2000]] {
            let mut h = Fields::new(STATELESS);
            let mut input = Vec::new();
            for (k, &n) in sizes.iter().enumerate() {
                let f: Vec<u8> = (0..n).map(|i| (i + k) as u8).collect();
                field(&mut h, &f);
                input.extend_from_slice(&(n as u64).to_le_bytes());
                input.extend_from_slice(&f);
            }
            assert_eq!(h.finish(), hex16(xxh3_64_with_seed(&input, STATELESS)), "{sizes:?}");
        }
    }

    #[test]
    fn every_byte_and_every_field_boundary_moves_the_digest() {
        let digest = |fields: &[&[u8]]| {
            let mut h = Fields::new(LOOP);
            for f in fields {
                field(&mut h, f);
            }
            h.finish()
        };
        // Where one field ends and the next begins, and trailing zeros (the padding).
        assert_ne!(digest(&[b"ab", b"c"]), digest(&[b"a", b"bc"]));
        assert_ne!(digest(&[b"a"]), digest(&[b"a\0"]));
        assert_ne!(digest(&[b""]), digest(&[]));
        assert_ne!(digest(&[b"", b""]), digest(&[b""]));
        // Any bit of any byte, for lengths around the 16-byte blocks.
        let mut seen = std::collections::HashSet::new();
        for len in 0..50_usize {
            let base: Vec<u8> = (0..len).map(|k| (k * 7) as u8).collect();
            assert!(seen.insert(digest(&[&base])), "len {len}");
            for at in 0..len {
                for bit in 0..8 {
                    let mut flipped = base.clone();
                    flipped[at] ^= 1 << bit;
                    assert!(seen.insert(digest(&[&flipped])), "len {len} byte {at} bit {bit}");
                }
            }
        }
        // The domains keep the uses apart.
        let mut a = Fields::new(LOOP);
        let mut b = Fields::new(STATELESS);
        field(&mut a, b"x");
        field(&mut b, b"x");
        assert_ne!(a.finish(), b.finish());
    }

    #[test]
    fn stateless_branch_is_stable_and_distinct_per_transaction() {
        // RFC 3261 §16.11: retransmissions get the same branch.
        let a = request("sip:bob@example.com", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa");
        let b = request("sip:bob@example.com", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKb");
        let l = loop_hash(&a, true);
        assert_eq!(stateless_branch(&a, &l), stateless_branch(&a.clone(), &l));
        assert_ne!(stateless_branch(&a, &l), stateless_branch(&b, &l));
        assert_eq!(loop_part_of(&stateless_branch(&a, &l)), Some(hex_str(&l)));
        // Without the loop part: the same unique part, the same stability.
        let plain = stateless_branch_without_loop_part(&a);
        assert_eq!(plain, stateless_branch_without_loop_part(&a.clone()));
        assert_ne!(plain, stateless_branch_without_loop_part(&b));
        assert_eq!(format!("{plain}.{}", hex_str(&l)), stateless_branch(&a, &l));
        assert_eq!(loop_part_of(&plain), None);
    }

    #[test]
    fn request_uri_form_drops_headers_and_method() {
        // RFC 3261 §19.1.1 table 1: no headers and no method in a Request-URI.
        assert_eq!(
            request_uri_form("sip:bob@h;method=INVITE;lr?subject=x"),
            "sip:bob@h;lr".to_owned()
        );
        assert!(matches!(request_uri_form("sip:bob@h;lr"), Cow::Borrowed(_)));
    }

    #[test]
    fn the_hashed_request_uri_is_what_request_uri_str_reads() {
        let of = |uri: &[u8]| {
            let mut raw = b"OPTIONS ".to_vec();
            raw.extend_from_slice(uri);
            raw.extend_from_slice(b" SIP/2.0\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
            Message::parse(Bytes::from(raw)).unwrap()
        };
        for uri in
            [&b"sip:b@example.com"[..], "sip:j\u{f6}rg@example.com".as_bytes(), b"sip:\xff@h"]
        {
            let m = of(uri);
            assert_eq!(
                utf8_request_uri(&m),
                m.request_uri_str().unwrap_or_default().as_bytes(),
                "{uri:?}"
            );
        }
        assert_eq!(utf8_request_uri(&of(b"sip:\xff@h")), b"");
    }

    #[test]
    fn strict_route_postprocessing_moves_the_request_uri_to_the_end() {
        // RFC 3261 §16.12.1.2: P4 reformats for the strict router P3.
        let mut m = request("sip:caller@u1.example.com", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa");
        m.push_back(HeaderName::Route, "<sip:p3.middle.com>, <sip:p2.example.com;lr>").unwrap();
        m.push_back(HeaderName::Route, "<sip:p1.example.com;lr>").unwrap();
        assert!(postprocess_strict_route(&mut m));
        assert_eq!(m.request_uri_str(), Some("sip:p3.middle.com"));
        let routes: Vec<_> = m.values(HeaderName::Route).collect();
        assert_eq!(
            routes,
            [
                &b"<sip:p2.example.com;lr>"[..],
                b"<sip:p1.example.com;lr>",
                b"<sip:caller@u1.example.com>"
            ]
        );
    }

    #[test]
    fn received_and_rport_are_stamped() {
        // RFC 3261 §18.2.1, RFC 3581 §4.
        let mut m = request("sip:b@h", "SIP/2.0/UDP client.example.com;rport;branch=z9hG4bKa");
        stamp_received(&mut m, Target::udp("192.0.2.7:5090".parse().unwrap()));
        assert_eq!(
            m.top_via(),
            Some(
                &b"SIP/2.0/UDP client.example.com;rport=5090;branch=z9hG4bKa;received=192.0.2.7"[..]
            )
        );
        let mut same = request("sip:b@h", "SIP/2.0/UDP 192.0.2.7:5090;branch=z9hG4bKa");
        stamp_received(&mut same, Target::udp("192.0.2.7:5090".parse().unwrap()));
        assert_eq!(same.top_via(), Some(&b"SIP/2.0/UDP 192.0.2.7:5090;branch=z9hG4bKa"[..]));
    }

    /// What the typed parser reads of `value`, in [`PlainVia`]'s terms (`None` if it refuses).
    fn typed_view(value: &str) -> Option<(String, String, Host<'_>, String, Option<String>, bool)> {
        let via = Via::parse(value).ok()?;
        let fill = via.has_rport() && via.rport().is_none();
        Some((
            format!("{}/{}/{}", via.protocol_name(), via.protocol_version(), via.transport()),
            via.sent_by().to_owned(),
            via.host(),
            via.params().as_str().to_owned(),
            via.branch().map(str::to_owned),
            fill,
        ))
    }

    /// Checks the plain reading of `value`, when there is one, against the typed parser's, and
    /// the loop hash and `received` stamp made from either; returns whether it was plain.
    fn check_plain(value: &str) -> bool {
        let Some(plain) = plain_via(value.as_bytes()) else { return false };
        let typed = typed_view(value).expect("a plain Via parses");
        let text = |b: &[u8]| std::str::from_utf8(b).unwrap().to_owned();
        assert_eq!(typed.0, format!("SIP/2.0/{}", text(plain.transport)), "{value}");
        assert_eq!(typed.1, text(plain.sent_by), "{value}");
        assert_eq!(typed.2, Host::Ipv4(plain.host), "{value}");
        assert_eq!(typed.3, text(plain.params), "{value}");
        assert_eq!(typed.4, plain.branch.map(text), "{value}");
        assert_eq!(typed.5, plain.has_rport, "{value}");
        assert!(plain.params.is_empty() || plain_params(&text(plain.params)).is_some(), "{value}");
        let parsed = Via::parse(value).unwrap();
        for source in [
            "192.0.2.1:5060",
            "192.0.2.1:5070",
            "198.51.100.9:5060",
            "10.20.255.0:5060",
            "[2001:db8::9]:5062",
        ] {
            let addr: std::net::SocketAddr = source.parse().unwrap();
            let fast = TopVia::Plain(plain).stamped(addr);
            assert_eq!(fast, stamped_via(&parsed, addr), "{value} from {source}");
        }
        let m = request("sip:bob@example.com", value);
        let top = TopVia::of(&m);
        assert!(matches!(top, TopVia::Plain(_)), "{value}");
        for stateless in [false, true] {
            assert_eq!(loop_hash_with(&m, stateless, Some(&top)), loop_hash(&m, stateless));
        }
        true
    }

    #[test]
    fn the_vias_user_agents_write_read_plain_as_the_typed_parser_reads_them() {
        for value in [
            "SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bKYNytaa59n1CPEofz",
            "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKmX0Bfms0MtTkt5Zd;rport",
            "SIP/2.0/TCP 10.0.0.1;branch=z9hG4bK776asdhds",
            "SIP/2.0/UDP 0.0.0.0:1",
            "SIP/2.0/UDP 255.255.255.255:65535;x;y=z;Branch=A.b-c_d!e%f*g+h`i'j~k",
            "SIP/2.0/WSS 203.0.113.5:443;RPORT;branch=z9hG4bKx;alias",
        ] {
            assert!(check_plain(value), "{value} is plain");
        }
        for value in [
            "SIP/2.0/UDP host.example.com;branch=z9hG4bKa",
            "SIP/2.0/UDP [2001:db8::1];branch=z9hG4bKa",
            "SIP/2.0/UDP 192.0.2.1:5060;received=192.0.2.9;branch=z9hG4bKa",
            "SIP/2.0/UDP 192.0.2.1;rport=5060;branch=z9hG4bKa",
            "SIP/2.0/UDP 192.0.2.1;maddr=224.0.0.1;ttl=1",
            "SIP/2.0/UDP 192.0.2.1;branch",
            "SIP/2.0/UDP 192.0.2.1;branch=a;branch=b",
            "SIP/2.0/UDP 192.0.2.01;branch=a",
            "SIP/2.0/UDP 192.0.2.256;branch=a",
            "SIP/2.0/UDP 192.0.2.1:05060;branch=a",
            "SIP/2.0/UDP 192.0.2.1:65536",
            "SIP/2.0/UDP 192.0.2.1 ;branch=a",
            "SIP/2.0/UDP 192.0.2.1;branch=\"a\"",
            "SIP/2.0/UDP 192.0.2.1;;branch=a",
            "SIP/2.0/UDP 192.0.2.1;x=",
            "SIP/2.0/UDP  192.0.2.1",
            "sip/2.0/UDP 192.0.2.1",
            "SIP/2.0/UDP 1.2.3",
            "SIP/2.0/UDP 1.2.3.4.5",
        ] {
            assert!(!check_plain(value), "{value} is left to the typed parser");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Any Via made of the usual pieces and some unusual ones: where the plain reading
        /// applies, it agrees with the typed parser on every field, stamp and hash.
        #[test]
        fn a_plain_via_reads_as_the_typed_parser_reads_it(
            transport in proptest::sample::select(vec!["UDP", "TCP", "tls", "WS", "X-1", ""]),
            sep in proptest::sample::select(vec![" ", "  ", "\t", ""]),
            octets in proptest::collection::vec(
                proptest::sample::select(vec!["0", "1", "00", "01", "9", "10", "99", "100",
                    "255", "256", "999", "1000", "a"]), 3..6),
            port in proptest::sample::select(vec!["", ":5060", ":0", ":1", ":05060", ":65535",
                ":65536", ":123456", ":", ":x"]),
            params in proptest::collection::vec(proptest::sample::select(vec![
                ";branch=z9hG4bK1", ";branch=x.Y-z", ";branch", ";branch=", ";rport", ";RPORT",
                ";rport=5060", ";received=192.0.2.9", ";received=x", ";maddr=h", ";ttl=1",
                ";x", ";x=y", ";a=b=c", ";", ";q=\"s\"", " ;x", "; x", ";x y", ";é", ",",
                ";lr", ";%41=~'`"]), 0..4),
        ) {
            let value = format!("SIP/2.0/{transport}{sep}{}{port}{}", octets.join("."),
                params.concat());
            check_plain(&value);
        }
    }
}
