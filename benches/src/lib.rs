//! Criterion benchmarks for the SIP workspace.
//!
//! This library is empty; the benchmarks are the bench targets in `benches/` (see the package's
//! `README.md`). `benches/parse.rs` compares `sip-message` with `sipx-sip`, `rsip` and
//! `ezk-sip-types` on the messages in `data/`.
