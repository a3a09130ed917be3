//! Per-language stop words: the function words that carry no topic.
//!
//! The lists are plain data files beside this module (one lowercase word per line), short
//! on purpose: social posts are short, and removing too much hurts phrase search.

use rustc_hash::FxHashSet as HashSet;
use std::sync::LazyLock;

use lauscher_model::Lang;

static DE: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../data/stopwords-de.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});
static EN: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../data/stopwords-en.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

/// Returns whether Lauscher has a stop-word list for `lang`.
pub fn has_list(lang: Lang) -> bool {
    matches!(lang, Lang::De | Lang::En)
}

/// Returns whether the lowercase token `word` is a stop word in `lang`.
///
/// Social noise words (`rt`, `via`, `https`) count as stop words in every language.
pub fn is_stopword(lang: Lang, word: &str) -> bool {
    if matches!(word, "rt" | "via" | "http" | "https" | "www" | "amp") {
        return true;
    }
    match lang {
        Lang::De => DE.contains(word),
        Lang::En => EN.contains(word),
        _ => false,
    }
}
