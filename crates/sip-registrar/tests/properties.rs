//! Property tests: random sequences of REGISTER operations against a reference model of RFC
//! 3261 §10.3, and arbitrary header values that must never make the registrar panic.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Req, wall};
use proptest::prelude::*;
use sip_message::Message;
use sip_registrar::{
    Aor, Domains, LocationService, MemoryStore, RegisterContext, Registrar, RegistrarConfig,
    RegistrarEvent,
};

const MIN: u32 = 60;
const DEFAULT: u32 = 3600;
const MAX: u32 = 86_400;
const LIMIT: usize = 3;

#[derive(Clone, Debug)]
enum Expires {
    Absent,
    Secs(u32),
    Malformed,
}

impl Expires {
    fn text(&self) -> Option<String> {
        match self {
            Expires::Absent => None,
            Expires::Secs(s) => Some(s.to_string()),
            Expires::Malformed => Some("soon".into()),
        }
    }

    fn requested(&self) -> Option<u32> {
        match self {
            Expires::Absent => None,
            Expires::Secs(s) => Some(*s),
            Expires::Malformed => Some(3600),
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Register { call_id: u8, cseq: u32, contacts: Vec<(u8, Expires)>, header: Expires },
    Star { call_id: u8, cseq: u32, header: Expires, extra: bool },
    Advance(u64),
    Timeout,
}

fn expires() -> impl Strategy<Value = Expires> {
    prop_oneof![
        3 => Just(Expires::Absent),
        6 => prop_oneof![Just(0u32), Just(1), Just(30), Just(59), Just(60), Just(61), Just(120), Just(3600), Just(100_000)]
            .prop_map(Expires::Secs),
        1 => Just(Expires::Malformed),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..3u8, 1..12u32, prop::collection::vec((0..5u8, expires()), 0..4), expires())
            .prop_map(|(call_id, cseq, contacts, header)| Op::Register { call_id, cseq, contacts, header }),
        1 => (0..3u8, 1..12u32, expires(), any::<bool>())
            .prop_map(|(call_id, cseq, header, extra)| Op::Star { call_id, cseq, header, extra }),
        3 => prop_oneof![Just(0u64), Just(1), Just(59), Just(60), Just(61), Just(3600), Just(90_000)].prop_map(Op::Advance),
        1 => Just(Op::Timeout),
    ]
}

fn uri(i: u8) -> String {
    format!("sip:bob@h{i}.example.com")
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct ModelBinding {
    call_id: u8,
    cseq: u32,
    expires_at: Instant,
}

/// The rules of §10.3 steps 6–7 written the simplest way, over contacts named by index.
#[derive(Default, Debug)]
struct Model {
    /// Registration order kept by a sequence number.
    bindings: BTreeMap<u8, (u64, ModelBinding)>,
    order: u64,
}

impl Model {
    fn reap(&mut self, now: Instant) -> usize {
        let before = self.bindings.len();
        self.bindings.retain(|_, (_, b)| b.expires_at > now);
        before - self.bindings.len()
    }

    /// The expected status; applies the change on 200.
    fn register(
        &mut self,
        now: Instant,
        call_id: u8,
        cseq: u32,
        contacts: &[(u8, Expires)],
        header: &Expires,
    ) -> u16 {
        if contacts.is_empty() {
            return 200;
        }
        let mut granted = Vec::new();
        for (i, e) in contacts {
            let requested = e.requested().or(header.requested()).unwrap_or(DEFAULT);
            if requested > 0 && requested < MIN {
                return 423;
            }
            granted.push((*i, requested.min(MAX)));
        }
        let mut next = self.bindings.clone();
        let mut touched = Vec::new();
        let mut order = self.order;
        // A contact removed and listed again in the same request keeps its place.
        let mut seqs: BTreeMap<u8, u64> =
            self.bindings.iter().map(|(i, (s, _))| (*i, *s)).collect();
        for (i, secs) in granted {
            let stale = next.get(&i).is_some_and(|(_, b)| b.call_id == call_id && cseq <= b.cseq);
            if stale && !touched.contains(&i) {
                return 500;
            }
            touched.push(i);
            if secs == 0 {
                next.remove(&i);
            } else {
                let seq = *seqs.entry(i).or_insert_with(|| {
                    order += 1;
                    order
                });
                let expires_at = now + Duration::from_secs(u64::from(secs));
                next.insert(i, (seq, ModelBinding { call_id, cseq, expires_at }));
            }
        }
        let added = next.keys().any(|k| !self.bindings.contains_key(k));
        if added && next.len() > LIMIT {
            return 403;
        }
        self.bindings = next;
        self.order = order;
        200
    }

    fn star(&mut self, call_id: u8, cseq: u32, header: &Expires, extra: bool) -> u16 {
        if extra || !matches!(header, Expires::Secs(0)) {
            return 400;
        }
        if self.bindings.values().any(|(_, b)| b.call_id == call_id && cseq <= b.cseq) {
            return 500;
        }
        self.bindings.clear();
        200
    }

    /// (uri index, remaining seconds) in registration order.
    fn live(&self, now: Instant) -> Vec<(String, u32)> {
        let mut v: Vec<_> = self.bindings.iter().filter(|(_, (_, b))| b.expires_at > now).collect();
        v.sort_by_key(|(_, (seq, _))| *seq);
        v.into_iter()
            .map(|(i, (_, b))| {
                let left = b.expires_at.saturating_duration_since(now);
                (uri(*i), left.as_secs() as u32 + u32::from(left.subsec_nanos() > 0))
            })
            .collect()
    }
}

fn request(call_id: u8, cseq: u32, contacts: &[(u8, Expires)], header: &Expires) -> Req {
    let mut req = Req::new().call_id(&format!("call-{call_id}")).cseq(cseq);
    for (i, e) in contacts {
        req = match e.text() {
            Some(t) => req.contact(&format!("<{}>;expires={t}", uri(*i))),
            None => req.contact(&format!("<{}>", uri(*i))),
        };
    }
    if let Some(t) = header.text() {
        req = req.header(&format!("Expires: {t}"));
    }
    req
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn registrar_follows_the_model(ops in prop::collection::vec(op(), 1..25)) {
        let config = RegistrarConfig::default()
            .domains(Domains::only(["biloxi.example.com"]))
            .min_expires(MIN)
            .default_expires(DEFAULT)
            .max_expires(MAX)
            .max_bindings(Some(LIMIT));
        let mut r = Registrar::new(config, MemoryStore::new());
        let aor = Aor::parse("sip:bob@biloxi.example.com").unwrap();
        let mut model = Model::default();
        let mut now = Instant::now();
        let mut expired_events = 0;
        let mut expired_model = 0;
        // Per contact: the last (Call-ID, CSeq) seen stored, to check monotonicity.
        let mut last_seen: BTreeMap<String, (String, u32)> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Register { call_id, cseq, contacts, header } => {
                    expired_model += model.reap(now);
                    let expected = model.register(now, call_id, cseq, &contacts, &header);
                    let req = request(call_id, cseq, &contacts, &header).build();
                    let resp = r.handle_register(now, wall(), &req, &RegisterContext::new()).unwrap();
                    prop_assert_eq!(resp.status(), Some(expected), "{}", resp);
                    if expected == 200 {
                        let listed: Vec<(String, u32)> = common::contacts(&resp)
                            .into_iter()
                            .map(|(u, e)| (u, e.unwrap_or(0)))
                            .collect();
                        prop_assert_eq!(listed, model.live(now));
                    }
                }
                Op::Star { call_id, cseq, header, extra } => {
                    expired_model += model.reap(now);
                    let expected = model.star(call_id, cseq, &header, extra);
                    let mut req = Req::new().call_id(&format!("call-{call_id}")).cseq(cseq).contact("*");
                    if extra {
                        req = req.contact(&format!("<{}>", uri(0)));
                    }
                    if let Some(t) = header.text() {
                        req = req.header(&format!("Expires: {t}"));
                    }
                    let resp = r.handle_register(now, wall(), &req.build(), &RegisterContext::new()).unwrap();
                    prop_assert_eq!(resp.status(), Some(expected));
                }
                Op::Advance(s) => now += Duration::from_secs(s),
                Op::Timeout => {
                    expired_model += model.reap(now);
                    r.handle_timeout(now);
                }
            }
            while let Some(e) = r.poll_event() {
                if matches!(e, RegistrarEvent::BindingExpired { .. }) {
                    expired_events += 1;
                }
            }
            // Never an expired binding; exactly the model's.
            let found = r.lookup(&aor, now).unwrap();
            prop_assert!(found.iter().all(|l| l.expires_at > now));
            let mut found_uris: Vec<String> = found.iter().map(|l| l.uri.clone()).collect();
            found_uris.sort();
            let mut model_uris: Vec<String> = model.live(now).into_iter().map(|(u, _)| u).collect();
            model_uris.sort();
            prop_assert_eq!(found_uris, model_uris);
            // The timer is the earliest expiry of what the store still holds.
            let model_next = model.bindings.values().map(|(_, b)| b.expires_at).min();
            prop_assert_eq!(r.poll_timeout(), model_next);
            // While a binding lives, the same Call-ID never goes back in CSeq (once it has
            // expired or been removed, anything may register it anew).
            let present = r.bindings(&aor, now).unwrap();
            last_seen.retain(|u, _| present.iter().any(|b| b.uri == *u));
            for b in present {
                if let Some((call_id, cseq)) = last_seen.get(&b.uri) {
                    if *call_id == b.call_id {
                        prop_assert!(b.cseq >= *cseq);
                    }
                }
                last_seen.insert(b.uri.clone(), (b.call_id.clone(), b.cseq));
            }
            prop_assert_eq!(expired_events, expired_model);
        }
    }

    #[test]
    fn arbitrary_header_values_never_panic(
        contact in prop_oneof![
            1 => Just("*".to_owned()),
            6 => concat!(
                "(\"[a-z ]{0,8}\" )?<(sip|SIPS|mailto):[a-z]{1,5}@[a-z]{1,6}(\\.[a-z]{1,4})?",
                "(;[a-z]{1,4})?>(;(q=0\\.[0-9]{1,3}|q=[!-~&&[^;,\"]]{1,4}|expires=[0-9]{1,11}",
                "|expires=[a-z]{1,3}|[a-z+.]{1,8}(=[a-z0-9]{1,8})?)){0,4}",
                "(, <sip:[a-z]{1,3}@h>(;expires=[0-9]{1,3})?)?",
            ),
            1 => "[ -~\t]{0,40}",
        ],
        expires in prop_oneof!["[0-9]{0,12}", "[ -~]{0,12}"],
        to in prop_oneof![
            4 => "<sips?:[a-z0-9]{1,6}(%6[1-9a-f])?@[a-zA-Z]{1,6}(\\.[a-z]{1,6}){0,2}(:[0-9]{1,4})?(;[a-z]{1,4}(=[a-z0-9]{1,4})?)?>",
            1 => "[ -~]{0,40}",
        ],
        require in prop_oneof![4 => Just("path".to_owned()), 1 => "[ -~]{0,16}"],
        path in prop_oneof![4 => "<sip:[a-z]{1,10};lr>", 1 => "[ -~]{0,30}"],
        ruri in prop_oneof![Just("sip:biloxi.example.com".to_owned()), "[!-~]{1,30}"],
    ) {
        let text = format!(
            "REGISTER {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: {to}\r\n\
             From: <sip:a@b>;tag=1\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\nContact: {contact}\r\n\
             Expires: {expires}\r\nRequire: {require}\r\nPath: {path}\r\nContent-Length: 0\r\n\r\n"
        );
        let Ok(msg) = Message::parse(Bytes::from(text)) else { return Ok(()) };
        let mut r = Registrar::new(RegistrarConfig::default(), MemoryStore::new());
        let now = Instant::now();
        let resp = r.handle_register(now, wall(), &msg, &RegisterContext::new()).unwrap();
        let code = resp.status().unwrap();
        prop_assert!([200, 400, 403, 404, 416, 420, 423, 500].contains(&code), "{}", code);
        prop_assert!(Message::parse(resp.to_bytes()).is_ok());
        // Whatever was stored can be listed and looked up again.
        let again = r.handle_register(now, wall(), &msg, &RegisterContext::new()).unwrap();
        prop_assert!(Message::parse(again.to_bytes()).is_ok());
        if code == 200 {
            let to = msg.typed::<sip_message::To>().and_then(Result::ok);
            if let Some(aor) = to.and_then(|to| Aor::from_uri(&to.uri()).ok()) {
                // The 200 lists exactly what a lookup finds.
                let mut listed: Vec<String> =
                    common::contacts(&resp).into_iter().map(|(u, _)| u).collect();
                let mut found: Vec<String> =
                    r.lookup(&aor, now).unwrap().into_iter().map(|l| l.uri).collect();
                listed.sort();
                found.sort();
                prop_assert_eq!(listed, found);
            }
        }
    }
}
