//! `sip call`, `sip register` and `sip options`: one user agent core on its own transaction
//! table, driven by the mio runtime on an ephemeral port, doing one thing and exiting.
//!
//! Every response is printed as it arrives (`<- 180 Ringing (1 INVITE)`), from the table's
//! events before the UA core sees them, so 100 (Trying) and challenges show too. Exit status:
//! 0 when the action succeeded (a call answered and ended cleanly, a 2xx to OPTIONS, a
//! registration accepted or removed), 1 when it did not (a failure response, no response, the
//! `--timeout`), 2 for usage errors (a bad URI, no socket).

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use sip_message::{Message, SipUri};
use sip_runtime::{ListenAddr, Runtime, RuntimeConfig, Stack, TransportError};
use sip_transaction::{
    Event, Output, Target, TransactionConfig, TransactionTable, Transmit, Transport,
};
use sip_ua::{
    Body, CallId, EndReason, Invite, Register, StaticCredentials, UaConfig, UaCore, UaEvent,
};

use crate::sdp;
use crate::serve::{os_seed, parse_period};

/// Arguments of `sip call`.
#[derive(Debug, clap::Args)]
pub(crate) struct CallArgs {
    /// The SIP URI to call, e.g. sip:bob@127.0.0.1:5060 (`;transport=tcp` for TCP).
    uri: String,
    /// How long to stay in the call once it is answered, in seconds, before the BYE.
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = parse_seconds)]
    duration: Duration,
    /// The From URI (default: sip:USER@LOCAL_IP:PORT).
    #[arg(long, value_name = "URI")]
    from: Option<String>,
    /// User name for the From (default `sip`) and for digest authentication.
    #[arg(long, value_name = "U")]
    user: Option<String>,
    /// Password for digest challenges (RFC 3261 §22.2).
    #[arg(long, value_name = "P", requires = "user")]
    password: Option<String>,
    /// Give up when the call has not ended this many seconds after the duration.
    #[arg(long, value_name = "SECONDS", default_value = "32", value_parser = parse_period)]
    timeout: Duration,
}

/// Arguments of `sip register`.
#[derive(Debug, clap::Args)]
pub(crate) struct RegisterArgs {
    /// The registrar, e.g. sip:127.0.0.1:5060; the address-of-record is sip:USER@HOST of that URI.
    registrar: String,
    /// The user to register.
    #[arg(long, value_name = "U")]
    user: String,
    /// Password for digest challenges.
    #[arg(long, value_name = "P")]
    password: Option<String>,
    /// The expiry to ask for in seconds; 0 removes the binding (RFC 3261 §10.2.2).
    #[arg(long, value_name = "S", default_value_t = 3600)]
    expires: u32,
    /// The Contact to bind (default: sip:USER@LOCAL_IP:PORT).
    #[arg(long, value_name = "URI")]
    contact: Option<String>,
    /// Give up after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value = "32", value_parser = parse_period)]
    timeout: Duration,
}

/// Arguments of `sip options`.
#[derive(Debug, clap::Args)]
pub(crate) struct OptionsArgs {
    /// The SIP URI to ask, e.g. sip:127.0.0.1:5060.
    uri: String,
    /// Give up after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value = "32", value_parser = parse_period)]
    timeout: Duration,
}

fn parse_seconds(s: &str) -> Result<Duration, String> {
    if s.trim() == "0" { Ok(Duration::ZERO) } else { parse_period(s) }
}

/// What the client does.
#[derive(Debug)]
enum Action {
    Call { uri: String, from: Option<String>, duration: Duration },
    Register { registrar: String, aor: String, contact: Option<String>, expires: u32 },
    Options { uri: String },
}

pub(crate) fn call(args: &CallArgs) -> ExitCode {
    let action = Action::Call {
        uri: args.uri.clone(),
        from: args.from.as_ref().map(|f| format!("<{}>", f.trim_matches(['<', '>']))),
        duration: args.duration,
    };
    let user = args.user.clone().unwrap_or_else(|| "sip".to_owned());
    let credentials = args.password.clone().map(|p| (user.clone(), p));
    run(&args.uri, action, user, credentials, args.timeout + args.duration)
}

pub(crate) fn register(args: &RegisterArgs) -> ExitCode {
    let registrar = with_scheme(&args.registrar);
    let Ok(uri) = SipUri::parse(&registrar) else {
        eprintln!("sip: not a SIP URI: {}", args.registrar);
        return ExitCode::from(2);
    };
    let scheme = if uri.is_secure() { "sips" } else { "sip" };
    let aor = format!("{scheme}:{}@{}", args.user, uri.host_raw());
    let action = Action::Register {
        registrar: registrar.clone(),
        aor,
        contact: args.contact.clone(),
        expires: args.expires,
    };
    let credentials = args.password.clone().map(|p| (args.user.clone(), p));
    run(&registrar, action, args.user.clone(), credentials, args.timeout)
}

pub(crate) fn options(args: &OptionsArgs) -> ExitCode {
    let uri = with_scheme(&args.uri);
    run(&uri.clone(), Action::Options { uri }, "sip".to_owned(), None, args.timeout)
}

/// `host:port` becomes `sip:host:port`; URIs stay as they are.
fn with_scheme(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("sip:") || lower.starts_with("sips:") {
        s.to_owned()
    } else {
        format!("sip:{s}")
    }
}

fn run(
    next_hop: &str,
    action: Action,
    user: String,
    credentials: Option<(String, String)>,
    timeout: Duration,
) -> ExitCode {
    let (target, host) = match resolve(next_hop) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("sip: {e}");
            return ExitCode::from(2);
        }
    };
    let Target::Addr(transport, remote) = target else { return ExitCode::from(2) };
    if !matches!(transport, Transport::Udp | Transport::Tcp) {
        eprintln!("sip: transport {transport} is not supported (udp or tcp)");
        return ExitCode::from(2);
    }
    let local = ListenAddr { transport, addr: SocketAddr::new(local_ip_for(remote), 0) };
    let config = RuntimeConfig::new().listen(local).shutdown_grace(Duration::from_millis(500));
    let stack = ClientStack::new(action, user, credentials, host.map(|h| (h, target)));
    let mut runtime = match Runtime::bind(config, stack) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sip: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.stack_mut().start(Instant::now(), timeout);
    let handle = runtime.handle();
    let mut code = 1u8;
    let result = runtime.run(|event| match event {
        ClientEvent::Line(line) => println!("{line}"),
        ClientEvent::Done(c) => {
            code = c;
            handle.shutdown();
        }
    });
    if let Err(e) = result {
        eprintln!("sip: the event loop failed: {e}");
        return ExitCode::from(1);
    }
    ExitCode::from(code)
}

/// Where requests for `uri` go: an IP literal directly (RFC 3263 §4 without DNS), a name
/// through the OS resolver (A/AAAA only). Returns the name to teach the UA core, if any.
fn resolve(uri: &str) -> Result<(Target, Option<String>), String> {
    let sip = SipUri::parse(uri).map_err(|_| format!("not a SIP URI: {uri}"))?;
    if let Some(target) = Target::from_uri(&sip) {
        return Ok((target, None));
    }
    let host = sip.host_raw().to_owned();
    let transport = match sip.transport() {
        None if sip.is_secure() => Transport::Tls,
        None => Transport::Udp,
        Some(t) => Transport::from_token(t).ok_or_else(|| format!("unknown transport {t}"))?,
    };
    let port = sip.port().unwrap_or(5060);
    let addrs: Vec<SocketAddr> = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let addr = addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .ok_or_else(|| format!("no address for {host}"))?;
    Ok((Target::Addr(transport, *addr), Some(host)))
}

/// The local address the OS would send from towards `remote` (a connected UDP socket sends
/// nothing), so Via and Contact name an address the peer can reach.
fn local_ip_for(remote: SocketAddr) -> IpAddr {
    let (any, loopback): (SocketAddr, IpAddr) = if remote.is_ipv4() {
        ((Ipv4Addr::UNSPECIFIED, 0).into(), Ipv4Addr::LOCALHOST.into())
    } else {
        ((Ipv6Addr::UNSPECIFIED, 0).into(), Ipv6Addr::LOCALHOST.into())
    };
    UdpSocket::bind(any)
        .and_then(|s| {
            s.connect(remote)?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_unspecified())
        .unwrap_or(loopback)
}

/// What the client stack tells the command.
#[derive(Debug)]
enum ClientEvent {
    Line(String),
    Done(u8),
}

/// A UA core and its table for one action.
struct ClientStack {
    action: Action,
    user: String,
    credentials: Option<(String, String)>,
    host: Option<(String, Target)>,
    seed: u64,
    table: TransactionTable,
    ua: Option<UaCore>,
    local: Option<SocketAddr>,
    transport: Transport,
    /// The RTP port our offer names, held for the call.
    media: Option<UdpSocket>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<ClientEvent>,
    deadline: Option<Instant>,
    hangup_at: Option<Instant>,
    call: Option<CallId>,
    bye_status: Option<u16>,
    done: bool,
}

impl ClientStack {
    fn new(
        action: Action,
        user: String,
        credentials: Option<(String, String)>,
        host: Option<(String, Target)>,
    ) -> ClientStack {
        let seed = os_seed();
        ClientStack {
            action,
            user,
            credentials,
            host,
            seed,
            table: TransactionTable::new(TransactionConfig::default().rng_seed(seed)),
            ua: None,
            local: None,
            transport: Transport::Udp,
            media: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            deadline: None,
            hangup_at: None,
            call: None,
            bye_status: None,
            done: false,
        }
    }

    /// Sends the first request of the action; the loop does the rest.
    fn start(&mut self, now: Instant, timeout: Duration) {
        self.deadline = Some(now + timeout);
        let Some(ua) = &mut self.ua else {
            self.finish(2, "no socket bound".to_owned());
            return;
        };
        let result = match &self.action {
            Action::Call { uri, from, .. } => {
                let ip = self.local.map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |a| a.ip());
                self.media = bind_media(ip);
                let port =
                    self.media.as_ref().and_then(|s| s.local_addr().ok()).map_or(0, |a| a.port());
                let offer = sdp::offer(ip, port, self.seed & 0xffff_ffff);
                let invite =
                    Invite { from: from.clone(), ..Invite::to(uri.clone()) }.body(Body::sdp(offer));
                ua.invite(now, &mut self.table, invite).map(|call| {
                    self.call = Some(call);
                    format!("-> INVITE {uri}")
                })
            }
            Action::Register { registrar, aor, contact, expires } => {
                let mut register = Register::new(registrar.clone(), aor.clone(), *expires);
                register.contact = contact.clone();
                ua.register(now, &mut self.table, register)
                    .map(|_| format!("-> REGISTER {registrar} for {aor} (expires {expires})"))
            }
            Action::Options { uri } => {
                ua.options(now, &mut self.table, uri).map(|_| format!("-> OPTIONS {uri}"))
            }
        };
        match result {
            Ok(line) => self.line(line),
            Err(e) => self.finish(2, format!("cannot send: {e}")),
        }
        self.pump(now);
    }

    fn line(&mut self, line: String) {
        self.events.push_back(ClientEvent::Line(line));
    }

    fn finish(&mut self, code: u8, line: String) {
        if !self.done {
            self.done = true;
            self.line(line);
            self.events.push_back(ClientEvent::Done(code));
        }
    }

    fn pump(&mut self, now: Instant) {
        loop {
            let mut progressed = false;
            while let Some(output) = self.table.poll_output() {
                progressed = true;
                match output {
                    Output::Transmit(t) => self.transmits.push_back(t),
                    Output::Event(event) => self.on_table_event(now, event),
                }
            }
            while let Some(event) = self.ua.as_mut().and_then(UaCore::poll_event) {
                progressed = true;
                self.on_ua_event(now, event);
            }
            if !progressed {
                break;
            }
        }
    }

    fn on_table_event(&mut self, now: Instant, event: Event) {
        match &event {
            Event::Provisional { response, .. }
            | Event::Final { response, .. }
            | Event::Additional2xx { response, .. } => {
                let line = response_line(response);
                if let Event::Final { .. } = event {
                    if response.cseq_method() == Some(&sip_message::Method::Bye) {
                        self.bye_status = response.status();
                    }
                }
                self.line(line);
            }
            Event::Request { request, .. } => {
                let method = request.method().map_or("?", |m| m.as_str());
                let uri = request.request_uri_str().unwrap_or("?");
                let line = format!("<- {method} {uri}");
                self.line(line);
            }
            _ => {}
        }
        if let Some(ua) = &mut self.ua {
            let _ = ua.handle_event(now, &mut self.table, event);
        }
    }

    fn on_ua_event(&mut self, now: Instant, event: UaEvent) {
        match event {
            UaEvent::Answered { .. } => {
                let duration = match self.action {
                    Action::Call { duration, .. } => duration,
                    _ => Duration::ZERO,
                };
                self.line(format!(
                    "call answered; ACK sent; hanging up in {:.1} s",
                    duration.as_secs_f64()
                ));
                self.hangup_at = Some(now + duration);
            }
            UaEvent::Failed { status, response, .. } => {
                let why = if response.is_some() { "" } else { " (no response)" };
                self.finish(1, format!("call failed: {status}{why}"));
            }
            UaEvent::Ended { reason, .. } => match (reason, self.bye_status) {
                (EndReason::LocalBye, Some(200..=299)) => {
                    self.finish(0, "call ended".to_owned());
                }
                (EndReason::RemoteBye, _) => {
                    self.finish(0, "call ended by the far end".to_owned());
                }
                (reason, status) => {
                    let status = status.map_or("no response".to_owned(), |s| s.to_string());
                    self.finish(1, format!("call ended badly: {reason:?}, BYE answered {status}"));
                }
            },
            UaEvent::Response { status, response, final_: true, .. } => {
                let why = if response.is_some() { "" } else { " (no response)" };
                let code = if (200..300).contains(&status) { 0 } else { 1 };
                self.finish(code, format!("final response: {status}{why}"));
            }
            UaEvent::Registered { expires, response, .. } => {
                let bindings = response.values(sip_message::HeaderName::Contact).count();
                self.finish(
                    0,
                    format!("registered for {expires} s ({bindings} binding(s) at the registrar)"),
                );
            }
            UaEvent::RegistrationFailed { status, response, .. } => {
                let why = if response.is_some() { "" } else { " (no response)" };
                self.finish(1, format!("registration failed: {status}{why}"));
            }
            UaEvent::Unregistered { .. } => self.finish(0, "unregistered".to_owned()),
            UaEvent::IncomingCall { call, .. } => {
                // This client places calls; it does not take them.
                if let Some(ua) = &mut self.ua {
                    let _ = ua.reject(now, &mut self.table, call, 486);
                }
            }
            UaEvent::Request { transaction, .. } => {
                if let Some(ua) = &mut self.ua {
                    let _ = ua.respond(now, &mut self.table, transaction, 200, &[], None);
                }
            }
            _ => {}
        }
    }
}

impl Stack for ClientStack {
    type Command = ();
    type Event = ClientEvent;

    fn handle_bound(&mut self, local: &[ListenAddr]) {
        let Some(first) = local.first() else { return };
        let sent_by = first.addr.to_string();
        self.local = Some(first.addr);
        self.transport = first.transport;
        let mut config = UaConfig::new(&self.user, &sent_by).rng_seed(self.seed ^ 0xc1);
        if first.transport == Transport::Tcp {
            config.contact = format!("sip:{}@{sent_by};transport=tcp", self.user);
        }
        config.user_agent = Some(concat!("sip-cli/", env!("CARGO_PKG_VERSION")).to_owned());
        let mut ua = UaCore::new(config);
        if let Some((user, password)) = &self.credentials {
            ua.set_credentials(StaticCredentials::new().fallback(user, password));
        }
        if let Some((host, target)) = &self.host {
            ua.add_host(host.clone(), *target);
        }
        self.ua = Some(ua);
    }

    fn handle_message(&mut self, now: Instant, message: Message, source: Target, _: SocketAddr) {
        self.table.handle_message(now, message, source);
        self.pump(now);
    }

    fn handle_transport_error(&mut self, now: Instant, transmit: &Transmit, error: TransportError) {
        self.line(format!("transport error towards {}: {error}", transmit.target));
        if let Some(id) = transmit.transaction {
            self.table.handle_transport_error(now, id);
        }
        self.pump(now);
    }

    fn handle_command(&mut self, _: Instant, (): ()) {}

    fn handle_timeout(&mut self, now: Instant) {
        self.table.handle_timeout(now);
        self.pump(now);
        if let Some(ua) = &mut self.ua {
            ua.handle_timeout(now, &mut self.table);
        }
        if self.hangup_at.is_some_and(|at| at <= now) {
            self.hangup_at = None;
            let result = match (&mut self.ua, self.call) {
                (Some(ua), Some(call)) => ua.bye(now, &mut self.table, call),
                _ => Ok(()),
            };
            match result {
                Ok(()) => self.line("-> BYE".to_owned()),
                Err(e) => self.finish(1, format!("cannot hang up: {e}")),
            }
        }
        if self.deadline.is_some_and(|at| at <= now) {
            self.deadline = None;
            self.finish(1, "timed out".to_owned());
        }
        self.pump(now);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        [
            self.table.poll_timeout(),
            self.ua.as_ref().and_then(UaCore::poll_timeout),
            self.hangup_at,
            self.deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// `<- 180 Ringing (1 INVITE)`.
fn response_line(response: &Message) -> String {
    format!(
        "<- {} {} ({} {})",
        response.status().unwrap_or(0),
        response.reason().unwrap_or(""),
        response.cseq_number().unwrap_or(0),
        response.cseq_method().map_or("?", |m| m.as_str()),
    )
}

/// An even UDP port on `ip` for the offer's RTP (held for the call; nothing is sent).
fn bind_media(ip: IpAddr) -> Option<UdpSocket> {
    // Spread concurrent clients over the range by process id; RTP ports are even (RFC 3550 §11).
    let base = 30_000 + 2 * u16::try_from(std::process::id() % 2048).unwrap_or(0);
    (0..32u16).find_map(|i| UdpSocket::bind((ip, base + 2 * i)).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_get_a_scheme_and_ip_literals_need_no_resolver() {
        assert_eq!(with_scheme("127.0.0.1:5060"), "sip:127.0.0.1:5060");
        assert_eq!(with_scheme("SIP:a@b"), "SIP:a@b");
        let (target, host) = resolve("sip:bob@127.0.0.1:5070;transport=tcp").unwrap();
        assert_eq!(target, Target::tcp("127.0.0.1:5070".parse().unwrap()));
        assert_eq!(host, None);
        let (target, host) = resolve("sip:localhost:5071").unwrap();
        assert!(matches!(target, Target::Addr(Transport::Udp, a) if a.port() == 5071));
        assert_eq!(host.as_deref(), Some("localhost"));
        assert!(resolve("mailto:x@y").is_err());
    }

    #[test]
    fn the_local_address_towards_loopback_is_loopback() {
        assert_eq!(local_ip_for("127.0.0.1:5060".parse().unwrap()), Ipv4Addr::LOCALHOST);
    }

    #[test]
    fn durations_allow_zero_only_where_it_makes_sense() {
        assert_eq!(parse_seconds("0"), Ok(Duration::ZERO));
        assert_eq!(parse_seconds("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_seconds("-2").is_err());
    }
}
