//! The cost of location lookups in a [`MemoryStore`], for profiling (`valgrind --tool=callgrind`):
//! one AOR with one binding (as `sip serve` holds a registered callee), looked up
//! `LOOKUPS` times (default 1000).

use std::time::{Duration, Instant};

use sip_registrar::{Aor, Binding, BindingStore, LocationService, MemoryStore};

fn main() {
    let lookups: usize = std::env::var("LOOKUPS").ok().and_then(|n| n.parse().ok()).unwrap_or(1000);
    let now = Instant::now();
    let aor = Aor::parse("sip:service@127.0.0.1").expect("a valid AOR");
    let mut store = MemoryStore::new();
    let binding = Binding {
        uri: "sip:service@127.0.0.1:25090;transport=udp".into(),
        contact: "<sip:service@127.0.0.1:25090;transport=udp>".into(),
        q: None,
        expires_at: now + Duration::from_secs(3600),
        call_id: "a84b4c76e66710@pc33.example.com".into(),
        cseq: 1,
        path: Vec::new(),
        source: Some("udp:127.0.0.1:25090".into()),
    };
    let _ = store.update(&aor, &mut |list| {
        list.push(binding.clone());
        true
    });
    let mut found = 0;
    for _ in 0..lookups {
        found += std::hint::black_box(store.lookup(&aor, now)).map_or(0, |l| l.len());
    }
    assert_eq!(found, lookups);
}
