//! `sip serve`: a registrar, a record-routing proxy and an answering user agent in one process,
//! on one transaction table, driven by the mio runtime.
//!
//! Every request the table reports is dispatched once (see [`Inner::on_request`]):
//!
//! - **REGISTER** goes (after digest authentication with `--auth`) to the
//!   [`Registrar`] (RFC 3261 §10.3), which serves any domain;
//! - **a request to go elsewhere**, one whose Route names a hop beyond us or whose Route names
//!   us and Request-URI does not (the in-dialog requests of a dialog we record-routed), goes to
//!   the [`Proxy`] (§16);
//! - **an out-of-dialog request for an address-of-record with bindings** goes to the proxy,
//!   which forks to the bindings (§16.5), or with `--redirect` gets a 302 listing them (§8.3);
//! - **everything else** goes to the user agent core (§8.2), which answers OPTIONS 200 (§11),
//!   BYE 200 (§15.1.2), CANCEL (§9.2) and INVITE with 180 and then 200 with an SDP answer
//!   (RFC 3264 §6), or the `--answer` status.
//!
//! Other table events are offered to the proxy first, then to the UA core (each hands back what
//! is not its own). An ACK for a 2xx is the proxy's when it is routed through us, else the UA's.
//!
//! On a hostile network:
//!
//! - **unparsable bytes** that are a request with the headers a response needs get one 400
//!   (505, 513) whose reason names the problem, statelessly, sent back to their source
//!   ([`sip_runtime::reject_unparsable`]); everything else is dropped, and the stats line
//!   accounts for every datagram;
//! - **load** is shed: a new request outside a dialog gets 503 with Retry-After and its
//!   transaction is dropped at once ([`Inner::shed`]) while the event loop is behind its UDP
//!   input ([`Stack::handle_backlog`]: the CPU is the limit), or when `--max-transactions`
//!   are live and none of them merely lingers (memory is the limit: transactions that only
//!   absorb retransmissions after their final response are evicted first, oldest first,
//!   so a burst does not leave half a minute of refusals behind it). ACK, CANCEL, in-dialog
//!   requests and retransmissions are still served;
//! - **`--state FILE`** keeps the bindings: a turn of the event loop that changed one ends
//!   with an atomic rewrite of FILE, and only then are that turn's REGISTER 200s sent
//!   ([`Inner::save_if_changed`]); the shutdown does the same, so no binding answered 200 is
//!   lost to a SIGTERM or a restart;
//! - TCP connections are bounded by `--max-connections`, `--tcp-idle`,
//!   `--tcp-message-timeout` and `--max-message-size` (the runtime enforces them).

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use sip_auth::{
    Algorithm, AuthRole, DigestServer, DigestServerConfig, MemoryStore as Passwords, Reply,
};
use sip_message::{HeaderName, Host, Limits, Message, MessageBuilder, Method, SipUri, Uri};
use sip_proxy::{
    Location as ProxyLocation, Lookup, Proxy, ProxyConfig, ProxyEvent, StaticResolver,
};
use sip_registrar::{
    Aor, BindingStore as _, LocationService as _, MemoryStore, RedirectConfig, RedirectServer,
    RegisterContext, Registrar, RegistrarConfig, RegistrarEvent, SameUser,
    Snapshot as RegistrarSnapshot,
};
use sip_runtime::{
    ListenAddr, ReceiveError, Runtime, RuntimeConfig, RuntimeStats, Stack, TransportError,
    reject_unparsable,
};
use sip_transaction::{
    Event, Output, Target, TransactionConfig, TransactionId, TransactionTable, Transmit, Transport,
};
use sip_ua::{Body, CallId, UaConfig, UaCore, UaEvent};

use crate::sdp;

/// Arguments of `sip serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// A socket to listen on, `udp:IP:PORT` or `tcp:IP:PORT` (repeatable; port 0 picks a free
    /// port, printed at start-up). Default: udp:127.0.0.1:5060 and tcp:127.0.0.1:5060.
    #[arg(long = "listen", value_name = "TRANSPORT:IP:PORT")]
    listen: Vec<ListenAddr>,
    /// The final status for calls the server answers itself: 200 (default) or 300-699 to
    /// reject them (e.g. 486).
    #[arg(long, value_name = "STATUS", default_value_t = 200,
          value_parser = parse_answer_status)]
    answer: u16,
    /// Challenge REGISTER and INVITE with digest authentication; FILE has `user:password`
    /// lines. Needs --realm.
    #[arg(long, value_name = "FILE", requires = "realm")]
    auth: Option<PathBuf>,
    /// The digest realm for --auth.
    #[arg(long, value_name = "REALM", requires = "auth")]
    realm: Option<String>,
    /// The digest algorithms to challenge with, most preferred first, one challenge each
    /// (RFC 8760 §2.4): MD5, SHA-256, SHA-512-256 and their -sess forms. Clients that read
    /// only the first challenge and know only MD5 (SIPp 3.6, sipsak) need `MD5`.
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_value = "SHA-256,MD5",
          value_parser = parse_algorithm, requires = "auth")]
    auth_algorithms: Vec<Algorithm>,
    /// Answer requests for registered users 302 with their bindings instead of proxying.
    #[arg(long)]
    redirect: bool,
    /// Print one stats line every SECONDS (fractions allowed).
    #[arg(long, value_name = "SECONDS", value_parser = parse_period)]
    stats: Option<Duration>,
    /// A domain name this server is (repeatable): Request-URIs and Routes naming it are ours,
    /// and the proxy looks its users up in the registrar. Our listening addresses always are.
    #[arg(long, value_name = "NAME")]
    domain: Vec<String>,
    /// Print one line per request received and per binding change.
    #[arg(short, long)]
    verbose: bool,
    /// Most transactions alive at once. At the limit, a new request first evicts the oldest
    /// transaction that only lingers after its final response to absorb retransmissions (32 s
    /// over UDP, Timers J and L); when every live one is still working, new requests outside
    /// a dialog (INVITE, REGISTER, OPTIONS, ...) are answered 503 with Retry-After and
    /// forgotten at once, while ACK, CANCEL, requests in a dialog and retransmissions are
    /// still served. An answered call holds two transactions for 32 s and a proxied one about
    /// three: the default keeps ~7,000 answered or ~5,000 proxied calls per second going
    /// without eviction, in about 1.2 GiB (some 2.4 KiB per live transaction with its
    /// messages, measured by benches/load.sh).
    #[arg(long, value_name = "N", default_value_t = 500_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_transactions: u64,
    /// The Retry-After (seconds) of the 503 sent when shedding load (at --max-transactions,
    /// or while the event loop is behind its UDP input).
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    retry_after: u32,
    /// End a call this UA answered with a BYE once it has lasted SECONDS (0: never). RFC
    /// 3261 has no timer for a call whose BYE never comes (the caller crashed, or lost its
    /// network); without one, its dialog and media port would be held for as long as the
    /// process runs.
    #[arg(long, value_name = "SECONDS", default_value = "10800", value_parser = parse_idle)]
    max_call_duration: Duration,
    /// Keep registrar bindings in FILE: loaded at start (a missing FILE is an empty one) and
    /// rewritten atomically (a temporary file renamed over it) after every turn of the event
    /// loop that changed a binding, before the 200s of that turn are sent; so no binding that
    /// was answered 200 is lost to a restart or a SIGTERM.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Close a TCP connection after SECONDS without a byte in either direction (0: never).
    #[arg(long, value_name = "SECONDS", default_value = "300", value_parser = parse_idle)]
    tcp_idle: Duration,
    /// Close a TCP connection on which one message takes longer than SECONDS to arrive,
    /// from its first byte to its last (a peer trickling bytes to hold it; 0: never).
    #[arg(long, value_name = "SECONDS", default_value = "32", value_parser = parse_idle)]
    tcp_message_timeout: Duration,
    /// Most TCP connections open at once; one accepted beyond it is closed at once.
    #[arg(long, value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,
    /// The largest message accepted, in bytes (start line, headers and body); a larger request
    /// is answered 513 where it can be, and a TCP connection carrying one is closed.
    #[arg(long, value_name = "BYTES", default_value_t = 65_535,
          value_parser = clap::value_parser!(u64).range(256..=16_777_216))]
    max_message_size: u64,
}

/// A period, or 0 for none (`Duration::ZERO`).
fn parse_idle(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(0.0) => Ok(Duration::ZERO),
        _ => parse_period(s),
    }
}

fn parse_answer_status(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(200) => Ok(200),
        Ok(n @ 300..=699) => Ok(n),
        _ => Err("expected 200, or a status from 300 to 699".to_owned()),
    }
}

fn parse_algorithm(s: &str) -> Result<Algorithm, String> {
    Algorithm::parse(s.trim()).ok_or_else(|| {
        format!("unknown digest algorithm {s:?} (MD5, SHA-256, SHA-512-256, or one with -sess)")
    })
}

pub(crate) fn parse_period(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs < 1e9 => {
            Ok(Duration::from_secs_f64(secs))
        }
        _ => Err("expected a positive number of seconds".to_owned()),
    }
}

/// Runs `sip serve` until SIGINT or SIGTERM: exit 0 after a clean shutdown, 2 when the sockets
/// cannot be bound or the arguments are unusable.
pub(crate) fn run(args: &ServeArgs) -> ExitCode {
    let passwords = match &args.auth {
        Some(path) => match load_passwords(path, args.realm.as_deref().unwrap_or_default()) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("sip: {e}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let state = match &args.state {
        Some(path) => match load_state(path) {
            Ok(snapshot) => Some((path.clone(), snapshot)),
            Err(e) => {
                eprintln!("sip: {e}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let listen = if args.listen.is_empty() {
        let lo = SocketAddr::from((Ipv4Addr::LOCALHOST, 5060));
        vec![ListenAddr::udp(lo), ListenAddr::tcp(lo)]
    } else {
        args.listen.clone()
    };
    let settings = Settings {
        answer: args.answer,
        redirect: args.redirect,
        stats: args.stats,
        domains: args.domain.clone(),
        verbose: args.verbose,
        auth: passwords.map(|p| (args.realm.clone().unwrap_or_default(), p)),
        auth_algorithms: args.auth_algorithms.clone(),
        seed: os_seed(),
        max_transactions: usize::try_from(args.max_transactions).unwrap_or(usize::MAX),
        retry_after: args.retry_after,
        max_call_duration: (!args.max_call_duration.is_zero()).then_some(args.max_call_duration),
        state,
    };
    let max_message = usize::try_from(args.max_message_size).unwrap_or(65_535);
    let limits = Limits::default()
        .max_message_size(max_message)
        .max_stream_buffer(max_message.saturating_mul(2).max(128 * 1024));
    let mut config = RuntimeConfig::new()
        .shutdown_grace(Duration::from_secs(1))
        .limits(limits)
        .idle_timeout((!args.tcp_idle.is_zero()).then_some(args.tcp_idle))
        .message_timeout((!args.tcp_message_timeout.is_zero()).then_some(args.tcp_message_timeout))
        .max_connections(usize::try_from(args.max_connections).unwrap_or(usize::MAX));
    for l in &listen {
        config = config.listen(*l);
    }
    let mut runtime = match Runtime::bind(config, ServeStack::new(settings)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sip: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(error) = runtime.stack().error.as_deref() {
        eprintln!("sip: {error}");
        return ExitCode::from(2);
    }
    // The handler goes in before the "listening on" lines: whoever waits for them (a
    // supervisor, a test) may send SIGTERM at once, and it must end in the clean shutdown
    // that saves the bindings, not in the default action.
    let handle = runtime.handle();
    if let Err(e) = crate::on_signal(&handle) {
        eprintln!("sip: cannot install the SIGINT/SIGTERM handler: {e}");
        return ExitCode::from(2);
    }
    for l in runtime.local_addrs() {
        println!("listening on {l}");
    }
    let started = Instant::now();
    let mut previous = (started, Snapshot::default());
    let counters = handle.clone();
    let result = runtime.run(|event| match event {
        ServeEvent::Log(line) => println!("{line}"),
        ServeEvent::Error(line) => eprintln!("sip: {line}"),
        ServeEvent::Stats(at, now) => {
            println!("{}", stats_line("stats", previous, (at, now), &counters.stats()));
            previous = (at, now);
        }
    });
    let end = Instant::now();
    let last = runtime.stack().snapshot();
    let input = runtime.stats();
    println!("{}", stats_line("final stats", (started, Snapshot::default()), (end, last), &input));
    if let Some(error) = runtime.stack().inner.as_ref().and_then(|i| i.state_error.as_ref()) {
        eprintln!("sip: the final state was not saved: {error}");
        return ExitCode::from(1);
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sip: the event loop failed: {e}");
            ExitCode::from(1)
        }
    }
}

/// Reads a `--state` FILE: a missing one is empty; one that cannot be read or is not a
/// bindings snapshot is an error. The snapshot is written back at once, so that a FILE that
/// cannot be written is an error now rather than at the first REGISTER.
fn load_state(path: &Path) -> Result<RegistrarSnapshot, String> {
    let snapshot = match std::fs::read_to_string(path) {
        Ok(text) => RegistrarSnapshot::from_text(&text)
            .map_err(|e| format!("--state {}: {e}", path.display()))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => RegistrarSnapshot::default(),
        Err(e) => return Err(format!("--state {}: cannot read: {e}", path.display())),
    };
    save_state(path, &snapshot.to_text())
        .map_err(|e| format!("--state {}: cannot write: {e}", path.display()))?;
    Ok(snapshot)
}

/// Writes `text` to `path` atomically: into a temporary file beside it, then renamed over it,
/// so a reader (or a restart) sees the old content or the new, never a part. Not synced to
/// the disk: a process that is killed loses nothing, a machine that loses power may.
fn save_state(path: &Path, text: &str) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// A seed for the protocol crates' generators (tags, branches, Call-IDs, nonces), different on
/// every run: the std hasher's per-process random keys, so no extra dependency.
pub(crate) fn os_seed() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos(),
    );
    h.write_u32(std::process::id());
    h.finish()
}

/// `user:password` lines (blank lines and `#` comments skipped) into a credential store.
fn load_passwords(path: &std::path::Path, realm: &str) -> Result<Passwords, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut store = Passwords::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once(':') {
            Some((user, password)) if !user.is_empty() => {
                store.add_password(user, realm, password);
            }
            _ => return Err(format!("{}:{}: expected user:password", path.display(), n + 1)),
        }
    }
    if store.is_empty() {
        return Err(format!("{}: no user:password line", path.display()));
    }
    Ok(store)
}

/// One stats line: rates between `from` and `to`, gauges and totals at `to`, then the input
/// accounting: every datagram is a keep-alive, a parsed message or a parse error; every parse
/// error (and broken stream) was answered or dropped.
fn stats_line(
    label: &str,
    from: (Instant, Snapshot),
    to: (Instant, Snapshot),
    input: &RuntimeStats,
) -> String {
    let secs = to.0.saturating_duration_since(from.0).as_secs_f64().max(1e-3);
    let rate = |now: u64, then: u64| now.saturating_sub(then) as f64 / secs;
    let (a, b) = (from.1, to.1);
    format!(
        "{label}: {:.1} calls/s, {:.1} transactions/s, {} live transactions ({} pending), \
         {} dialogs, \
         {} bindings, {} retransmissions, {} parse errors ({} calls, {} transactions in {secs:.1} s); \
         input: {} datagrams ({} keep-alives), {} stream messages, {} parsed, {} unparsable, \
         {} broken streams: {} answered, {} dropped; {} shed 503 ({} while behind), \
         {} lingering transactions evicted",
        rate(b.calls, a.calls),
        rate(b.transactions, a.transactions),
        b.live_transactions,
        b.pending_transactions,
        b.dialogs,
        b.bindings,
        b.retransmissions,
        input.parse_errors,
        b.calls.saturating_sub(a.calls),
        b.transactions.saturating_sub(a.transactions),
        input.datagrams_in,
        input.datagram_keepalives_in,
        input.stream_messages_in,
        input.messages_in,
        input.parse_errors,
        input.frame_errors,
        b.rejected_unparsable,
        b.dropped_unparsable,
        b.shed,
        b.shed_behind,
        b.evicted,
    )
}

/// What `sip serve` was asked to be.
#[derive(Debug)]
struct Settings {
    answer: u16,
    redirect: bool,
    stats: Option<Duration>,
    domains: Vec<String>,
    verbose: bool,
    auth: Option<(String, Passwords)>,
    /// `--auth-algorithms`, most preferred first.
    auth_algorithms: Vec<Algorithm>,
    seed: u64,
    max_transactions: usize,
    retry_after: u32,
    /// `--max-call-duration`; `None`: calls last until a BYE.
    max_call_duration: Option<Duration>,
    /// `--state`: the file and the bindings read from it.
    state: Option<(PathBuf, RegistrarSnapshot)>,
}

/// What the stack tells the command.
#[derive(Debug)]
pub(crate) enum ServeEvent {
    /// A line to print.
    Log(String),
    /// A line to print on standard error.
    Error(String),
    /// The counters at this instant (every `--stats` period).
    Stats(Instant, Snapshot),
}

/// Counters for the stats line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    /// Initial INVITEs received (answered, proxied, redirected or refused).
    calls: u64,
    /// Transactions created.
    transactions: u64,
    /// Transactions alive now.
    live_transactions: usize,
    /// Of those, the ones still working (no final response yet).
    pending_transactions: usize,
    /// Dialogs of the user agent now.
    dialogs: usize,
    /// Registered bindings now.
    bindings: usize,
    /// Messages the transactions sent again.
    retransmissions: u64,
    /// Unparsable requests answered (400, 505, 513).
    rejected_unparsable: u64,
    /// Unparsable bytes (and broken streams) that got no answer.
    dropped_unparsable: u64,
    /// New requests answered 503 (at `--max-transactions`, or while behind).
    shed: u64,
    /// Of those, the ones shed because the event loop was behind its input.
    shed_behind: u64,
    /// Lingering transactions evicted at `--max-transactions`.
    evicted: u64,
}

/// Loss-based overload control (in the spirit of RFC 7415's default algorithm): once the
/// event loop has been behind its UDP input for 20 ms without a break (behind: a quarter of a
/// socket's receive buffer is queued after a full read budget, see
/// [`sip_runtime::RuntimeConfig::backlog_fill`]), the share of new requests admitted
/// falls by a quarter each loop turn (each of which has read a full budget of datagrams), down
/// to 1 in 50; while it is not behind, the share climbs back at 1/20 per 10 ms, so 200 ms
/// without a backlog restore it fully. The rest are shed with a stateless 503, which costs a
/// fraction of serving them, so that the calls admitted complete. Admissions are spread evenly
/// (a credit, not a coin toss).
#[derive(Debug)]
struct Admission {
    share: f64,
    credit: f64,
    last: Option<Instant>,
    /// The event loop is behind its UDP input (the last [`Stack::handle_backlog`]).
    behind: bool,
    /// Since when the loop has been behind without a break.
    behind_since: Option<Instant>,
}

impl Default for Admission {
    fn default() -> Self {
        Admission { share: 1.0, credit: 0.0, last: None, behind: false, behind_since: None }
    }
}

impl Admission {
    const FLOOR: f64 = 0.02;
    /// How long the loop must stay behind before it sheds.
    const PATIENCE: Duration = Duration::from_millis(20);

    /// Whether to admit the next new request.
    fn next(&mut self) -> bool {
        if self.share >= 1.0 {
            return true;
        }
        self.credit += self.share;
        if self.credit >= 1.0 {
            self.credit -= 1.0;
            true
        } else {
            false
        }
    }

    /// A loop turn ended at `now`, behind its input or not.
    fn turn_end(&mut self, now: Instant) {
        let since = self.last.map_or(Duration::ZERO, |last| now.saturating_duration_since(last));
        self.last = Some(now);
        if !self.behind {
            self.behind_since = None;
            self.share = (self.share + 5.0 * since.as_secs_f64()).min(1.0);
            return;
        }
        let behind_since = *self.behind_since.get_or_insert(now);
        if now.saturating_duration_since(behind_since) >= Self::PATIENCE {
            self.share = (self.share * 0.75).max(Self::FLOOR);
        }
    }
}

/// When each answered call reaches `--max-call-duration`: in deadline order, and by call so
/// that a call that ends sooner leaves nothing behind.
#[derive(Debug, Default)]
struct CallDeadlines {
    by_time: BTreeSet<(Instant, CallId)>,
    by_call: HashMap<CallId, Instant>,
}

impl CallDeadlines {
    fn insert(&mut self, call: CallId, at: Instant) {
        self.remove(call);
        self.by_time.insert((at, call));
        self.by_call.insert(call, at);
    }

    fn remove(&mut self, call: CallId) {
        if let Some(at) = self.by_call.remove(&call) {
            self.by_time.remove(&(at, call));
        }
    }

    fn next(&self) -> Option<Instant> {
        self.by_time.first().map(|(at, _)| *at)
    }

    /// A call whose deadline is at or before `now`, forgotten.
    fn pop_due(&mut self, now: Instant) -> Option<CallId> {
        let (at, call) = *self.by_time.first()?;
        if at > now {
            return None;
        }
        self.remove(call);
        Some(call)
    }
}

/// The [`Stack`] of `sip serve`. Its protocol parts need the bound addresses, so they are made
/// in [`Stack::handle_bound`].
pub(crate) struct ServeStack {
    settings: Option<Settings>,
    inner: Option<Inner>,
    /// Why the parts could not be made (reported before the loop runs).
    error: Option<String>,
}

impl ServeStack {
    fn new(settings: Settings) -> ServeStack {
        ServeStack { settings: Some(settings), inner: None, error: None }
    }

    fn snapshot(&self) -> Snapshot {
        self.inner.as_ref().map(Inner::snapshot).unwrap_or_default()
    }
}

impl Stack for ServeStack {
    type Command = ();
    type Event = ServeEvent;

    fn handle_bound(&mut self, local: &[ListenAddr]) {
        let Some(settings) = self.settings.take() else { return };
        match Inner::new(settings, local, Instant::now()) {
            Ok(inner) => self.inner = Some(inner),
            Err(e) => self.error = Some(e),
        }
    }

    fn handle_message(&mut self, now: Instant, message: Message, source: Target, _: SocketAddr) {
        if let Some(inner) = &mut self.inner {
            inner.table.handle_message(now, message, source);
            inner.pump(now);
        }
    }

    /// RFC 3261 §8.2, §16.3, §18.3: a request that can be read far enough is answered 400
    /// (505, 513) naming the problem, statelessly, once; anything else is dropped.
    fn handle_parse_error(
        &mut self,
        now: Instant,
        error: ReceiveError,
        payload: bytes::Bytes,
        source: Target,
        _: SocketAddr,
    ) {
        let Some(inner) = &mut self.inner else { return };
        let from = match source {
            Target::Addr(_, addr) => Some(addr),
            _ => None,
        };
        match reject_unparsable(&error, &payload, from) {
            Some(response) => {
                inner.rejected_unparsable += 1;
                if inner.verbose {
                    inner.events.push_back(ServeEvent::Log(format!(
                        "{error} from {source}: answered {}",
                        response.reason().unwrap_or_default()
                    )));
                }
                inner.table.send_stateless(source, &response);
                inner.pump(now);
            }
            None => {
                inner.dropped_unparsable += 1;
                if inner.verbose {
                    inner
                        .events
                        .push_back(ServeEvent::Log(format!("{error} from {source}: dropped")));
                }
            }
        }
    }

    fn handle_backlog(&mut self, _: Instant, behind: bool) {
        if let Some(inner) = &mut self.inner {
            inner.admit.behind = behind;
        }
    }

    fn handle_turn_end(&mut self, now: Instant) {
        if let Some(inner) = &mut self.inner {
            inner.admit.turn_end(now);
            inner.save_if_changed(now);
        }
    }

    fn handle_shutdown(&mut self, now: Instant) {
        if let Some(inner) = &mut self.inner {
            inner.save_if_changed(now);
        }
    }

    fn handle_transport_error(&mut self, now: Instant, transmit: &Transmit, _: TransportError) {
        if let (Some(inner), Some(id)) = (&mut self.inner, transmit.transaction) {
            // RFC 3261 §17.1.4, §17.2.4: the transaction learns of the failure.
            inner.table.handle_transport_error(now, id);
            inner.pump(now);
        }
    }

    fn handle_command(&mut self, _: Instant, (): ()) {}

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(inner) = &mut self.inner {
            inner.handle_timeout(now);
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.inner.as_mut()?.transmits.pop_front()
    }

    fn poll_event(&mut self) -> Option<ServeEvent> {
        self.inner.as_mut()?.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.inner.as_ref()?.poll_timeout()
    }
}

/// Where a request goes (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Registrar,
    Proxy,
    Redirect,
    Ua,
}

/// Digest authentication for `--auth`: a 401 server for the registrar and the UA, a 407 one
/// for requests the proxy forwards (RFC 3261 §22.1, §22.3).
struct Auth {
    uas: DigestServer,
    proxy: DigestServer,
    passwords: Passwords,
}

/// The protocol parts, on one transaction table.
struct Inner {
    table: TransactionTable,
    ua: UaCore,
    /// The proxy owns the location service, which owns the registrar.
    proxy: Proxy<Bindings, StaticResolver>,
    redirect: Option<RedirectServer>,
    auth: Option<Auth>,
    media: MediaPorts,
    /// SDP answers, the last offer's kept.
    answers: sdp::Answerer,
    /// Our addresses (IP, port) and names (`--domain`, `localhost` for loopback).
    addrs: Vec<(IpAddr, u16)>,
    names: Vec<String>,
    /// What [`route`](Self::route) needs of a Request-URI and of a Route value, by their text
    /// (functions of the text and of `addrs` and `names`, which never change): a URI seen
    /// again is not parsed again. At most [`FACTS_KEPT`] each; a full table starts over.
    uri_facts: RefCell<HashMap<Box<str>, UriFacts>>,
    route_facts: RefCell<HashMap<Box<[u8]>, Option<bool>>>,
    answer: u16,
    verbose: bool,
    stats_every: Option<Duration>,
    next_stats: Option<Instant>,
    calls: u64,
    tags: u64,
    seed: u64,
    transmits: VecDeque<Transmit>,
    events: VecDeque<ServeEvent>,
    /// `--max-transactions` and the Retry-After of the 503 beyond it.
    max_transactions: usize,
    retry_after: u32,
    /// `--max-call-duration`, and when each answered call still going reaches it.
    max_call_duration: Option<Duration>,
    call_deadlines: CallDeadlines,
    shed: u64,
    shed_behind: u64,
    /// Overload control: whether the loop is behind, the fraction of new requests admitted (1
    /// unless the loop has been behind), and the credit that spreads admissions evenly.
    admit: Admission,
    rejected_unparsable: u64,
    dropped_unparsable: u64,
    /// `--state`: where the bindings are saved.
    state_path: Option<PathBuf>,
    /// A binding changed since the last save.
    state_dirty: bool,
    /// REGISTER requests and their responses waiting for the save of this turn (their
    /// bindings changed).
    held: Vec<(TransactionId, Message, Message)>,
    /// Why the last save failed, if it did.
    state_error: Option<String>,
}

impl Inner {
    fn new(settings: Settings, local: &[ListenAddr], now: Instant) -> Result<Inner, String> {
        let primary = local
            .iter()
            .find(|l| l.transport == Transport::Udp)
            .or_else(|| local.first())
            .ok_or("nothing to listen on")?;
        let primary_ip = usable_ip(primary.addr.ip());
        let sent_by = SocketAddr::new(primary_ip, primary.addr.port()).to_string();
        let seed = settings.seed;
        let table = TransactionTable::new(TransactionConfig::default().rng_seed(seed));
        let mut ua_config = UaConfig::new("sip", &sent_by).rng_seed(seed ^ 0xa);
        ua_config.allow.extend([Method::Message, Method::Info]);
        ua_config.user_agent = Some(concat!("sip-cli/", env!("CARGO_PKG_VERSION")).to_owned());
        // This UA answers at once (180 and the final in the same turn), so no 100 (Trying):
        // RFC 3261 §17.2.1 asks for one only from a TU that will not respond within 200 ms,
        // and the transaction layer still sends it then (a slow --state save, say). One
        // datagram less per call.
        ua_config.send_trying = false;
        let ua = UaCore::new(ua_config);

        let mut addrs: Vec<(IpAddr, u16)> = Vec::new();
        for l in local {
            let ip = usable_ip(l.addr.ip());
            if !addrs.contains(&(ip, l.addr.port())) {
                addrs.push((ip, l.addr.port()));
            }
        }
        let mut names: Vec<String> =
            settings.domains.iter().map(|d| d.to_ascii_lowercase()).collect();
        if addrs.iter().any(|(ip, _)| ip.is_loopback()) {
            names.push("localhost".to_owned());
        }
        let mut proxy_config =
            ProxyConfig::new(&format!("sip:{sent_by}")).map_err(|e| e.to_string())?;
        for (ip, port) in &addrs {
            let hostport = SocketAddr::new(*ip, *port).to_string();
            proxy_config = proxy_config.alias(&hostport).map_err(|e| e.to_string())?;
            for name in &names {
                proxy_config =
                    proxy_config.alias(&format!("{name}:{port}")).map_err(|e| e.to_string())?;
            }
        }
        for name in &names {
            proxy_config = proxy_config.domain(name);
        }
        // A test server takes short registrations (sipsak -U asks for 15 s): no 423 (§10.3
        // step 7) above one second.
        let registrar_config = RegistrarConfig::default().rng_seed(seed ^ 0x0e9).min_expires(1);
        let mut store = MemoryStore::new();
        let mut state_path = None;
        if let Some((path, snapshot)) = &settings.state {
            store.restore(snapshot, now, SystemTime::now());
            state_path = Some(path.clone());
        }
        let mut registrar = Registrar::new(registrar_config, store);
        if settings.auth.is_some() {
            // §10.3 step 4: an authenticated user manages only its own address-of-record.
            registrar = registrar.with_authorizer(SameUser);
        }
        let mut resolver = StaticResolver::new();
        resolver.add("localhost", Target::udp(SocketAddr::from((Ipv4Addr::LOCALHOST, 5060))));
        let ports = addrs.iter().map(|(_, p)| *p).collect();
        let proxy = Proxy::new(proxy_config, Bindings::new(registrar, ports), resolver);
        let redirect = settings
            .redirect
            .then(|| RedirectServer::new(RedirectConfig::default().rng_seed(seed ^ 0x302)));
        let auth = match settings.auth {
            Some((realm, passwords)) => {
                let key = key_bytes(seed);
                let uas = DigestServer::new(
                    DigestServerConfig::new(realm.clone(), key.clone())
                        .algorithms(settings.auth_algorithms.iter().copied())
                        .rng_seed(seed ^ 0x401),
                    now,
                )
                .map_err(|e| format!("--realm: {e}"))?;
                let proxy = DigestServer::new(
                    DigestServerConfig::new(realm, key)
                        .algorithms(settings.auth_algorithms.iter().copied())
                        .role(AuthRole::Proxy)
                        .rng_seed(seed ^ 0x407),
                    now,
                )
                .map_err(|e| format!("--realm: {e}"))?;
                Some(Auth { uas, proxy, passwords })
            }
            None => None,
        };
        Ok(Inner {
            table,
            ua,
            proxy,
            redirect,
            auth,
            media: MediaPorts::new(primary_ip),
            answers: sdp::Answerer::default(),
            addrs,
            names,
            uri_facts: RefCell::new(HashMap::new()),
            route_facts: RefCell::new(HashMap::new()),
            answer: settings.answer,
            verbose: settings.verbose,
            stats_every: settings.stats,
            next_stats: settings.stats.map(|p| now + p),
            calls: 0,
            tags: 0,
            seed,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            max_transactions: settings.max_transactions,
            retry_after: settings.retry_after,
            max_call_duration: settings.max_call_duration,
            call_deadlines: CallDeadlines::default(),
            shed: 0,
            shed_behind: 0,
            admit: Admission::default(),
            rejected_unparsable: 0,
            dropped_unparsable: 0,
            state_path,
            state_dirty: false,
            held: Vec::new(),
            state_error: None,
        })
    }

    /// `--state`: if a binding changed since the last save, writes every binding to the file
    /// (atomically), then sends the REGISTER responses held for it: the 200s when the file was
    /// written, 500s when it was not (the client retries; no 200 promises what a restart
    /// would lose).
    fn save_if_changed(&mut self, now: Instant) {
        if !self.state_dirty {
            return;
        }
        self.state_dirty = false;
        let saved = match &self.state_path {
            Some(path) => {
                let store = self.proxy.locations().registrar.store();
                let text = store.snapshot(now, SystemTime::now()).to_text();
                save_state(path, &text).map_err(|e| format!("{}: {e}", path.display()))
            }
            None => Ok(()),
        };
        match &saved {
            Ok(()) => self.state_error = None,
            Err(e) => {
                // Tried again at the end of the next turn, and at the shutdown.
                self.state_dirty = true;
                if self.state_error.as_ref() != Some(e) {
                    self.events.push_back(ServeEvent::Error(format!("cannot save state: {e}")));
                }
                self.state_error = Some(e.clone());
            }
        }
        for (id, request, response) in std::mem::take(&mut self.held) {
            let response = if saved.is_ok() {
                Some(response)
            } else {
                let reason = "Server Internal Error (bindings not saved)";
                let tag = response.to_tag().unwrap_or("r500");
                MessageBuilder::response_to(&request, 500, Some(reason)).to_tag(tag).build().ok()
            };
            if let Some(response) = response {
                let _ = self.table.send_response(now, id, response);
            }
        }
        self.pump(now);
    }

    fn snapshot(&self) -> Snapshot {
        let t = self.table.stats();
        Snapshot {
            calls: self.calls,
            transactions: t.created,
            live_transactions: t.live(),
            pending_transactions: t.pending,
            dialogs: self.live_dialogs(),
            bindings: self.proxy.locations().registrar.store().len(),
            retransmissions: t.retransmissions,
            rejected_unparsable: self.rejected_unparsable,
            dropped_unparsable: self.dropped_unparsable,
            shed: self.shed,
            shed_behind: self.shed_behind,
            evicted: t.evicted,
        }
    }

    /// Dialogs of the UA not yet terminated (its calls outlive their dialogs while their
    /// transactions finish).
    fn live_dialogs(&self) -> usize {
        self.ua
            .dialog_calls()
            .into_iter()
            .filter_map(|call| self.ua.dialog(call))
            .filter(|d| d.state() != sip_dialog::DialogState::Terminated)
            .count()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        // Asked twice every turn of the loop: a plain chain of minimums.
        let earlier = |a: Option<Instant>, b: Option<Instant>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut at = earlier(self.table.poll_timeout(), self.ua.poll_timeout());
        at = earlier(at, self.proxy.poll_timeout());
        at = earlier(at, self.proxy.locations().registrar.poll_timeout());
        at = earlier(at, self.next_stats);
        earlier(at, self.call_deadlines.next())
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.table.handle_timeout(now);
        self.pump(now);
        self.ua.handle_timeout(now, &mut self.table);
        while let Some(call) = self.call_deadlines.pop_due(now) {
            if self.ua.hangup(now, &mut self.table, call).is_ok() && self.verbose {
                self.events.push_back(ServeEvent::Log(format!(
                    "{call} reached --max-call-duration: hung up"
                )));
            }
        }
        self.proxy.handle_timeout(now, &mut self.table);
        self.proxy.locations_mut().registrar_mut().handle_timeout(now);
        if let (Some(at), Some(every)) = (self.next_stats, self.stats_every) {
            if at <= now {
                self.events.push_back(ServeEvent::Stats(now, self.snapshot()));
                // Skip periods the loop slept through rather than print a burst.
                let mut next = at + every;
                while next <= now {
                    next += every;
                }
                self.next_stats = Some(next);
            }
        }
        self.pump(now);
    }

    /// Moves the table's transmits out and its events to their owners, then the events of the
    /// UA, proxy and registrar, until all are quiet (the drain contract of STYLE.md §2).
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
            while let Some(event) = self.ua.poll_event() {
                progressed = true;
                self.on_ua_event(now, event);
            }
            while let Some(event) = self.proxy.poll_event() {
                progressed = true;
                if self.verbose {
                    self.log_proxy_event(&event);
                }
            }
            while let Some(event) = self.proxy.locations_mut().registrar_event() {
                progressed = true;
                if self.verbose {
                    self.events.push_back(ServeEvent::Log(registrar_line(&event)));
                }
            }
            if !progressed {
                break;
            }
        }
    }

    fn on_table_event(&mut self, now: Instant, event: Event) {
        let event = if self.proxy.passes_through(&event) {
            event
        } else {
            let Some(event) = self.proxy.handle_event(now, &mut self.table, event) else { return };
            event
        };
        match event {
            Event::Request { id, request, source } => self.on_request(now, id, request, source),
            other => {
                // What neither the proxy nor the UA claims (the Terminated of a transaction
                // the registrar or a challenge answered, a stray response) needs nothing.
                let _ = self.ua.handle_event(now, &mut self.table, other);
            }
        }
    }

    fn on_request(&mut self, now: Instant, id: TransactionId, request: Message, source: Target) {
        self.dispatch(now, id, request, source);
        // What `route` looked up served this request only.
        self.proxy.locations().forget_prefetch();
    }

    fn dispatch(&mut self, now: Instant, id: TransactionId, request: Message, source: Target) {
        let Some(method) = request.method().cloned() else { return };
        let initial_invite = method == Method::Invite && request.to_tag().is_none();
        if request.to_tag().is_none() && method != Method::Cancel {
            if !self.admit.next() {
                self.shed_behind += 1;
                self.shed(now, id, &request);
                return;
            }
            let live = self.table.stats().live();
            if live > self.max_transactions
                && self.table.evict_lingering(now, live - self.max_transactions) == 0
            {
                self.shed(now, id, &request);
                return;
            }
        }
        let route = self.route(now, &method, &request);
        if self.verbose {
            self.events.push_back(ServeEvent::Log(format!(
                "{method} {} from {source} -> {route:?}",
                request.request_uri_str().unwrap_or("?")
            )));
        }
        let mut user = None;
        if method == Method::Register || initial_invite {
            match self.authenticate(now, id, &request, route) {
                Some(who) => user = who,
                None => return,
            }
        }
        if initial_invite {
            self.calls += 1;
        }
        match route {
            Route::Registrar => self.register(now, id, &request, source, user),
            Route::Proxy => self.proxy.handle_request(now, &mut self.table, id, request, source),
            Route::Redirect => {
                let location = self.proxy.locations();
                let reply = self
                    .redirect
                    .as_mut()
                    .and_then(|r| r.handle_request(now, &request, location).ok().flatten());
                if let Some(reply) = reply {
                    let _ = self.table.send_response(now, id, reply);
                }
            }
            Route::Ua => {
                let event = Event::Request { id, request, source };
                let _ = self.ua.handle_event(now, &mut self.table, event);
            }
        }
    }

    /// Load shedding: a new request beyond `--max-transactions` gets 503 with Retry-After
    /// (RFC 3261 §21.5.4) and its transaction is forgotten at once, as a stateless server
    /// would: a retransmission is answered again the same way (a deterministic To tag), the
    /// ACK for the 503 matches nothing and is dropped. Requests that match live transactions
    /// never get here (the table absorbs them), nor do ACKs.
    fn shed(&mut self, now: Instant, id: TransactionId, request: &Message) {
        self.shed += 1;
        let tag = format!("shed{:x}", self.seed & 0xffff_ffff);
        let response = MessageBuilder::response_to(
            request,
            503,
            Some("Service Unavailable (too many transactions)"),
        )
        .to_tag(&tag)
        .header(HeaderName::RetryAfter, self.retry_after.to_string())
        .build();
        if let Ok(response) = response {
            let _ = self.table.send_response(now, id, response);
        }
        self.table.terminate(now, id);
    }

    /// The dispatch rule of the module docs.
    fn route(&self, now: Instant, method: &Method, request: &Message) -> Route {
        if *method == Method::Register {
            return Route::Registrar;
        }
        if *method == Method::Cancel {
            // The proxy already took CANCELs for its own INVITEs; the rest are the UA's (§9.2).
            return Route::Ua;
        }
        let mut routed_via_us = false;
        for value in request.values(HeaderName::Route) {
            match self.route_names_us(value) {
                Some(true) => routed_via_us = true,
                // Not a SIP URI, or a hop beyond us (§16.4 pops ours, forwards to it).
                None | Some(false) => return Route::Proxy,
            }
        }
        // The Request-URI is parsed only when the answer depends on it: with a Route naming us,
        // or for a request outside a dialog while anyone is registered.
        let lookup = request.to_tag().is_none() && self.proxy.locations().any_bindings();
        if !routed_via_us && !lookup {
            return Route::Ua;
        }
        let ruri = request.request_uri_str();
        let facts = ruri.map(|text| self.uri_facts(text)).unwrap_or_default();
        if routed_via_us && !facts.us {
            return Route::Proxy; // a request in a dialog we record-routed (§16.12)
        }
        if let (true, true, Some(text)) = (lookup, facts.user, ruri) {
            if self.proxy.locations().prefetch(text, now) {
                return if self.redirect.is_some() { Route::Redirect } else { Route::Proxy };
            }
        }
        Route::Ua
    }

    /// [`UriFacts::of`] `text`, remembered.
    fn uri_facts(&self, text: &str) -> UriFacts {
        let Ok(mut known) = self.uri_facts.try_borrow_mut() else {
            return UriFacts::of(text, |sip| self.names_us(sip));
        };
        if let Some(facts) = known.get(text) {
            return *facts;
        }
        if known.len() >= FACTS_KEPT {
            known.clear();
        }
        let facts = UriFacts::of(text, |sip| self.names_us(sip));
        known.insert(text.into(), facts);
        facts
    }

    /// Whether the URI of a Route value names us (`None`: it holds no SIP URI), remembered.
    fn route_names_us(&self, value: &[u8]) -> Option<bool> {
        let fresh = || route_uri(value).map(|sip| self.names_us(&sip));
        let Ok(mut known) = self.route_facts.try_borrow_mut() else { return fresh() };
        if let Some(us) = known.get(value) {
            return *us;
        }
        if known.len() >= FACTS_KEPT {
            known.clear();
        }
        let us = fresh();
        known.insert(value.into(), us);
        us
    }

    /// Whether `uri` names this server: one of our addresses (or names) and ports.
    fn names_us(&self, uri: &SipUri<'_>) -> bool {
        let port = uri.port().unwrap_or(if uri.is_secure() { 5061 } else { 5060 });
        let ip = match uri.host() {
            Host::Ipv4(a) => IpAddr::V4(a),
            Host::Ipv6(a) => IpAddr::V6(a),
            Host::Domain(d) => {
                let d = d.trim_end_matches('.');
                return self.names.iter().any(|n| n.eq_ignore_ascii_case(d))
                    && self.addrs.iter().any(|(_, p)| *p == port);
            }
        };
        self.addrs.contains(&(ip, port))
    }

    /// RFC 3261 §22: checks the credentials of a REGISTER or initial INVITE when `--auth` is
    /// on: `Some` with the authenticated user (`None` without `--auth`) when the request may
    /// go on; otherwise it answers the challenge (401, or 407 for a request to be proxied) or
    /// 400 and returns `None`.
    fn authenticate(
        &mut self,
        now: Instant,
        id: TransactionId,
        request: &Message,
        route: Route,
    ) -> Option<Option<String>> {
        let tag = self.next_tag();
        let Some(auth) = &mut self.auth else { return Some(None) };
        let server = if route == Route::Proxy { &mut auth.proxy } else { &mut auth.uas };
        let outcome = server.verify(now, request, &auth.passwords);
        let response = match outcome.reply() {
            Reply::Proceed => {
                return Some(outcome.authenticated().map(|a| a.username().to_owned()));
            }
            Reply::BadRequest => {
                MessageBuilder::response_to(request, 400, Some("Bad Request (credentials)"))
                    .to_tag(&tag)
            }
            Reply::Challenge { stale } => {
                let challenge = server.challenge(now, stale);
                let mut b =
                    MessageBuilder::response_to(request, challenge.status(), None).to_tag(&tag);
                for value in challenge.values() {
                    b = b.header(challenge.name(), value);
                }
                b
            }
        };
        if let Ok(response) = response.build() {
            let _ = self.table.send_response(now, id, response);
        }
        None
    }

    /// §10.3: the registrar answers through the REGISTER's server transaction.
    fn register(
        &mut self,
        now: Instant,
        id: TransactionId,
        request: &Message,
        source: Target,
        user: Option<String>,
    ) {
        let mut ctx = RegisterContext::new().source(source.to_string());
        if let Some(user) = user {
            ctx = ctx.authenticated_user(user);
        }
        let registrar = self.proxy.locations_mut().registrar_mut();
        let response = match registrar.handle_register(now, SystemTime::now(), request, &ctx) {
            Ok(r) => Some(r),
            Err(_) => MessageBuilder::response_to(request, 500, None).to_tag("r500").build().ok(),
        };
        let Some(response) = response else { return };
        // A 200 to a REGISTER with a Contact added, refreshed or removed bindings (one without
        // only fetched them, §10.3 step 6): with --state it waits for the save of this turn.
        let changed = response.status() == Some(200) && request.has(HeaderName::Contact);
        if changed && self.state_path.is_some() {
            self.state_dirty = true;
            self.held.push((id, request.clone(), response));
        } else {
            let _ = self.table.send_response(now, id, response);
        }
    }

    fn on_ua_event(&mut self, now: Instant, event: UaEvent) {
        match event {
            UaEvent::IncomingCall { call, request } => self.answer_call(now, call, &request),
            UaEvent::Reinvite { call, request } => {
                let port = self.media.port_of(call).unwrap_or(0);
                match self.sdp_for(&request, port) {
                    Ok(body) => {
                        let _ = self.ua.accept_reinvite(now, &mut self.table, call, Some(body));
                    }
                    Err(status) => {
                        let _ = self.ua.reject_reinvite(now, &mut self.table, call, status);
                    }
                }
            }
            UaEvent::Request { transaction, request, .. } => {
                // MESSAGE, INFO: accepted and dropped.
                let _ = request;
                let _ = self.ua.respond(now, &mut self.table, transaction, 200, &[], None);
            }
            UaEvent::Ended { call, reason } => {
                self.media.release(call);
                self.call_deadlines.remove(call);
                if self.verbose {
                    self.events.push_back(ServeEvent::Log(format!("{call} ended: {reason:?}")));
                }
            }
            UaEvent::Cancelled { call } | UaEvent::Failed { call, .. } => {
                self.media.release(call);
                self.call_deadlines.remove(call);
            }
            UaEvent::Confirmed { call, .. } if self.verbose => {
                self.events.push_back(ServeEvent::Log(format!("{call} confirmed")));
            }
            _ => {}
        }
    }

    /// Answers an incoming call as `--answer` says: 180 then 200 with the SDP answer (or an
    /// offer when the INVITE had none, RFC 3261 §13.3.1.4), 488 for an unacceptable offer, or
    /// the configured rejection.
    fn answer_call(&mut self, now: Instant, call: CallId, request: &Message) {
        if self.answer >= 300 {
            let _ = self.ua.reject(now, &mut self.table, call, self.answer);
            return;
        }
        let port = self.media.reserve(call);
        match self.sdp_for(request, port) {
            Ok(body) => {
                let rang = self.ua.ring(now, &mut self.table, call, 180, None);
                let answered =
                    rang.and_then(|()| self.ua.answer(now, &mut self.table, call, Some(body)));
                match (answered, self.max_call_duration) {
                    (Err(_), _) => {
                        let _ = self.ua.reject(now, &mut self.table, call, 500);
                        self.media.release(call);
                    }
                    (Ok(()), Some(limit)) => self.call_deadlines.insert(call, now + limit),
                    (Ok(()), None) => {}
                }
            }
            Err(status) => {
                let _ = self.ua.reject(now, &mut self.table, call, status);
                self.media.release(call);
            }
        }
    }

    /// The SDP answer to `request`'s offer, or an offer when it has no body; the status to
    /// refuse it with otherwise (488, RFC 3261 §13.3.1.3).
    fn sdp_for(&mut self, request: &Message, port: u16) -> Result<Body, u16> {
        self.tags += 1;
        let session = self.seed.rotate_left(17) ^ self.tags;
        let session = session & 0x7fff_ffff_ffff_ffff;
        let ip = self.media.ip;
        if request.body().is_empty() {
            return Ok(Body::sdp(sdp::offer(ip, port, session)));
        }
        let is_sdp = request.header_str(HeaderName::ContentType).is_some_and(is_sdp_type);
        if !is_sdp {
            return Err(415);
        }
        match self.answers.answer(request.body(), ip, port, session) {
            Ok(text) => Ok(Body::sdp(text)),
            Err(_) => Err(488),
        }
    }

    fn next_tag(&mut self) -> String {
        self.tags += 1;
        format!("{:x}{:x}", self.seed & 0xffff_ffff, self.tags)
    }

    fn log_proxy_event(&mut self, event: &ProxyEvent) {
        let line = match event {
            ProxyEvent::Proxied { targets, .. } => format!("proxied to {targets} target(s)"),
            ProxyEvent::Answered { status, .. } => format!("proxy answered {status}"),
            ProxyEvent::LoopDetected { .. } => "proxy: loop detected (482)".to_owned(),
            ProxyEvent::Finished { status, .. } => format!("proxied request finished: {status}"),
            _ => return,
        };
        self.events.push_back(ServeEvent::Log(line));
    }
}

fn registrar_line(event: &RegistrarEvent) -> String {
    match event {
        RegistrarEvent::BindingAdded { aor, binding } => format!("bound {aor} -> {}", binding.uri),
        RegistrarEvent::BindingRefreshed { aor, binding } => {
            format!("refreshed {aor} -> {}", binding.uri)
        }
        RegistrarEvent::BindingRemoved { aor, binding } => {
            format!("unbound {aor} -> {}", binding.uri)
        }
        RegistrarEvent::BindingExpired { aor, binding } => {
            format!("expired {aor} -> {}", binding.uri)
        }
        other => format!("{other:?}"),
    }
}

/// Whether a Content-Type value starts (after whitespace, in any case) with
/// `application/sdp`; compared in place, not lowercased into a new string.
fn is_sdp_type(value: &str) -> bool {
    let value = value.trim().as_bytes();
    value.get(..15).is_some_and(|p| p.eq_ignore_ascii_case(b"application/sdp"))
}

/// The URI inside a Route value (`<sip:...;lr>`, or a bare URI).
fn route_uri(value: &[u8]) -> Option<SipUri<'_>> {
    let text = std::str::from_utf8(value).ok()?.trim();
    let inner = match (text.find('<'), text.find('>')) {
        (Some(start), Some(end)) if start < end => text.get(start + 1..end)?,
        _ => text.split(';').next()?,
    };
    SipUri::parse(inner).ok()
}

/// A wildcard listening address is no address a peer can reach: name loopback instead (bind a
/// specific address for anything else).
fn usable_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(a) if a.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(a) if a.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    }
}

/// 32 key bytes for the nonce HMAC from the run's seed, mixed with fresh random hasher keys.
fn key_bytes(seed: u64) -> Vec<u8> {
    (0..4u64)
        .flat_map(|i| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(seed ^ i);
            h.finish().to_le_bytes()
        })
        .collect()
}

/// The location service of the proxy and the redirect server: the registrar's bindings, found
/// also when the Request-URI adds or omits one of our ports (`sip:alice@127.0.0.1:5060` finds
/// `sip:alice@127.0.0.1`, RFC 3261 §10.3 keeps ports in addresses-of-record).
pub(crate) struct Bindings {
    /// Read here; changed only through [`registrar_mut`](Self::registrar_mut), which counts the
    /// changes for the memory of misses in [`aors`](Self::aors).
    registrar: Registrar<MemoryStore>,
    /// How many times the registrar was lent for a change: bindings appear only then.
    generation: u64,
    ports: Vec<u16>,
    /// The live targets `Inner::route` found for a Request-URI (its text) at an instant, for
    /// the proxy's lookup of the same request moments later: nothing changes the bindings in
    /// between, and `Inner::on_request` forgets them once the request is dispatched.
    prefetched: RefCell<Prefetched>,
    /// [`candidates`](Self::candidates) by Request-URI text (a function of the text and our
    /// ports): a user called again and again is not turned into addresses-of-record each time.
    /// At most [`AORS_KEPT`] URIs; a full table starts over.
    aors: RefCell<HashMap<Box<str>, Candidates>>,
}

/// What [`Bindings::prefetch`] keeps: the buffers stay for the next request.
#[derive(Default)]
struct Prefetched {
    /// The Request-URI text, meaningful while `at` is `Some`.
    text: String,
    at: Option<Instant>,
    live: Vec<ProxyLocation>,
}

/// The addresses-of-record of one Request-URI and what the last lookup learnt of them.
struct Candidates {
    aors: Vec<Aor>,
    /// `(generation, instant, first)`: at that registrar generation and instant, no candidate
    /// before `first` had a live binding. None can have one at a later instant of the same
    /// generation (bindings only expire between changes), so those are not looked up again.
    misses: Option<(u64, Instant, usize)>,
}

/// How many Request-URIs and Route values `Inner` keeps the [`UriFacts`] of.
const FACTS_KEPT: usize = 4096;

/// What the dispatch rule reads of a Request-URI.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct UriFacts {
    /// A SIP URI with a user part (a candidate for a location lookup).
    user: bool,
    /// A SIP URI naming this server.
    us: bool,
}

impl UriFacts {
    /// The facts of `text`, `names_us` telling whether a SIP URI names this server; a text
    /// that is no SIP URI has none.
    fn of(text: &str, names_us: impl Fn(&SipUri<'_>) -> bool) -> UriFacts {
        match Uri::parse(text) {
            Ok(Uri::Sip(sip)) => UriFacts { user: sip.user_raw().is_some(), us: names_us(&sip) },
            _ => UriFacts::default(),
        }
    }
}

/// How many Request-URIs [`Bindings`] keeps the addresses-of-record of.
const AORS_KEPT: usize = 4096;

impl Bindings {
    fn new(registrar: Registrar<MemoryStore>, ports: Vec<u16>) -> Bindings {
        Bindings {
            registrar,
            generation: 0,
            ports,
            prefetched: RefCell::new(Prefetched::default()),
            aors: RefCell::new(HashMap::new()),
        }
    }

    /// The registrar, to change its bindings (a REGISTER, expiry, its events).
    fn registrar_mut(&mut self) -> &mut Registrar<MemoryStore> {
        self.generation = self.generation.wrapping_add(1);
        &mut self.registrar
    }

    /// The registrar's next event: taking one changes no binding.
    fn registrar_event(&mut self) -> Option<RegistrarEvent> {
        self.registrar.poll_event()
    }

    /// Whether anyone is registered at all.
    fn any_bindings(&self) -> bool {
        !self.registrar.store().is_empty()
    }

    /// Whether the SIP URI `uri` (its text) has live bindings, keeping what was found for the
    /// proxy's lookup.
    fn prefetch(&self, uri: &str, now: Instant) -> bool {
        let live = self.live_text(uri, now);
        let found = !live.is_empty();
        if let Ok(mut slot) = self.prefetched.try_borrow_mut() {
            slot.text.clear();
            slot.text.push_str(uri);
            slot.at = Some(now);
            slot.live = live;
        }
        found
    }

    fn forget_prefetch(&self) {
        if let Ok(mut slot) = self.prefetched.try_borrow_mut() {
            slot.at = None;
            slot.live = Vec::new();
        }
    }

    /// What [`prefetch`](Self::prefetch) found for `uri` at `now`, taken.
    fn take_prefetched(&self, uri: &SipUri<'_>, now: Instant) -> Option<Vec<ProxyLocation>> {
        let mut slot = self.prefetched.try_borrow_mut().ok()?;
        if slot.at != Some(now) || slot.text != uri.as_str() {
            return None;
        }
        slot.at = None;
        Some(std::mem::take(&mut slot.live))
    }

    /// The addresses-of-record `uri` may have been registered as.
    fn candidates(&self, uri: &SipUri<'_>) -> Vec<Aor> {
        let exact = Aor::from_sip(uri);
        let mut out = vec![exact.clone()];
        let scheme = if uri.is_secure() { "sips" } else { "sip" };
        let user = uri.user_raw().map(|u| format!("{u}@")).unwrap_or_default();
        let host = uri.host_raw();
        match uri.port() {
            Some(p) if self.ports.contains(&p) => {
                out.extend(Aor::parse(&format!("{scheme}:{user}{host}")).ok());
            }
            Some(_) => {}
            None => {
                for p in &self.ports {
                    out.extend(Aor::parse(&format!("{scheme}:{user}{host}:{p}")).ok());
                }
            }
        }
        out.dedup();
        out
    }

    /// The live targets of the first candidate of `uri` that has any (RFC 3261 §16.5), as the
    /// proxy takes them: highest `q` first, equal `q` in registration order.
    fn live(&self, uri: &SipUri<'_>, now: Instant) -> Vec<ProxyLocation> {
        self.live_text(uri.as_str(), now)
    }

    /// [`live`](Self::live) of a SIP URI's text (none if it is not one).
    fn live_text(&self, uri: &str, now: Instant) -> Vec<ProxyLocation> {
        self.first_live(uri, now, |b| {
            let mut location = ProxyLocation::new(&b.uri);
            if let Some(q) = b.q {
                location.q = q;
            }
            location.path.clone_from(&b.path);
            location
        })
    }

    /// The same as the registrar's [`Location`](sip_registrar::Location)s (the redirect
    /// server's lookup).
    fn live_locations(&self, uri: &SipUri<'_>, now: Instant) -> Vec<sip_registrar::Location> {
        self.first_live(uri.as_str(), now, sip_registrar::Binding::to_location)
    }

    /// What the registrar's lookup of the first candidate of `uri` with live bindings gives,
    /// each binding made into a `T` by `make`: the bindings are read where the store keeps
    /// them, and a candidate known to have none is not looked up again.
    fn first_live<T>(
        &self,
        uri: &str,
        now: Instant,
        make: impl Fn(&sip_registrar::Binding) -> T,
    ) -> Vec<T> {
        // Nobody registered (a plain callee under load): no address-of-record to build.
        if self.registrar.store().is_empty() {
            return Vec::new();
        }
        let found = |aor: &Aor| {
            let mut live: Vec<T> = Vec::new();
            let read = self.registrar.store().with_bindings(aor, &mut |list| {
                live = sip_registrar::live_in_order(list, now, &make);
            });
            (read.is_ok() && !live.is_empty()).then_some(live)
        };
        // The addresses-of-record are a function of the text: it is parsed when they are made.
        let candidates = || SipUri::parse(uri).map(|sip| self.candidates(&sip)).unwrap_or_default();
        let Ok(mut known) = self.aors.try_borrow_mut() else {
            return candidates().iter().find_map(found).unwrap_or_default();
        };
        let entry = match known.get_mut(uri) {
            Some(entry) => entry,
            None => {
                if known.len() >= AORS_KEPT {
                    known.clear();
                }
                let aors = candidates();
                known.entry(uri.into()).or_insert(Candidates { aors, misses: None })
            }
        };
        let skip = match entry.misses {
            Some((generation, at, first)) if generation == self.generation && at <= now => first,
            _ => 0,
        };
        let mut first = entry.aors.len();
        let mut live = Vec::new();
        for (i, aor) in entry.aors.iter().enumerate().skip(skip) {
            if let Some(l) = found(aor) {
                first = i;
                live = l;
                break;
            }
        }
        entry.misses = Some((self.generation, now, first));
        live
    }
}

impl sip_proxy::LocationService for Bindings {
    fn lookup(&self, request_uri: &Uri<'_>, now: Instant) -> Lookup {
        let Some(sip) = request_uri.as_sip() else { return Lookup::NotFound };
        let live = self.take_prefetched(sip, now).unwrap_or_else(|| self.live(sip, now));
        if live.is_empty() {
            let known =
                self.candidates(sip).iter().any(|a| self.registrar.is_known(a).unwrap_or(false));
            return if known { Lookup::Targets(Vec::new()) } else { Lookup::NotFound };
        }
        Lookup::Targets(live)
    }
}

impl sip_registrar::LocationService for Bindings {
    fn lookup(
        &self,
        aor: &Aor,
        now: Instant,
    ) -> Result<Vec<sip_registrar::Location>, sip_registrar::StoreError> {
        let Ok(uri) = SipUri::parse(aor.as_str()) else { return self.registrar.lookup(aor, now) };
        Ok(self.live_locations(&uri, now))
    }

    fn is_known(&self, aor: &Aor) -> Result<bool, sip_registrar::StoreError> {
        let Ok(uri) = SipUri::parse(aor.as_str()) else { return self.registrar.is_known(aor) };
        Ok(self.candidates(&uri).iter().any(|a| self.registrar.is_known(a).unwrap_or(false)))
    }
}

/// RTP ports named in SDP answers: a UDP socket bound per answered call and held until the
/// call ends, so the port is real and no other call gets it (no media is read or sent). A
/// socket freed by an ended call goes to the back of a free queue and is handed to a later
/// call from the front: steady load costs no socket, bind or close system call per call, and
/// a port is reused only after every other free one (late RTP for an ended call is unlikely
/// to reach the next call that uses its port).
struct MediaPorts {
    ip: IpAddr,
    held: HashMap<CallId, (UdpSocket, u16)>,
    free: VecDeque<(UdpSocket, u16)>,
    next: u16,
}

/// The even ports tried for RTP (RFC 3550 §11: RTP on an even port).
const MEDIA_FIRST: u16 = 20_000;
const MEDIA_LAST: u16 = 29_998;
/// Most ports held at once (in calls and free); beyond it, answers name a port without
/// holding it.
const MEDIA_MAX: usize = 4096;

impl MediaPorts {
    fn new(ip: IpAddr) -> MediaPorts {
        MediaPorts { ip, held: HashMap::new(), free: VecDeque::new(), next: MEDIA_FIRST }
    }

    /// A port for `call`: its own if it has one, else a free socket's, else a newly bound even
    /// one. The whole range is tried if need be (another process, another `sip serve` say, may
    /// hold a long run of it); the cursor moves on, so the next call starts past the ports
    /// found taken.
    fn reserve(&mut self, call: CallId) -> u16 {
        if let Some(port) = self.port_of(call) {
            return port;
        }
        if let Some((socket, port)) = self.free.pop_front() {
            self.held.insert(call, (socket, port));
            return port;
        }
        for _ in 0..=(MEDIA_LAST - MEDIA_FIRST) / 2 {
            let port = self.next;
            self.next = if port >= MEDIA_LAST { MEDIA_FIRST } else { port + 2 };
            if self.held.len() + self.free.len() >= MEDIA_MAX {
                return port;
            }
            if let Ok(socket) = UdpSocket::bind((self.ip, port)) {
                self.held.insert(call, (socket, port));
                return port;
            }
        }
        self.next
    }

    fn port_of(&self, call: CallId) -> Option<u16> {
        self.held.get(&call).map(|(_, port)| *port)
    }

    fn release(&mut self, call: CallId) {
        if let Some(held) = self.held.remove(&call) {
            self.free.push_back(held);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inner(settings: Settings) -> Inner {
        let local = [ListenAddr::udp("127.0.0.1:5999".parse().unwrap())];
        Inner::new(settings, &local, Instant::now()).unwrap()
    }

    fn settings() -> Settings {
        Settings {
            answer: 200,
            redirect: false,
            stats: None,
            domains: vec!["example.com".into()],
            verbose: false,
            auth: None,
            auth_algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            seed: 1,
            max_transactions: 100,
            retry_after: 5,
            max_call_duration: None,
            state: None,
        }
    }

    fn request(text: &str) -> Message {
        Message::parse(bytes::Bytes::from(text.replace('\n', "\r\n"))).unwrap()
    }

    #[test]
    fn routes_follow_route_headers_bindings_and_method() {
        let s = inner(settings());
        let now = Instant::now();
        let invite = |ruri: &str, route: &str, to_tag: &str| {
            request(&format!(
                "INVITE {ruri} SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:6000;branch=z9hG4bK1\n{route}\
                 To: <sip:x@127.0.0.1>{to_tag}\nFrom: <sip:y@127.0.0.1>;tag=1\nCall-ID: c\n\
                 CSeq: 1 INVITE\nMax-Forwards: 70\nContent-Length: 0\n\n"
            ))
        };
        let m = Method::Invite;
        assert_eq!(s.route(now, &m, &invite("sip:bob@127.0.0.1:5999", "", "")), Route::Ua);
        let beyond = "Route: <sip:127.0.0.1:5999;lr>, <sip:192.0.2.9;lr>\n";
        assert_eq!(s.route(now, &m, &invite("sip:bob@127.0.0.1:5999", beyond, "")), Route::Proxy);
        let ours = "Route: <sip:127.0.0.1:5999;lr>\n";
        let in_dialog = invite("sip:bob@192.0.2.7:5060", ours, ";tag=9");
        assert_eq!(s.route(now, &m, &in_dialog), Route::Proxy);
        let to_us = invite("sip:sip@127.0.0.1:5999", ours, ";tag=9");
        assert_eq!(s.route(now, &m, &to_us), Route::Ua);
        let named = "Route: <sip:example.com:5999;lr>\n";
        assert_eq!(s.route(now, &m, &invite("sip:a@192.0.2.7", named, ";tag=2")), Route::Proxy);
    }

    #[test]
    fn a_registered_user_is_proxied_or_redirected() {
        let now = Instant::now();
        let register = request(
            "REGISTER sip:127.0.0.1:5999 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:6000;branch=z9hG4bKr\n\
             To: <sip:alice@127.0.0.1>\nFrom: <sip:alice@127.0.0.1>;tag=1\nCall-ID: r\n\
             CSeq: 1 REGISTER\nContact: <sip:alice@127.0.0.1:6000>\nMax-Forwards: 70\n\
             Content-Length: 0\n\n",
        );
        let invite = request(
            "INVITE sip:alice@127.0.0.1:5999 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:6001;branch=z9hG4bK2\n\
             To: <sip:alice@127.0.0.1>\nFrom: <sip:b@127.0.0.1>;tag=1\nCall-ID: c\n\
             CSeq: 1 INVITE\nMax-Forwards: 70\nContent-Length: 0\n\n",
        );
        for (redirect, expected) in [(false, Route::Proxy), (true, Route::Redirect)] {
            let mut s = inner(Settings { redirect, ..settings() });
            assert_eq!(s.route(now, &Method::Invite, &invite), Route::Ua);
            let ctx = RegisterContext::new();
            let ok = s
                .proxy
                .locations_mut()
                .registrar_mut()
                .handle_register(now, SystemTime::now(), &register, &ctx)
                .unwrap();
            assert_eq!(ok.status(), Some(200));
            // Registered without a port, called with ours: still found.
            assert_eq!(s.route(now, &Method::Invite, &invite), expected);
            assert_eq!(s.snapshot().bindings, 1);
        }
    }

    /// The proxy's targets for `uri` as they were made before `Bindings::live` read the store
    /// in place: the registrar's lookup of each candidate, the first with live bindings
    /// converted.
    fn fresh_targets(b: &Bindings, uri: &SipUri<'_>, now: Instant) -> Vec<ProxyLocation> {
        let found = |aor: &Aor| b.registrar.lookup(aor, now).ok().filter(|l| !l.is_empty());
        let live = b.candidates(uri).iter().find_map(found).unwrap_or_default();
        live.into_iter()
            .map(|l| {
                let mut location = ProxyLocation::new(&l.uri);
                if let Some(q) = l.q {
                    location = location.q(q);
                }
                for hop in &l.path {
                    location = location.path(hop);
                }
                location
            })
            .collect()
    }

    #[test]
    fn remembered_uri_facts_are_the_parsed_ones() {
        let s = inner(settings());
        let port = s.addrs.first().map(|(_, p)| *p).unwrap();
        let uris = [
            format!("sip:alice@127.0.0.1:{port}"),
            format!("sip:127.0.0.1:{port}"),
            format!("SIP:alice@127.0.0.1:{port};transport=udp"),
            format!("sips:alice@127.0.0.1:{port}"),
            "sip:alice@127.0.0.1:1".to_owned(),
            "sip:alice@localhost".to_owned(),
            format!("sip:alice@localhost:{port}"),
            "sip:alice@192.0.2.1".to_owned(),
            "tel:+15551234".to_owned(),
            "mailto:a@b".to_owned(),
            "sip:".to_owned(),
            "sip:alice@".to_owned(),
            String::new(),
        ];
        for _ in 0..2 {
            for uri in &uris {
                let want = match Uri::parse(uri) {
                    Ok(Uri::Sip(sip)) => (sip.user_raw().is_some(), s.names_us(&sip)),
                    _ => (false, false),
                };
                let got = s.uri_facts(uri);
                assert_eq!((got.user, got.us), want, "{uri}");
                for value in [format!("<{uri};lr>"), format!("{uri};lr"), format!(" <{uri}> ")] {
                    let want = route_uri(value.as_bytes()).map(|sip| s.names_us(&sip));
                    assert_eq!(s.route_names_us(value.as_bytes()), want, "{value}");
                }
            }
        }
        assert!(s.uri_facts(&uris[0]).us && s.uri_facts(&uris[0]).user);
        assert_eq!(s.uri_facts.borrow().len(), uris.len());
    }

    #[test]
    fn remembered_misses_give_the_fresh_answers_as_bindings_come_and_go() {
        let t0 = Instant::now();
        let register = |aor: &str, contact: &str, cseq: u32, expires: u32| {
            request(&format!(
                "REGISTER sip:127.0.0.1:5999 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:6000;branch=z9hG4bK{cseq}\n\
                 To: <{aor}>\nFrom: <{aor}>;tag=1\nCall-ID: r{aor}\nCSeq: {cseq} REGISTER\n\
                 Contact: {contact};expires={expires}\nPath: <sip:edge.example.com;lr>\n\
                 Supported: path\nMax-Forwards: 70\nContent-Length: 0\n\n"
            ))
        };
        let mut s = inner(settings());
        let ctx = RegisterContext::new();
        let uri = SipUri::parse("sip:alice@127.0.0.1:5999").unwrap();
        // (second, REGISTER to make then: AOR, Contact, CSeq, expires)
        type Step<'a> = (u64, Option<(&'a str, &'a str, u32, u32)>);
        let steps: [Step<'_>; 8] = [
            (0, None),
            // Bound without our port (the second candidate), two contacts with q.
            (0, Some(("sip:alice@127.0.0.1", "<sip:a@10.0.0.1:1>;q=0.5", 1, 60))),
            (1, Some(("sip:alice@127.0.0.1", "<sip:a@10.0.0.2:2>;q=0.9", 2, 60))),
            (2, None),
            // Bound with our port too (the first candidate) while the other is remembered.
            (3, Some(("sip:alice@127.0.0.1:5999", "<sip:a@10.0.0.3:3>", 1, 40))),
            (4, None),
            // The first candidate's binding expires (43 s); the second's live until 61 s.
            (45, None),
            (70, None),
        ];
        for (secs, reg) in steps {
            let now = t0 + Duration::from_secs(secs);
            if let Some((aor, contact, cseq, expires)) = reg {
                let r = register(aor, contact, cseq, expires);
                let registrar = s.proxy.locations_mut().registrar_mut();
                let ok = registrar.handle_register(now, SystemTime::now(), &r, &ctx).unwrap();
                assert_eq!(ok.status(), Some(200));
            }
            let b = s.proxy.locations();
            for _ in 0..2 {
                let fresh = fresh_targets(b, &uri, now);
                assert_eq!(b.live(&uri, now), fresh, "at {secs} s");
                let locations: Vec<String> =
                    b.live_locations(&uri, now).into_iter().map(|l| l.uri).collect();
                let uris: Vec<String> = fresh.into_iter().map(|l| l.uri).collect();
                assert_eq!(locations, uris, "at {secs} s");
            }
        }
        let b = s.proxy.locations();
        let at = |secs| t0 + Duration::from_secs(secs);
        assert_eq!(b.live(&uri, at(4)).len(), 1);
        assert_eq!(b.live(&uri, at(45)).len(), 2);
        assert_eq!(b.live(&uri, at(45)).first().map(|l| l.path.len()), Some(1));
        // An earlier instant than a remembered miss looks everything up again.
        assert_eq!(b.live(&uri, at(4)).len(), 1);
        assert!(b.live(&uri, at(70)).is_empty());
    }

    #[test]
    fn remembered_addresses_of_record_and_prefetches_give_the_fresh_answers() {
        let now = Instant::now();
        let register = request(
            "REGISTER sip:127.0.0.1:5999 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:6000;branch=z9hG4bKr\n\
             To: <sip:alice@127.0.0.1>\nFrom: <sip:alice@127.0.0.1>;tag=1\nCall-ID: r\n\
             CSeq: 1 REGISTER\nContact: <sip:alice@127.0.0.1:6000>\nMax-Forwards: 70\n\
             Content-Length: 0\n\n",
        );
        let mut s = inner(settings());
        let ctx = RegisterContext::new();
        let registrar = s.proxy.locations_mut().registrar_mut();
        registrar.handle_register(now, SystemTime::now(), &register, &ctx).unwrap();
        let b = s.proxy.locations();
        let uris =
            |live: Vec<ProxyLocation>| -> Vec<String> { live.into_iter().map(|l| l.uri).collect() };
        let fresh = |uri: &SipUri<'_>| uris(fresh_targets(b, uri, now));
        let texts = [
            "sip:alice@127.0.0.1:5999",
            "sip:alice@127.0.0.1",
            "sip:alice@127.0.0.1:7000",
            "sip:bob@127.0.0.1:5999",
        ];
        let mut hits = 0;
        for _ in 0..3 {
            for text in texts {
                let uri = SipUri::parse(text).unwrap();
                let live = uris(b.live(&uri, now));
                hits += usize::from(!live.is_empty());
                assert_eq!(live, fresh(&uri), "{text}");
            }
        }
        assert_eq!(hits, 6);
        assert_eq!(b.aors.borrow().len(), texts.len());
        // A prefetch serves the same URI at the same instant, once.
        let alice = SipUri::parse(texts[0]).unwrap();
        assert!(b.prefetch(alice.as_str(), now));
        assert!(b.take_prefetched(&SipUri::parse(texts[1]).unwrap(), now).is_none());
        assert!(b.take_prefetched(&alice, now + Duration::from_millis(1)).is_none());
        assert_eq!(b.take_prefetched(&alice, now).map(uris), Some(fresh(&alice)));
        assert!(b.take_prefetched(&alice, now).is_none());
        assert!(b.prefetch(alice.as_str(), now));
        b.forget_prefetch();
        assert!(b.take_prefetched(&alice, now).is_none());
    }

    #[test]
    fn sdp_content_types_are_recognised_as_by_lowercasing() {
        for value in [
            "application/sdp",
            " Application/SDP ; charset=x",
            "APPLICATION/SDPx",
            "application/sd",
            "text/plain",
            "",
            "applicätion/sdp",
            "\tapplication/sdp",
        ] {
            let lowered = value.trim().to_ascii_lowercase().starts_with("application/sdp");
            assert_eq!(is_sdp_type(value), lowered, "{value:?}");
        }
    }

    #[test]
    fn bindings_are_found_with_or_without_our_port() {
        let b = Bindings::new(
            Registrar::new(RegistrarConfig::default(), MemoryStore::new()),
            vec![5060],
        );
        let with = SipUri::parse("sip:alice@127.0.0.1:5060").unwrap();
        let names: Vec<String> = b.candidates(&with).iter().map(|a| a.to_string()).collect();
        assert_eq!(names, ["sip:alice@127.0.0.1:5060", "sip:alice@127.0.0.1"]);
        let without = SipUri::parse("sip:alice@127.0.0.1").unwrap();
        let names: Vec<String> = b.candidates(&without).iter().map(|a| a.to_string()).collect();
        assert_eq!(names, ["sip:alice@127.0.0.1", "sip:alice@127.0.0.1:5060"]);
        let other = SipUri::parse("sip:alice@127.0.0.1:7000").unwrap();
        assert_eq!(b.candidates(&other).len(), 1);
    }

    #[test]
    fn admission_sheds_only_a_sustained_backlog_and_recovers_in_200_ms() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let admitted = |a: &mut Admission, n: usize| (0..n).filter(|_| a.next()).count();
        let turn = |a: &mut Admission, at: Instant, behind: bool| {
            a.behind = behind;
            a.turn_end(at);
        };
        let mut a = Admission::default();
        // Behind for 15 ms, turn after turn: a hiccup, everything admitted.
        for t in (0..=15).step_by(5) {
            turn(&mut a, ms(t), true);
        }
        assert_eq!(admitted(&mut a, 100), 100);
        // From 20 ms on, each turn behind admits a quarter less, down to 1 in 50.
        turn(&mut a, ms(20), true);
        assert_eq!(admitted(&mut a, 100), 75);
        for t in (30..=400).step_by(10) {
            turn(&mut a, ms(t), true);
        }
        assert_eq!(admitted(&mut a, 1000), 20);
        // Caught up: 110 ms later over half is admitted again (0.02 + 5 x 0.11), 210 ms
        // later everything.
        turn(&mut a, ms(410), false);
        turn(&mut a, ms(510), false);
        let half = admitted(&mut a, 100);
        assert!((56..=58).contains(&half), "{half}");
        turn(&mut a, ms(610), false);
        assert_eq!(admitted(&mut a, 100), 100);
        // A new backlog waits its 20 ms again.
        turn(&mut a, ms(620), true);
        turn(&mut a, ms(635), true);
        assert_eq!(admitted(&mut a, 100), 100);
    }

    #[test]
    fn stats_line_has_rates_gauges_and_totals() {
        let t0 = Instant::now();
        let a = Snapshot { calls: 10, transactions: 40, ..Snapshot::default() };
        let b = Snapshot {
            calls: 30,
            transactions: 100,
            live_transactions: 5,
            pending_transactions: 1,
            dialogs: 2,
            bindings: 1,
            retransmissions: 3,
            rejected_unparsable: 3,
            dropped_unparsable: 2,
            shed: 7,
            shed_behind: 4,
            evicted: 9,
        };
        let mut input = RuntimeStats::default();
        input.datagrams_in = 100;
        input.datagram_keepalives_in = 6;
        input.stream_messages_in = 10;
        input.messages_in = 100;
        input.parse_errors = 4;
        input.frame_errors = 1;
        let line = stats_line("stats", (t0, a), (t0 + Duration::from_secs(2), b), &input);
        assert_eq!(
            line,
            "stats: 10.0 calls/s, 30.0 transactions/s, 5 live transactions (1 pending), 2 dialogs, \
             1 bindings, 3 retransmissions, 4 parse errors (20 calls, 60 transactions in 2.0 s); \
             input: 100 datagrams (6 keep-alives), 10 stream messages, 100 parsed, 4 unparsable, \
             1 broken streams: 3 answered, 2 dropped; 7 shed 503 (4 while behind), \
             9 lingering transactions evicted"
        );
    }

    #[test]
    fn media_ports_are_even_held_and_released() {
        let mut media = MediaPorts::new("127.0.0.1".parse().unwrap());
        let calls: Vec<CallId> = {
            // CallIds come from a UA; make two through a core's incoming calls is heavy, so
            // use the public Display-free path: the ports' uniqueness per call is what matters.
            let mut ua = sip_ua::UserAgent::new(
                UaConfig::new("t", "127.0.0.1:5998"),
                TransactionConfig::default(),
            );
            let now = Instant::now();
            (0..3)
                .map(|_| ua.invite(now, sip_ua::Invite::to("sip:x@127.0.0.1:5997")).unwrap())
                .collect()
        };
        let p0 = media.reserve(calls[0]);
        let p1 = media.reserve(calls[1]);
        assert_eq!(p0 % 2, 0);
        assert_ne!(p0, p1);
        assert_eq!(media.reserve(calls[0]), p0, "a call keeps its port");
        assert!(UdpSocket::bind(("127.0.0.1", p0)).is_err(), "the port is held");
        media.release(calls[0]);
        assert_eq!(media.port_of(calls[0]), None);
        assert!(UdpSocket::bind(("127.0.0.1", p0)).is_err(), "a freed port stays held");
        // The freed socket serves the next call, without binding another.
        let p2 = media.reserve(calls[2]);
        assert_eq!(p2, p0);
        assert_eq!((media.held.len(), media.free.len()), (2, 0));
    }

    #[test]
    fn the_answer_status_and_period_parsers_refuse_nonsense() {
        assert_eq!(parse_answer_status("486"), Ok(486));
        assert_eq!(parse_answer_status("200"), Ok(200));
        assert!(parse_answer_status("180").is_err());
        assert!(parse_answer_status("x").is_err());
        assert_eq!(parse_period("0.5"), Ok(Duration::from_millis(500)));
        assert!(parse_period("0").is_err());
        assert!(parse_period("-1").is_err());
        assert_eq!(parse_algorithm("md5"), Ok(Algorithm::Md5));
        assert_eq!(parse_algorithm("SHA-512-256-sess"), Ok(Algorithm::Sha512_256Sess));
        assert!(parse_algorithm("SHA-1").unwrap_err().contains("SHA-1"));
    }
}
