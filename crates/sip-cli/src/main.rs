//! `sip`: the command-line face of the stack.
//!
//! `sip parse FILE...` reads each file as one datagram (or, with `--stream`, as TCP bytes) and
//! prints what the parser and the validator make of it. Exit status 0 when every message is
//! valid, 1 when any is not, 2 for usage or I/O errors.

use std::io::Read;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod parse_cmd;
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Parse(args) => parse_cmd::run(&args),
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
