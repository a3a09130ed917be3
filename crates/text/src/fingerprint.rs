//! Content hashes and SimHash fingerprints for duplicate detection.
//!
//! Both are stored in the state store, so their definitions are frozen: a change would
//! make every stored fingerprint miss.

use xxhash_rust::xxh3::{Xxh3, xxh3_64};

use crate::token::{fold_into, is_url, tokenize};

/// Fewest tokens a text needs before content and near-duplicate matching apply.
///
/// Short posts ("Danke!", "same here") are written independently by many people; treating
/// them as copies would merge distinct authors.
pub const MIN_TOKENS_FOR_CONTENT_DEDUPE: usize = 5;

/// Most bits two SimHashes may differ in and still be near-duplicates.
pub const NEAR_DUPLICATE_BITS: u32 = 3;

/// What duplicate detection needs to know about a text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    /// xxh3-128 of the normalised token stream.
    pub content_hash: u128,
    /// 64-bit SimHash over token unigrams and bigrams.
    pub simhash: u64,
    /// Tokens the hashes were computed from.
    pub tokens: usize,
}

impl Fingerprint {
    /// Returns the fingerprint of a post's text.
    ///
    /// Normalisation first removes what reposts add: a leading `RT @handle:`, leading
    /// @-replies, URLs, and a trailing `via @handle`; then tokens are folded (case and
    /// diacritics). So `RT @x: Zug fällt aus https://t.co/a` and `Zug FÄLLT aus` share a
    /// content hash. Costs one tokenisation and two hash passes.
    pub fn of(text: &str) -> Fingerprint {
        let mut content = Xxh3::new();
        let mut votes = [0i32; 64];
        let mut word = String::new();
        let mut previous: Option<u64> = None;
        let mut tokens = 0usize;
        for w in normalised_words(text) {
            for token in tokenize(w) {
                word.clear();
                fold_into(token.text, &mut word);
                if tokens > 0 {
                    content.update(b" ");
                }
                content.update(word.as_bytes());
                let h = xxh3_64(word.as_bytes());
                vote(&mut votes, h);
                if let Some(p) = previous {
                    // The bigram's feature: the two words' hashes, mixed.
                    vote(&mut votes, mix(p.rotate_left(17) ^ h));
                }
                previous = Some(h);
                tokens += 1;
            }
        }
        let simhash = votes.iter().enumerate().fold(
            0u64,
            |acc, (bit, &v)| if v > 0 { acc | 1 << bit } else { acc },
        );
        Fingerprint {
            content_hash: content.digest128(),
            simhash,
            tokens,
        }
    }

    /// Returns whether content and near-duplicate matching apply to this text.
    pub fn is_dedupable(&self) -> bool {
        self.tokens >= MIN_TOKENS_FOR_CONTENT_DEDUPE
    }
}

/// Returns the four 16-bit bands of a SimHash: two hashes within
/// [`NEAR_DUPLICATE_BITS`] of each other share at least one band (pigeonhole).
pub fn bands(simhash: u64) -> [u16; 4] {
    [
        simhash as u16,
        (simhash >> 16) as u16,
        (simhash >> 32) as u16,
        (simhash >> 48) as u16,
    ]
}

/// Returns whether two SimHashes are near-duplicates.
pub fn is_near(a: u64, b: u64) -> bool {
    (a ^ b).count_ones() <= NEAR_DUPLICATE_BITS
}

/// Splits `text` into whitespace words, minus what reposts add (see [`Fingerprint::of`]).
fn normalised_words(text: &str) -> impl Iterator<Item = &str> {
    let mut words: Vec<&str> = text.split_whitespace().filter(|w| !is_url(w)).collect();
    let mut start = 0;
    // Leading "RT @x:" and reply handles.
    if words.first().is_some_and(|w| w.eq_ignore_ascii_case("rt")) {
        start = 1;
    }
    while words.get(start).is_some_and(|w| w.starts_with('@')) {
        start += 1;
    }
    // Trailing "via @x".
    let n = words.len();
    if n >= start + 2 && words[n - 2].eq_ignore_ascii_case("via") && words[n - 1].starts_with('@') {
        words.truncate(n - 2);
    }
    words.into_iter().skip(start)
}

fn vote(votes: &mut [i32; 64], h: u64) {
    // Branchless, so the compiler vectorises it: +1 for a set bit, -1 for a clear one.
    for (bit, v) in votes.iter_mut().enumerate() {
        *v += ((h >> bit) & 1) as i32 * 2 - 1;
    }
}

/// A 64-bit finaliser (SplitMix64's), so combined hashes spread over all bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// SimHashes bucketed by each of their four 16-bit bands, for near-duplicate lookups:
/// two SimHashes within [`NEAR_DUPLICATE_BITS`] share a band (pigeonhole), so a lookup
/// scans four buckets. Holds at most `capacity` hashes in two generations; when the
/// newer one is full, the older one is dropped whole.
///
/// Cost: 24 bytes per hash (the hash and four 4-byte chain links) plus 1 MiB of bucket
/// heads per generation, allocated once. Decision: a map from bucket to a `Vec` of
/// hashes, as before, cost about 70 bytes per hash (four copies of it, vectors at up to
/// twice their length, 262,144 map entries per generation): at the state store's million
/// hashes that was about 70 MiB of an import's peak memory.
pub struct NearIndex {
    current: Generation,
    previous: Generation,
    capacity: usize,
}

/// Buckets per band.
const BUCKETS: usize = 1 << 16;

/// One generation: per band and bucket the newest entry, per entry its hash and, per
/// band, the next older entry of its bucket. Entry numbers are stored plus one (0: none).
#[derive(Default)]
struct Generation {
    heads: Vec<u32>,
    entries: Vec<Entry>,
}

/// A hash with its links, side by side: a step along a chain is one memory access.
#[derive(Clone, Copy)]
struct Entry {
    hash: u64,
    next: [u32; 4],
}

impl Generation {
    fn insert(&mut self, simhash: u64, tag: u16, reserve: usize) {
        if self.heads.is_empty() {
            self.heads = vec![0; 4 * BUCKETS];
            self.entries.reserve_exact(reserve);
        }
        // At most capacity / 2 entries: u32 suffices for any capacity we allow.
        let entry = self.entries.len() as u32 + 1;
        let mut links = [0u32; 4];
        for (i, b) in bands(simhash).into_iter().enumerate() {
            let head = &mut self.heads[i * BUCKETS + usize::from(b ^ tag)];
            links[i] = *head;
            *head = entry;
        }
        self.entries.push(Entry {
            hash: simhash,
            next: links,
        });
    }

    /// The first entries of the four buckets `simhash` falls in (0: none).
    fn heads_of(&self, simhash: u64, tag: u16) -> [u32; 4] {
        if self.heads.is_empty() {
            return [0; 4];
        }
        let b = bands(simhash);
        std::array::from_fn(|i| self.heads[i * BUCKETS + usize::from(b[i] ^ tag)])
    }
}

impl NearIndex {
    /// Returns an empty index keeping at most about `capacity` hashes (capped at
    /// 2³¹).
    pub fn new(capacity: usize) -> Self {
        NearIndex {
            current: Generation::default(),
            previous: Generation::default(),
            capacity: capacity.clamp(2, 1 << 31),
        }
    }

    /// Adds `simhash` of a text by `author` (a hash of the author key), dropping the
    /// older generation when the newer one is full.
    pub fn insert(&mut self, simhash: u64, author: u64) {
        let half = self.capacity / 2;
        if self.current.entries.len() >= half {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(simhash, author_tag(author), half);
    }

    /// Returns whether a hash stored for `author` is within [`NEAR_DUPLICATE_BITS`] of
    /// `simhash`. The author is folded into the band keys (16 bits), so the same text
    /// by someone else is not found (a repost, not a duplicate), at a cost of one false
    /// match in 65,536 authors.
    pub fn contains_near(&self, simhash: u64, author: u64) -> bool {
        let tag = author_tag(author);
        // The eight chains (four bands, two generations) are walked in lockstep: their
        // steps are independent loads, so the processor overlaps the cache misses
        // rather than waiting for each in turn (a chain at capacity is ~8 entries).
        let gens = [&self.current, &self.previous];
        let mut at: [u32; 8] = [0; 8];
        at[..4].copy_from_slice(&self.current.heads_of(simhash, tag));
        at[4..].copy_from_slice(&self.previous.heads_of(simhash, tag));
        loop {
            let mut live = false;
            for (k, e) in at.iter_mut().enumerate() {
                if *e == 0 {
                    continue;
                }
                let entry = &gens[k / 4].entries[(*e - 1) as usize];
                if is_near(entry.hash, simhash) {
                    return true;
                }
                *e = entry.next[k % 4];
                live = true;
            }
            if !live {
                return false;
            }
        }
    }
}

fn author_tag(author: u64) -> u16 {
    (author ^ (author >> 16) ^ (author >> 32) ^ (author >> 48)) as u16
}

/// Returns the xxh3-64 hash of `bytes` (bodies, keys): fast, stable across releases.
pub fn hash64(bytes: &[u8]) -> u64 {
    xxh3_64(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reposts_share_the_content_hash() {
        let a = Fingerprint::of("Zug fällt schon wieder aus, danke Acme https://t.co/abc");
        let b = Fingerprint::of("RT @someone: Zug FÄLLT schon wieder aus, danke Acme!");
        let c = Fingerprint::of("Zug fällt schon wieder aus, danke Acme via @acmewatch");
        assert_eq!(a.content_hash, b.content_hash);
        assert_eq!(a.content_hash, c.content_hash);
    }

    #[test]
    fn small_edits_are_near_and_other_posts_are_not() {
        let a = Fingerprint::of(
            "Die App stürzt seit dem Update bei jedem Login ab, wirklich nervig heute",
        );
        let b = Fingerprint::of(
            "Die App stürzt seit dem Update bei jedem Login ab, wirklich nervig heute!!! 😡 #fail",
        );
        let c = Fingerprint::of(
            "Heute pünktlich angekommen, der Service im Zug war freundlich und schnell",
        );
        assert!(is_near(a.simhash, b.simhash) || a.content_hash != b.content_hash);
        assert!(!is_near(a.simhash, c.simhash));
    }

    #[test]
    fn short_texts_are_not_content_deduplicated() {
        assert!(!Fingerprint::of("Danke!").is_dedupable());
        assert!(Fingerprint::of("one two three four five").is_dedupable());
    }

    #[test]
    fn the_near_index_answers_as_a_scan_of_its_hashes_would() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            seed = mix(seed.wrapping_add(0x9E37_79B9_7F4A_7C15));
            seed
        };
        let mut index = NearIndex::new(1 << 20);
        let mut kept = Vec::new();
        for _ in 0..5_000 {
            let (h, a) = (next(), next() % 50);
            index.insert(h, a);
            kept.push((h, a));
        }
        for k in 0..5_000 {
            let (h, a) = kept[k % kept.len()];
            // Within the distance, a few bits flipped; or a random hash.
            let probe = if k % 2 == 0 {
                h ^ (1 << (k % 64)) ^ (1 << ((k * 7) % 64))
            } else {
                next()
            };
            let scan = kept
                .iter()
                .any(|(o, b)| author_tag(*b) == author_tag(a) && is_near(*o, probe));
            assert_eq!(index.contains_near(probe, a), scan, "probe {probe:x}");
        }
    }

    #[test]
    fn the_near_index_finds_near_hashes_and_forgets_the_oldest_generation() {
        let mut index = NearIndex::new(4);
        index.insert(0xF0F0_F0F0_F0F0_F0F0, 7);
        assert!(index.contains_near(0xF0F0_F0F0_F0F0_F0F7, 7));
        assert!(
            !index.contains_near(0xF0F0_F0F0_F0F0_F0F7, 8),
            "another author's near text is a repost"
        );
        assert!(!index.contains_near(0x0F0F_0F0F_0F0F_0F0F, 7));
        for h in [1, 2, 3, 4] {
            index.insert(h << 20, 7);
        }
        assert!(!index.contains_near(0xF0F0_F0F0_F0F0_F0F0, 7));
    }

    #[test]
    fn near_hashes_share_a_band() {
        let a = 0xDEAD_BEEF_0123_4567u64;
        let b = a ^ 0b1001 ^ (1 << 40);
        assert!(is_near(a, b));
        assert!(bands(a).iter().zip(bands(b)).any(|(x, y)| *x == y));
    }
}
