//! Where the server finds a user's `H(A1)` (RFC 7616 §3.6, §5.2).

use std::collections::HashMap;

use crate::algorithm::HashAlgorithm;
use crate::digest::Ha1;

/// The server's view of its user database: `H(A1)` by user, realm and hash function.
///
/// A store never has to hold passwords: `H(username ":" realm ":" password)` per hash function
/// is all the verifier needs (RFC 7616 §3.6), for the plain and `-sess` variants alike. A
/// database that keeps only MD5 hashes simply answers `None` for SHA-256, and a server that
/// offers SHA-256 first then refuses such a user's SHA-256 response as
/// [`Outcome::UnknownUser`](crate::Outcome::UnknownUser); offer only the hashes the store has.
///
/// Lookups are synchronous: a store backed by a remote database should be consulted before
/// (preload the user named in the credentials), since this crate never blocks.
pub trait CredentialStore {
    /// `H(A1)` of `username` in `realm` computed with `hash`; `None` when the user is unknown
    /// or has no hash of that kind.
    fn ha1(&self, username: &str, realm: &str, hash: HashAlgorithm) -> Option<Ha1>;

    /// The user whose hashed name is `userhash` = `H(username ":" realm)` in hex (RFC 7616
    /// §3.4.4), for clients that send `userhash=true`. The default knows no hashed names.
    fn resolve_userhash(&self, userhash: &str, realm: &str, hash: HashAlgorithm) -> Option<String> {
        let _ = (userhash, realm, hash);
        None
    }
}

impl<S: CredentialStore + ?Sized> CredentialStore for &S {
    fn ha1(&self, username: &str, realm: &str, hash: HashAlgorithm) -> Option<Ha1> {
        (**self).ha1(username, realm, hash)
    }

    fn resolve_userhash(&self, userhash: &str, realm: &str, hash: HashAlgorithm) -> Option<String> {
        (**self).resolve_userhash(userhash, realm, hash)
    }
}

/// An in-memory [`CredentialStore`]: users added with a password are kept as one `H(A1)` per
/// hash function (the password itself is not kept), users added with a precomputed hash keep
/// just that. Hashed usernames (RFC 7616 §3.4.4) are indexed as users are added.
///
/// ```
/// use sip_auth::{CredentialStore, Ha1, HashAlgorithm, MemoryStore};
/// let mut store = MemoryStore::new();
/// store.add_password("alice", "example.com", "secret");
/// let md5 = Ha1::from_password(HashAlgorithm::Md5, "bob", "example.com", "pw");
/// store.add_ha1("bob", "example.com", md5.clone());
/// assert_eq!(store.ha1("bob", "example.com", HashAlgorithm::Md5), Some(md5));
/// assert_eq!(store.ha1("bob", "example.com", HashAlgorithm::Sha256), None);
/// assert!(store.ha1("alice", "example.com", HashAlgorithm::Sha512_256).is_some());
/// assert!(store.ha1("alice", "example.net", HashAlgorithm::Md5).is_none());
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    users: HashMap<(String, String), Vec<Ha1>>,
    userhashes: HashMap<(String, HashAlgorithm, String), String>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Adds (or replaces) `username` in `realm` with `H(A1)` for every hash function.
    pub fn add_password(&mut self, username: &str, realm: &str, password: &str) -> &mut Self {
        for hash in HashAlgorithm::ALL {
            self.add_ha1(username, realm, Ha1::from_password(hash, username, realm, password));
        }
        self
    }

    /// Adds (or replaces) the `H(A1)` of `username` in `realm` for `ha1`'s hash function.
    pub fn add_ha1(&mut self, username: &str, realm: &str, ha1: Ha1) -> &mut Self {
        let hash = ha1.hash();
        let hashes = self.users.entry((username.to_owned(), realm.to_owned())).or_default();
        hashes.retain(|h| h.hash() != hash);
        hashes.push(ha1);
        let userhash = hash.hex(&[username.as_bytes(), b":", realm.as_bytes()]);
        self.userhashes.insert((realm.to_owned(), hash, userhash), username.to_owned());
        self
    }

    /// Removes `username` from `realm`; whether it was there.
    pub fn remove(&mut self, username: &str, realm: &str) -> bool {
        self.userhashes.retain(|(r, _, _), u| !(r == realm && u == username));
        self.users.remove(&(username.to_owned(), realm.to_owned())).is_some()
    }

    /// Number of (user, realm) pairs.
    #[must_use]
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether the store has no users.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

impl CredentialStore for MemoryStore {
    fn ha1(&self, username: &str, realm: &str, hash: HashAlgorithm) -> Option<Ha1> {
        self.users
            .get(&(username.to_owned(), realm.to_owned()))?
            .iter()
            .find(|h| h.hash() == hash)
            .cloned()
    }

    fn resolve_userhash(&self, userhash: &str, realm: &str, hash: HashAlgorithm) -> Option<String> {
        let key = (realm.to_owned(), hash, userhash.to_ascii_lowercase());
        self.userhashes.get(&key).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userhash_resolves_per_hash_and_realm() {
        // RFC 7616 §3.9.2's user, H("Jäsøn Doe:api@example.org") with SHA-512/256 (FIPS
        // 180-4). The RFC prints 4888...54ec, which is SHA-512 truncated to 256 bits (see
        // tests/rfc_vectors.rs); this value was computed independently with Python's hashlib.
        let mut store = MemoryStore::new();
        store.add_password("J\u{e4}s\u{f8}n Doe", "api@example.org", "Secret, or not?");
        let hashed = "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b";
        assert_eq!(
            store.resolve_userhash(hashed, "api@example.org", HashAlgorithm::Sha512_256).as_deref(),
            Some("J\u{e4}s\u{f8}n Doe")
        );
        assert_eq!(store.resolve_userhash(hashed, "api@example.org", HashAlgorithm::Sha256), None);
        assert_eq!(store.resolve_userhash(hashed, "other", HashAlgorithm::Sha512_256), None);
    }

    #[test]
    fn replacing_and_removing_users() {
        let mut store = MemoryStore::new();
        store.add_password("a", "r", "one").add_password("a", "r", "two");
        assert_eq!(store.len(), 1);
        assert_eq!(
            store.ha1("a", "r", HashAlgorithm::Md5),
            Some(Ha1::from_password(HashAlgorithm::Md5, "a", "r", "two"))
        );
        assert!(store.remove("a", "r"));
        assert!(!store.remove("a", "r"));
        assert!(store.is_empty());
        let h = HashAlgorithm::Md5.hex(&[b"a:r"]);
        assert_eq!(store.resolve_userhash(&h, "r", HashAlgorithm::Md5), None);
    }
}
