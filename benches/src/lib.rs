//! Criterion benchmarks for the SIP workspace; see `benches/`.
