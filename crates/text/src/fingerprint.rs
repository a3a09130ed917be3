//! Content hashes and SimHash fingerprints for duplicate detection.
//!
//! Both are stored in the state store, so their definitions are frozen: a change would
//! make every stored fingerprint miss.

use xxhash_rust::xxh3::{xxh3_64, xxh3_128};

use crate::token::{fold_into, tokenize};

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
        let words = normalised_words(text);
        let joined = words.join(" ");
        Fingerprint {
            content_hash: xxh3_128(joined.as_bytes()),
            simhash: simhash(&words),
            tokens: words.len(),
        }
    }

    /// Returns whether content and near-duplicate matching apply to this text.
    pub fn is_dedupable(&self) -> bool {
        self.tokens >= MIN_TOKENS_FOR_CONTENT_DEDUPE
    }

    /// Splits the SimHash into four 16-bit bands: two hashes within
    /// [`NEAR_DUPLICATE_BITS`] of each other share at least one band (pigeonhole), so a
    /// store can look candidates up by band.
    pub fn bands(&self) -> [u16; 4] {
        bands(self.simhash)
    }
}

/// Returns the four 16-bit bands of a SimHash (see [`Fingerprint::bands`]).
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

fn normalised_words(text: &str) -> Vec<String> {
    let mut words: Vec<&str> = text
        .split_whitespace()
        .filter(|w| {
            !(w.starts_with("http://") || w.starts_with("https://") || w.starts_with("www."))
        })
        .collect();
    // Leading "RT @x:" and reply handles.
    if words.first().is_some_and(|w| w.eq_ignore_ascii_case("rt")) {
        words.remove(0);
    }
    while words.first().is_some_and(|w| w.starts_with('@')) {
        words.remove(0);
    }
    // Trailing "via @x".
    if words.len() >= 2
        && words[words.len() - 2].eq_ignore_ascii_case("via")
        && words[words.len() - 1].starts_with('@')
    {
        words.truncate(words.len() - 2);
    }
    let mut out = Vec::with_capacity(words.len());
    for w in words {
        for token in tokenize(w) {
            let mut folded = String::with_capacity(token.text.len());
            fold_into(token.text, &mut folded);
            out.push(folded);
        }
    }
    out
}

fn simhash(words: &[String]) -> u64 {
    let mut votes = [0i32; 64];
    let mut add = |h: u64| {
        for (bit, vote) in votes.iter_mut().enumerate() {
            if h >> bit & 1 == 1 {
                *vote += 1;
            } else {
                *vote -= 1;
            }
        }
    };
    for w in words {
        add(xxh3_64(w.as_bytes()));
    }
    for pair in words.windows(2) {
        let mut key = String::with_capacity(pair[0].len() + pair[1].len() + 1);
        key.push_str(&pair[0]);
        key.push(' ');
        key.push_str(&pair[1]);
        add(xxh3_64(key.as_bytes()));
    }
    votes.iter().enumerate().fold(
        0u64,
        |acc, (bit, &v)| if v > 0 { acc | 1 << bit } else { acc },
    )
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
    fn near_hashes_share_a_band() {
        let a = 0xDEAD_BEEF_0123_4567u64;
        let b = a ^ 0b1001 ^ (1 << 40);
        assert!(is_near(a, b));
        assert!(bands(a).iter().zip(bands(b)).any(|(x, y)| *x == y));
    }
}
