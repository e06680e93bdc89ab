//! To tags for responses (RFC 3261 §8.2.6.2, §19.3) from a seeded generator.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::RngCore;

/// Makes To tags: 64 random bits as 16 hex digits (§19.3 asks for at least 32 bits of
/// randomness), from ChaCha8 seeded by the configuration, so runs replay exactly.
#[derive(Clone, Debug)]
pub(crate) struct ToTags {
    rng: ChaCha8Rng,
}

impl ToTags {
    pub(crate) fn new(rng: ChaCha8Rng) -> ToTags {
        ToTags { rng }
    }

    pub(crate) fn next(&mut self) -> String {
        format!("{:016x}", self.rng.next_u64())
    }
}

pub(crate) use sip_message::grammar::is_token;

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::SeedableRng;

    use super::*;

    #[test]
    fn tags_are_tokens_and_replay_from_the_seed() {
        let mut a = ToTags::new(ChaCha8Rng::seed_from_u64(1));
        let mut b = ToTags::new(ChaCha8Rng::seed_from_u64(1));
        let (x, y) = (a.next(), a.next());
        assert_ne!(x, y);
        assert_eq!((x.clone(), y), (b.next(), b.next()));
        assert!(is_token(&x) && x.len() == 16);
        assert!(!is_token("a b") && !is_token("") && !is_token("a;b"));
    }
}
