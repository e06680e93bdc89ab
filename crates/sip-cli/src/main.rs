//! `sip`: the command-line face of the stack.
//!
//! - `sip parse FILE...` reads each file as one datagram (or, with `--stream`, as TCP bytes) and
//!   prints what the parser and the validator make of it. Exit status 0 when every message is
//!   valid, 1 when any is not, 2 for usage or I/O errors.
//! - `sip serve` is a registrar, a record-routing proxy and an answering user agent at once, on
//!   `udp:127.0.0.1:5060` and `tcp:127.0.0.1:5060` by default (see `serve.rs`); SIGINT and
//!   SIGTERM end it with a final stats line and exit 0.
//! - `sip call URI`, `sip register REGISTRAR --user U` and `sip options URI` do one thing as a
//!   user agent on an ephemeral port, print every response, and exit 0 on success (see
//!   `client.rs`).
#![forbid(unsafe_code)]

use std::io::Read;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sip_runtime::RuntimeHandle;

mod client;
mod parse_cmd;
mod sdp;
mod serve;
mod views;

/// A sans-IO SIP (RFC 3261) stack.
#[derive(Debug, Parser)]
#[command(name = "sip", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse and validate SIP messages and print a readable summary.
    Parse(parse_cmd::ParseArgs),
    /// Run a registrar, proxy and answering user agent until SIGINT or SIGTERM.
    Serve(serve::ServeArgs),
    /// Place one call, hang up after --duration; exit 0 when it was answered and ended cleanly.
    Call(client::CallArgs),
    /// Register a user at a registrar; exit 0 once the registrar accepted it.
    Register(client::RegisterArgs),
    /// Send one OPTIONS; exit 0 on a 2xx.
    Options(client::OptionsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Parse(args) => parse_cmd::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Call(args) => client::call(&args),
        Command::Register(args) => client::register(&args),
        Command::Options(args) => client::options(&args),
    }
}

/// Reads a file, or standard input for `-`.
pub(crate) fn read_input(path: &str) -> std::io::Result<Vec<u8>> {
    if path == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf)?;
        Ok(buf)
    } else {
        std::fs::read(path)
    }
}

/// Shuts the runtime of `handle` down gracefully on SIGINT or SIGTERM (a thread waits for
/// them; a second signal while shutting down changes nothing).
///
/// # Errors
/// The OS refused to install the handler.
pub(crate) fn on_signal<C: Send + 'static>(handle: &RuntimeHandle<C>) -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    let handle = handle.clone();
    std::thread::spawn(move || {
        for _ in signals.forever() {
            handle.shutdown();
        }
    });
    Ok(())
}
