//! Running `sip serve` as a user does, and talking raw SIP to it: a real process on 127.0.0.1
//! with ports the OS picks (`--listen udp:127.0.0.1:0 --listen tcp:127.0.0.1:0`, read back from
//! the `listening on` lines), ended with SIGTERM.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use sip_message::{Frame, Framer, Limits, Message};

pub const SIP: &str = env!("CARGO_BIN_EXE_sip");

/// A running `sip serve` and the lines it prints.
pub struct Server {
    pub child: Child,
    /// The UDP port (and the TCP port, `tcp_port`).
    pub port: u16,
    pub tcp_port: u16,
    pub lines: Receiver<String>,
    pub seen: Vec<String>,
}

impl Server {
    pub fn start(args: &[&str]) -> Server {
        let mut child = Command::new(SIP)
            .arg("serve")
            .args(["--listen", "udp:127.0.0.1:0", "--listen", "tcp:127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server { child, port: 0, tcp_port: 0, lines, seen: Vec::new() };
        let udp = server.wait_for("listening on udp:127.0.0.1:");
        server.port = udp.rsplit(':').next().unwrap().parse().unwrap();
        let tcp = server.wait_for("listening on tcp:127.0.0.1:");
        server.tcp_port = tcp.rsplit(':').next().unwrap().parse().unwrap();
        server
    }

    pub fn udp_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn tcp_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.tcp_port))
    }

    /// `sip:127.0.0.1:PORT` with `user@` when given.
    pub fn uri(&self, user: &str) -> String {
        if user.is_empty() {
            format!("sip:127.0.0.1:{}", self.port)
        } else {
            format!("sip:{user}@127.0.0.1:{}", self.port)
        }
    }

    /// The first line (from now on) containing `needle`; panics after 10 s.
    pub fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    panic!("no line with {needle:?}; saw {:#?}", self.seen)
                }
            }
        }
    }

    /// SIGTERM, then the exit status and everything printed.
    pub fn stop(self) -> (i32, Vec<String>) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        self.stop_already_signalled()
    }

    /// Waits for the exit (after a signal sent some other way): the exit status and
    /// everything printed.
    pub fn stop_already_signalled(mut self) -> (i32, Vec<String>) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "sip serve did not exit on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut seen = std::mem::take(&mut self.seen);
        seen.extend(self.lines.try_iter());
        (status.code().unwrap_or(-1), seen)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `sip ARGS`: exit status and stdout.
pub fn sip(args: &[&str]) -> (i32, String) {
    let out = Command::new(SIP).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap_or(-1), stdout)
}

/// A number from a stats line: the integer just before `label` (`"3 bindings"` → 3).
pub fn stat(line: &str, label: &str) -> u64 {
    let at = line.find(label).unwrap_or_else(|| panic!("no {label:?} in {line}"));
    let before = line[..at].trim_end();
    let digits = before.rsplit(|c: char| !c.is_ascii_digit()).next().unwrap();
    digits.parse().unwrap_or_else(|_| panic!("no number before {label:?} in {line}"))
}

/// A UDP socket on 127.0.0.1 with a read timeout.
pub fn udp_client(timeout: Duration) -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(timeout)).unwrap();
    socket
}

/// The next datagram as a message; `None` after the socket's timeout.
pub fn recv_message(socket: &UdpSocket) -> Option<Message> {
    let mut buf = vec![0u8; 65_536];
    let (n, _) = socket.recv_from(&mut buf).ok()?;
    buf.truncate(n);
    Some(Message::parse(buf.into()).expect("sip serve sent an unparsable message"))
}

/// A request's header block with every header a response needs; `via` is the Via value.
pub fn headers(method: &str, via: &str, call_id: &str) -> String {
    format!(
        "Via: {via}\r\nFrom: <sip:tester@127.0.0.1>;tag=t{call_id}\r\nTo: <sip:bob@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n"
    )
}

/// A TCP connection with a read timeout, and a framer for what comes back.
pub struct TcpClient {
    pub stream: TcpStream,
    framer: Framer,
    buf: BytesMut,
}

impl TcpClient {
    pub fn connect(addr: SocketAddr) -> TcpClient {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        TcpClient { stream, framer: Framer::new(Limits::default()), buf: BytesMut::new() }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// The next message; `None` when the connection closed or nothing came in time.
    pub fn recv(&mut self) -> Option<Message> {
        loop {
            match self.framer.decode(&mut self.buf) {
                Ok(Some(Frame::Message(bytes))) => return Some(Message::parse(bytes).unwrap()),
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(e) => panic!("sip serve sent an unframable stream: {e}"),
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Whether the server closed the connection (EOF or reset) within the read timeout.
    pub fn closed(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) => {
                    return !matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    );
                }
            }
        }
    }
}
