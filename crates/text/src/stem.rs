//! Per-language stemming over rust-stemmers, with a per-thread cache.

use rustc_hash::FxHashMap as HashMap;
use std::borrow::Cow;
use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};

use rust_stemmers::Algorithm;

use crate::token::fold;
use lauscher_model::Lang;

/// Most distinct tokens one thread caches per language before its cache is cleared.
const CACHE_CAPACITY: usize = 100_000;

/// Lowercase word → (lowercase stem, folded stem), for one language.
type StemCache = HashMap<String, (String, String)>;

thread_local! {
    /// One cache per language, by [`Lang::ALL`]'s order.
    static CACHE: RefCell<[StemCache; Lang::ALL.len()]> = RefCell::new(Default::default());
}

/// Reduces words of one language to their stems.
///
/// A Snowball stemmer costs about 9× a plain lowercase pass per token; the per-thread
/// cache (up to 100,000 words per language and thread) brings repeated words down to
/// one hash lookup and one copy. Stemming runs under `catch_unwind`: rust-stemmers
/// panics on some inputs, and then the lowercase surface form is kept.
pub struct Stemmer {
    lang: Lang,
    inner: rust_stemmers::Stemmer,
}

impl Stemmer {
    /// Returns the stemmer for `lang`, or `None` when Snowball has none for it.
    pub fn new(lang: Lang) -> Option<Self> {
        let algorithm = match lang {
            Lang::De => Algorithm::German,
            Lang::En => Algorithm::English,
            Lang::Fr => Algorithm::French,
            Lang::Es => Algorithm::Spanish,
            Lang::It => Algorithm::Italian,
            Lang::Nl => Algorithm::Dutch,
            Lang::Pt => Algorithm::Portuguese,
            Lang::Sv => Algorithm::Swedish,
            Lang::Da => Algorithm::Danish,
            Lang::No => Algorithm::Norwegian,
            Lang::Fi => Algorithm::Finnish,
            Lang::Tr => Algorithm::Turkish,
            Lang::Ru => Algorithm::Russian,
            Lang::Pl => return None,
        };
        Some(Stemmer {
            lang,
            inner: rust_stemmers::Stemmer::create(algorithm),
        })
    }

    /// Returns the folded stem of `word` (`Verspätungen` → `verspat`): what the index
    /// stores, so `Zurich` and `Zürich` meet.
    pub fn stem(&self, word: &str) -> String {
        self.with_stems(word, |_, folded| folded.to_owned())
    }

    /// Returns the lowercase stem of `word` keeping what Snowball keeps, for lexicon
    /// lookups (folding would merge `schon` and `schön` further).
    pub fn stem_lower(&self, word: &str) -> String {
        self.with_stems(word, |lower, _| lower.to_owned())
    }

    /// Calls `f` with the lowercase and the folded stem of `word`, without copying them
    /// out of the cache.
    pub fn with_stems<R>(&self, word: &str, f: impl FnOnce(&str, &str) -> R) -> R {
        let lower: Cow<'_, str> = if needs_lowercasing(word) {
            Cow::Owned(word.to_lowercase())
        } else {
            Cow::Borrowed(word)
        };
        CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            // In range: one cache per variant of `Lang`.
            let words = &mut cache[self.lang as usize];
            if let Some((l, folded)) = words.get(lower.as_ref()) {
                return f(l, folded);
            }
            let stemmed = catch_unwind(AssertUnwindSafe(|| self.inner.stem(&lower).into_owned()))
                .unwrap_or_else(|_| lower.clone().into_owned());
            let folded = fold(&stemmed);
            let result = f(&stemmed, &folded);
            if words.len() >= CACHE_CAPACITY {
                words.clear();
            }
            words.insert(lower.into_owned(), (stemmed, folded));
            result
        })
    }
}

/// Whether `word.to_lowercase()` differs from `word`: some character has another
/// lowercase form (`str::to_lowercase` maps each character by itself, but for `Σ`,
/// which has one). Lowercase words of any script (`verspätung`, the tokens every caller
/// passes lowercased) are borrowed, not copied.
fn needs_lowercasing(word: &str) -> bool {
    if word.is_ascii() {
        return word.bytes().any(|b| b.is_ascii_uppercase());
    }
    word.chars().any(|c| {
        let mut lower = c.to_lowercase();
        lower.next() != Some(c) || lower.next().is_some()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_german_and_english_families() {
        let de = Stemmer::new(Lang::De).expect("german stemmer");
        assert_eq!(de.stem("Verspätung"), de.stem("Verspätungen"));
        let en = Stemmer::new(Lang::En).expect("english stemmer");
        assert_eq!(en.stem("crashing"), en.stem("crashes"));
        assert_eq!(en.stem("Crashing"), "crash");
    }

    #[test]
    fn only_words_with_another_lowercase_form_are_lowercased() {
        for (word, differs) in [
            ("verspätung", false),
            ("Verspätung", true),
            ("VERSPÄTUNG", true),
            ("straße", false),
            ("ǅemal", true),
            ("ΟΔΟΣ", true),
            ("zug", false),
            ("Zug", true),
        ] {
            assert_eq!(needs_lowercasing(word), differs, "{word}");
            assert_eq!(word.to_lowercase() != word, differs, "{word}");
        }
        let de = Stemmer::new(Lang::De).expect("german stemmer");
        assert_eq!(de.stem("verspätungen"), de.stem("Verspätungen"));
    }
}
