//! The generated corpus and the reference pass shared by the benchmarks.
//!
//! R = per post `text.to_lowercase().split_whitespace().count()`: the floor for touching
//! every character as text. Posts are word salad with realistic token statistics
//! (50% German, 45% English, 5% mixed; brands, handles, hashtags, emoji, URLs), seeded
//! so every machine measures the same bytes.

use std::time::Duration;

/// SplitMix64: a tiny seeded generator, so the corpus is the same on every machine.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Zipf-like pick: low indexes far more often.
    pub fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        let a = self.next() as usize % words.len();
        let b = self.next() as usize % words.len();
        words[a.min(b)]
    }
}

pub const DE: &[&str] = &[
    "der",
    "die",
    "und",
    "ist",
    "nicht",
    "heute",
    "wieder",
    "zug",
    "bahn",
    "verspätung",
    "verspätet",
    "app",
    "login",
    "fehler",
    "danke",
    "super",
    "schlecht",
    "pünktlich",
    "ärgerlich",
    "service",
    "fahrgäste",
    "störung",
    "bahnhof",
    "ticket",
    "preis",
    "schön",
    "sehr",
    "kein",
    "wlan",
    "hotline",
    "warten",
    "seit",
    "tagen",
    "immer",
    "noch",
    "mit",
    "für",
    "über",
    "größer",
    "straße",
    "müde",
    "grüße",
    "endlich",
    "leider",
    "total",
    "freundlich",
    "kaputt",
    "ausfall",
];
pub const EN: &[&str] = &[
    "the", "and", "is", "not", "today", "again", "train", "app", "login", "fails", "crash",
    "update", "thanks", "great", "terrible", "late", "delay", "service", "support", "ticket",
    "price", "really", "very", "never", "wifi", "waiting", "refund", "still", "for", "with",
    "about", "station", "platform", "love", "hate", "slow", "fast", "friendly", "broken",
    "nothing", "works", "customer", "hours", "minutes", "cancel", "seat", "coach", "trip",
];
const BRANDS: &[&str] = &["Acme Bahn", "Blitzbus", "#AcmeBahn", "@acmebahn", "Acme"];
const EMOJI: &[&str] = &["😡", "👍", "😊", "🙄", "🎉", "😤"];

pub fn corpus(n: usize, seed: u64) -> Vec<(String, &'static str)> {
    let mut rng = SplitMix(seed);
    (0..n)
        .map(|i| {
            let (words, lang) = match rng.next() % 100 {
                0..=49 => (DE, "de"),
                50..=94 => (EN, "en"),
                _ => (
                    if i % 2 == 0 { DE } else { EN },
                    if i % 2 == 0 { "de" } else { "en" },
                ),
            };
            let target = 100 + (rng.next() % 180) as usize;
            let mut text = String::with_capacity(target + 40);
            text.push_str(rng.pick(BRANDS));
            while text.len() < target {
                text.push(' ');
                match rng.next() % 40 {
                    0 => text.push_str(rng.pick(EMOJI)),
                    1 => text.push_str(&format!("@user{}", rng.next() % 5000)),
                    2 => text.push_str(&format!("{}", rng.next() % 100)),
                    _ => text.push_str(rng.pick(words)),
                }
            }
            if rng.next().is_multiple_of(4) {
                text.push_str(&format!(" https://t.co/{:x}", rng.next()));
            }
            // A unique tail keeps generated posts from being near-duplicates.
            text.push_str(&format!(" #{i}"));
            (text, lang)
        })
        .collect()
}

pub fn raw_pass(posts: &[(String, &str)]) -> usize {
    posts
        .iter()
        .map(|(t, _)| t.to_lowercase().split_whitespace().count())
        .sum()
}

pub fn raw_pass_2(posts: &[(String, &str)]) -> usize {
    let (a, b) = posts.split_at(posts.len() / 2);
    std::thread::scope(|s| {
        let h = s.spawn(|| raw_pass(a));
        raw_pass(b) + h.join().unwrap_or_default()
    })
}

/// Returns the fastest of `n` runs: interference only slows a run down.
pub fn best_of<F: FnMut() -> Duration>(n: usize, mut f: F) -> Duration {
    (0..n).map(|_| f()).min().unwrap_or_default()
}
