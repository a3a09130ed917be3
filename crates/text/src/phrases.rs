//! Phrases: the stemmed, stopword-free uni- and bigrams of a post that recurring
//! complaint topics are counted on (`login fails after update` → `login`, `fail`,
//! `updat`, `login fail`).
//!
//! Handles, hashtags, URLs, numbers and one-letter tokens never make a phrase: a
//! complaint is about something, not someone or a link. Bigrams join tokens that
//! stand next to each other in the text, so a stopword between two words (`crash *at*
//! login`) makes no bigram of them. At most [`MAX_PHRASES`] per post.

use crate::lang::Lang;
use crate::stem::Stemmer;
use crate::stopwords::is_stopword;
use crate::token::{fold, is_url, sigil, tokenize};

/// Most phrases kept per post (unigrams first, in text order).
pub const MAX_PHRASES: usize = 24;

/// The phrases of `text` in `lang` (stemmed with `lang`'s Snowball stemmer, stopwords
/// of `lang` and English removed; other languages are folded, not stemmed).
pub fn phrases(text: &str, lang: Option<Lang>) -> Vec<String> {
    phrases_split(text, lang, &|_| None)
}

/// [`phrases`], with German compounds split where `split` knows them (the scorer does
/// for compounds whose head or first part is in its lexicon: `Zugausfall` →
/// `zug|ausfall`): the parts join as unigrams and as their bigram, so `Zugausfall`
/// counts with `Ausfall` and `Zug`.
pub fn phrases_split(
    text: &str,
    lang: Option<Lang>,
    split: &dyn Fn(&str) -> Option<(String, String)>,
) -> Vec<String> {
    let stemmer = lang.and_then(Stemmer::new);
    // Byte ranges of URLs: their tokens (`https`, `example`, `p`) are no phrases.
    let mut urls: Vec<(usize, usize)> = Vec::new();
    let mut offset = 0;
    for word in text.split_whitespace() {
        let start = text[offset..].find(word).map_or(offset, |i| offset + i);
        let end = start + word.len();
        if is_url(word) {
            urls.push((start, end));
        }
        offset = end;
    }
    let mut kept: Vec<(usize, String)> = Vec::new();
    // Compound parts, added after the text's own unigrams.
    let mut parts: Vec<String> = Vec::new();
    for t in tokenize(text) {
        if sigil(text, t.start).is_some()
            || urls.iter().any(|&(s, e)| t.start >= s && t.end <= e)
            || t.text.chars().count() < 2
            || t.text.chars().all(|c| c.is_ascii_digit())
        {
            continue;
        }
        let folded = fold(t.text);
        let lower = t.text.to_lowercase();
        let stop = |l| is_stopword(l, &folded) || is_stopword(l, &lower);
        if lang.is_some_and(stop) || stop(Lang::En) {
            continue;
        }
        let stem_of = |w: &str| match &stemmer {
            Some(s) => s.stem(w),
            None => fold(w),
        };
        let stem = stem_of(t.text);
        if stem.chars().count() >= 2 {
            kept.push((t.position, stem));
        }
        if let Some((first, head)) = split(&lower) {
            let (a, b) = (stem_of(&first), stem_of(&head));
            if a.chars().count() >= 2 && b.chars().count() >= 3 {
                parts.push(a.clone());
                parts.push(b.clone());
                parts.push(format!("{a} {b}"));
            }
        }
    }
    let mut out: Vec<String> = Vec::with_capacity(MAX_PHRASES);
    let push = |p: String, out: &mut Vec<String>| {
        if out.len() < MAX_PHRASES && !out.contains(&p) {
            out.push(p);
        }
    };
    for (_, s) in &kept {
        push(s.clone(), &mut out);
    }
    for p in parts {
        push(p, &mut out);
    }
    for pair in kept.windows(2) {
        if pair[1].0 == pair[0].0 + 1 && pair[0].1 != pair[1].1 {
            push(format!("{} {}", pair[0].1, pair[1].1), &mut out);
        }
    }
    out
}

/// The key near-identical phrases merge on: each word cut to its first 6 letters when
/// it has 7 or more (`verspat`/`verspatung` → `verspa`), so stems Snowball leaves
/// apart (`verspätet`, `Verspätung`) land together.
pub fn merge_key(phrase: &str) -> String {
    phrase
        .split(' ')
        .map(|w| {
            if w.chars().count() >= 7 {
                w.chars().take(6).collect()
            } else {
                w.to_owned()
            }
        })
        .collect::<Vec<String>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stemmed_unigrams_and_adjacent_bigrams_without_noise() {
        let p = phrases(
            "@AcmeBahn App crashes at login again!! #fail https://x.example/p/2 2026",
            Some(Lang::En),
        );
        assert_eq!(
            p,
            ["app", "crash", "login", "again", "app crash", "login again"],
            "{p:?}"
        );
        let q = phrases("App crashing, app crashed", Some(Lang::En));
        assert!(q.contains(&"app crash".to_owned()), "{q:?}");
        let d = phrases("Der Zug ist schon wieder verspätet", Some(Lang::De));
        assert!(d.contains(&"zug".to_owned()), "{d:?}");
        assert!(!d.iter().any(|w| w == "der" || w == "ist"), "{d:?}");
    }

    #[test]
    fn near_identical_phrases_share_a_merge_key() {
        let a = phrases("verspätet", Some(Lang::De));
        let b = phrases("Verspätung", Some(Lang::De));
        assert_eq!(merge_key(&a[0]), merge_key(&b[0]), "{a:?} {b:?}");
        assert_ne!(merge_key("login"), merge_key("logout"));
    }

    #[test]
    fn compounds_the_scorer_knows_split_into_their_parts() {
        let split = |w: &str| (w == "zugausfall").then(|| ("zug".to_owned(), "ausfall".to_owned()));
        let p = phrases_split("Schon wieder ein Zugausfall", Some(Lang::De), &split);
        for want in ["zugausfall", "zug", "ausfall", "zug ausfall"] {
            assert!(p.iter().any(|x| x == want), "{want}: {p:?}");
        }
        assert!(
            !phrases("Schon wieder ein Zugausfall", Some(Lang::De)).contains(&"zug".to_owned())
        );
    }

    #[test]
    fn at_most_24_phrases() {
        let text = (0..100)
            .map(|i| format!("wort{i}x"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(phrases(&text, Some(Lang::De)).len(), MAX_PHRASES);
    }
}
