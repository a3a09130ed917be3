//! Per-language stemming over rust-stemmers, with a per-thread cache.

use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use rust_stemmers::Algorithm;

use crate::lang::Lang;
use crate::token::fold;

/// Most distinct tokens one thread caches before the cache is cleared.
const CACHE_CAPACITY: usize = 100_000;

thread_local! {
    static CACHE: RefCell<HashMap<(Lang, String), String>> = RefCell::new(HashMap::new());
}

/// Reduces words of one language to their stems, folded like [`fold`].
///
/// A Snowball stemmer costs about 9× a plain lowercase pass per token; the per-thread
/// cache (up to 100,000 tokens per thread) brings repeated words down to a hash lookup.
/// Stemming runs under `catch_unwind`: rust-stemmers panics on some inputs, and then the
/// folded surface form is kept.
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

    /// The language this stemmer is for.
    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// Returns the folded stem of `word` (`Verspätungen` → `verspat`): what the index
    /// stores, so `Zurich` and `Zürich` meet.
    pub fn stem(&self, word: &str) -> String {
        fold(&self.stem_lower(word))
    }

    /// Returns the lowercase stem of `word` keeping diacritics (`schön` → `schon`
    /// would collide with `schon` once folded), for lexicon lookups.
    pub fn stem_lower(&self, word: &str) -> String {
        let lower = word.to_lowercase();
        CACHE.with(|cache| {
            let key = (self.lang, lower);
            if let Some(hit) = cache.borrow().get(&key) {
                return hit.clone();
            }
            let stemmed = catch_unwind(AssertUnwindSafe(|| self.inner.stem(&key.1).into_owned()))
                .unwrap_or_else(|_| key.1.clone());
            let mut cache = cache.borrow_mut();
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
            cache.insert(key, stemmed.clone());
            stemmed
        })
    }
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
}
