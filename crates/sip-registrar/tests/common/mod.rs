//! Helpers shared by the integration tests: REGISTER requests and a registrar with a clock.
#![allow(dead_code, unreachable_pub)] // each test file uses a different part

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use sip_message::{Contact, HeaderName, Message};
use sip_registrar::{MemoryStore, Registrar, RegistrarConfig, RegistrarEvent};

/// The wall-clock time every test passes for the Date header: 2010-11-13 23:29:00 UTC.
pub fn wall() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_289_690_940)
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A REGISTER for Bob at biloxi.example.com, with pieces replaceable.
#[derive(Clone, Debug)]
pub struct Req {
    method: String,
    ruri: String,
    to: String,
    call_id: String,
    cseq: u32,
    headers: Vec<String>,
}

impl Req {
    pub fn new() -> Req {
        Req {
            method: "REGISTER".into(),
            ruri: "sip:biloxi.example.com".into(),
            to: "Bob <sip:bob@biloxi.example.com>".into(),
            call_id: "843817637684230@998sdasdh09".into(),
            cseq: 1,
            headers: Vec::new(),
        }
    }

    pub fn method(mut self, m: &str) -> Req {
        self.method = m.into();
        self
    }

    pub fn ruri(mut self, uri: &str) -> Req {
        self.ruri = uri.into();
        self
    }

    pub fn to(mut self, to: &str) -> Req {
        self.to = to.into();
        self
    }

    pub fn call_id(mut self, id: &str) -> Req {
        self.call_id = id.into();
        self
    }

    pub fn cseq(mut self, n: u32) -> Req {
        self.cseq = n;
        self
    }

    /// Adds a whole header line, e.g. `"Contact: <sip:bob@192.0.2.4>"`.
    pub fn header(mut self, line: &str) -> Req {
        self.headers.push(line.into());
        self
    }

    pub fn contact(self, value: &str) -> Req {
        self.header(&format!("Contact: {value}"))
    }

    pub fn text(&self) -> String {
        let mut s = format!(
            "{m} {ruri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP bobspc.biloxi.example.com:5060;branch=z9hG4bKnashds{cseq}\r\n\
             Max-Forwards: 70\r\n\
             To: {to}\r\n\
             From: Bob <sip:bob@biloxi.example.com>;tag=456248\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} {m}\r\n",
            m = self.method,
            ruri = self.ruri,
            to = self.to,
            call_id = self.call_id,
            cseq = self.cseq,
        );
        for h in &self.headers {
            s.push_str(h);
            s.push_str("\r\n");
        }
        s.push_str("Content-Length: 0\r\n\r\n");
        s
    }

    pub fn build(&self) -> Message {
        Message::parse(Bytes::from(self.text())).expect("test request parses")
    }
}

/// A registrar for biloxi.example.com with default settings otherwise.
pub fn registrar() -> Registrar<MemoryStore> {
    registrar_with(RegistrarConfig::default())
}

pub fn registrar_with(config: RegistrarConfig) -> Registrar<MemoryStore> {
    Registrar::new(
        config.domains(sip_registrar::Domains::only(["biloxi.example.com"])),
        MemoryStore::new(),
    )
}

/// `(uri, expires)` of each Contact of a response, in order.
pub fn contacts(response: &Message) -> Vec<(String, Option<u32>)> {
    response
        .typed_all::<Contact>()
        .map(|c| {
            let c = c.expect("response Contact parses");
            (c.uri_str().unwrap_or("*").to_owned(), c.expires())
        })
        .collect()
}

/// Status and reason of a response.
pub fn status(response: &Message) -> (u16, String) {
    (response.status().unwrap_or(0), response.reason().unwrap_or("").to_owned())
}

/// Every event queued, drained.
pub fn events<S: sip_registrar::BindingStore>(r: &mut Registrar<S>) -> Vec<RegistrarEvent> {
    std::iter::from_fn(|| r.poll_event()).collect()
}

/// The values of one header, in order.
pub fn values(m: &Message, name: HeaderName) -> Vec<String> {
    m.values(name).map(|v| String::from_utf8_lossy(v).into_owned()).collect()
}
