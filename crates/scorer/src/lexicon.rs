//! Word → valence for one language: bundled lexicons, user lexicons merged over them,
//! stems for inflection, German compound heads and umlaut spellings.
//!
//! Lookup order for a lowercase word: the word itself; its elongation shortened once
//! more (`soo` → `so`); for German the `ae`/`oe`/`ue`/`ss` spelling turned back into
//! umlauts and ß; its stem; for German an `un-` word as the negated rest, then, for a
//! compound of known words ([`Compounds`]), its head (`zugausfall` → `ausfall`) or an
//! evaluative first part (`scheiß…`).
//! An explicit 0 entry stops the lookup, which is how collisions are defused (Snowball
//! folds `schön` and `schon` into one stem).
//!
//! Each resolved word is cached per thread (up to [`CACHE_CAPACITY`] words per lexicon),
//! so a repeated word costs one hash lookup.

use rustc_hash::FxHashMap as HashMap;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, Ordering};

use lauscher_config::UserLexicon;
use lauscher_model::Lang;
use lauscher_text::Stemmer;
use lauscher_text::compound::Compounds;

/// Most words one thread caches per lexicon before the cache is cleared.
pub const CACHE_CAPACITY: usize = 100_000;

/// Shortest stem looked up: shorter ones collide across unrelated words.
const MIN_STEM: usize = 4;

/// How a word was found, for explanations.
#[derive(Clone, Debug, PartialEq)]
pub enum Via {
    /// As written (or with its elongation shortened).
    Word,
    /// Through its `ae`/`oe`/`ue`/`ss` spelling.
    Spelling(String),
    /// Through its stem.
    Stem(String),
    /// As `un-` + a word: the word's valence, negated.
    Un(String),
    /// Through a compound's head or evaluative first part.
    Compound(String),
}

/// A resolved lexicon entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Valence in `[-4, 4]`.
    pub valence: f32,
    /// How it was found.
    pub via: Via,
}

/// A multi-word entry (`danke für nichts`), matched on consecutive words.
#[derive(Clone, Debug)]
pub struct Phrase {
    /// Its lowercase words.
    pub words: Vec<String>,
    /// Its valence.
    pub valence: f32,
}

/// The lexicon of one language.
pub struct Lexicon {
    id: u32,
    lang: Lang,
    stemmer: Option<Stemmer>,
    exact: HashMap<String, f32>,
    stems: HashMap<String, f32>,
    phrases: HashMap<String, Vec<Phrase>>,
}

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

/// Lexicon id → word → resolution.
type Cache = HashMap<u32, HashMap<String, Option<Entry>>>;

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(HashMap::default());
}

impl Lexicon {
    /// Builds the lexicon for `lang` from `layers`, later layers winning: each layer is
    /// `(word or phrase, valence)` pairs. A word's stem takes the valence of the shortest
    /// word with that stem; stems whose words disagree in sign are dropped.
    pub fn new(lang: Lang, layers: impl IntoIterator<Item = Vec<(String, f32)>>) -> Lexicon {
        let mut exact: HashMap<String, f32> = HashMap::default();
        let mut phrases: HashMap<String, Vec<Phrase>> = HashMap::default();
        for layer in layers {
            for (word, valence) in layer {
                let word = word.to_lowercase();
                if word.contains(' ') {
                    let words: Vec<String> = word.split(' ').map(str::to_owned).collect();
                    let list = phrases.entry(words[0].clone()).or_default();
                    list.retain(|p| p.words != words);
                    list.push(Phrase { words, valence });
                } else {
                    exact.insert(word, valence);
                }
            }
        }
        for list in phrases.values_mut() {
            list.sort_by_key(|p| std::cmp::Reverse(p.words.len()));
        }
        let stemmer = Stemmer::new(lang);
        let mut stems: HashMap<String, (usize, f32)> = HashMap::default();
        if let Some(stemmer) = &stemmer {
            let mut words: Vec<(&String, &f32)> = exact.iter().collect();
            words.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then(a.0.cmp(b.0)));
            for (word, &valence) in words {
                if valence == 0.0 || !word.chars().all(char::is_alphabetic) {
                    continue;
                }
                let stem = stemmer.stem_lower(word);
                // Short stems collide too often (`mag` → `Magen`); such words match
                // as written only.
                if stem.chars().count() < MIN_STEM {
                    continue;
                }
                // English entries list their inflections; Porter also strips derivations
                // (`lively` → `live`, `responsible` → `respons`), so only base forms
                // lend their stem.
                if lang == Lang::En && word.len() > stem.len() + 1 {
                    continue;
                }
                match stems.get_mut(&stem) {
                    None => {
                        stems.insert(stem, (word.len(), valence));
                    }
                    Some((_, v)) if v.signum() != valence.signum() => *v = 0.0,
                    Some(_) => {}
                }
            }
        }
        Lexicon {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            lang,
            stemmer,
            exact,
            stems: stems.into_iter().map(|(s, (_, v))| (s, v)).collect(),
            phrases,
        }
    }

    /// The bundled lexicon for `lang` with `user` lexicons of that language merged over
    /// it; `None` for a language without a bundled lexicon and without user words.
    pub fn bundled(lang: Lang, user: &[UserLexicon]) -> Option<Lexicon> {
        let mut layers: Vec<Vec<(String, f32)>> = Vec::new();
        if let Some(pack) = crate::pack::of(lang) {
            if pack.vader {
                layers.push(
                    vader_sentiment::LEXICON
                        .iter()
                        .map(|(w, v)| (w.to_lowercase(), *v as f32))
                        .collect(),
                );
            }
            layers.push(parse_tsv(pack.lexicon));
        }
        layers.extend(
            user.iter()
                .filter(|u| u.lang == lang)
                .map(|u| u.words.clone()),
        );
        if layers.iter().all(Vec::is_empty) {
            return None;
        }
        Some(Lexicon::new(lang, layers))
    }

    /// The language of this lexicon.
    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// The phrases starting with `word`, longest first.
    pub fn phrases(&self, word: &str) -> &[Phrase] {
        self.phrases.get(word).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Resolves a lowercase word as a whole entry only (no stems, spellings or
    /// compounds): how hashtag words are looked up.
    pub fn lookup_exact(&self, word: &str) -> Option<Entry> {
        let &v = self.exact.get(word)?;
        (v != 0.0).then_some(Entry {
            valence: v,
            via: Via::Word,
        })
    }

    /// Returns whether the lowercase `word` is an entry with a valence, as written or by
    /// stem (not through a compound or `un-`): an evaluative word.
    pub fn is_entry(&self, word: &str) -> bool {
        match self.exact.get(word) {
            Some(&v) => v != 0.0,
            None => matches!(self.stemmed(word), Some(Some(_))),
        }
    }

    /// Resolves a lowercase word (see the module docs); `None` when it carries no
    /// sentiment.
    pub fn lookup(&self, word: &str) -> Option<Entry> {
        if let Some(&v) = self.exact.get(word) {
            return (v != 0.0).then_some(Entry {
                valence: v,
                via: Via::Word,
            });
        }
        let cached = CACHE.with(|c| {
            c.borrow()
                .get(&self.id)
                .and_then(|words| words.get(word).cloned())
        });
        if let Some(hit) = cached {
            return hit;
        }
        let resolved = self.resolve(word);
        CACHE.with(|c| {
            let mut c = c.borrow_mut();
            let words = c.entry(self.id).or_default();
            if words.len() >= CACHE_CAPACITY {
                words.clear();
            }
            words.insert(word.to_owned(), resolved.clone());
        });
        resolved
    }

    fn resolve(&self, word: &str) -> Option<Entry> {
        if self.lang == Lang::De
            && let Some(spelled) = umlauts(word)
            && let Some(&v) = self.exact.get(&spelled)
        {
            return (v != 0.0).then_some(Entry {
                valence: v,
                via: Via::Spelling(spelled),
            });
        }
        if let Some(e) = self.stemmed(word) {
            return e;
        }
        if self.lang != Lang::De || word.chars().count() < 6 {
            return None;
        }
        if let Some(rest) = word.strip_prefix("un")
            && let Some(Some(e)) = self
                .exact
                .get(rest)
                .map(|&v| Some(v))
                .or_else(|| self.stemmed(rest).map(|e| e.map(|e| e.valence)))
                .map(|v| v.filter(|v| *v > 0.0))
        {
            return Some(Entry {
                valence: -0.8 * e,
                via: Via::Un(rest.to_owned()),
            });
        }
        self.compound(word)
    }

    /// Looks `word` up by stem: `Some(None)` when an entry blocks it.
    fn stemmed(&self, word: &str) -> Option<Option<Entry>> {
        let stemmer = self.stemmer.as_ref()?;
        let stem = stemmer.stem_lower(word);
        let &v = self.stems.get(&stem)?;
        Some((v != 0.0).then_some(Entry {
            valence: v,
            via: Via::Stem(stem),
        }))
    }

    /// German compounds are right-headed: a compound of known words
    /// ([`Compounds`]) takes its head's valence (`Zugausfall` → `Ausfall`), else its
    /// evaluative first part's (`Scheißservice`). Verbs and words of unknown parts are
    /// no compounds (`reagieren` is not `rea|gieren`).
    fn compound(&self, word: &str) -> Option<Entry> {
        let split = Compounds::german().split(word)?;
        let head_valence = |w: &str| match self.exact.get(w) {
            Some(&v) => Some(v),
            None if w.chars().count() >= 6 => self.stemmed(w).map(|e| e.map_or(0.0, |e| e.valence)),
            None => None,
        };
        let v = head_valence(&split.head)
            .filter(|v| *v != 0.0)
            .or_else(|| head_valence(&split.lemma).filter(|v| *v != 0.0))
            .or_else(|| {
                crate::pack::de::PACK
                    .compound_prefixes
                    .iter()
                    .find(|(prefix, _)| split.first.starts_with(prefix))
                    .map(|(_, v)| *v)
            })?;
        Some(Entry {
            valence: v,
            via: Via::Compound(split.to_string()),
        })
    }
}

/// Parses a bundled lexicon: `word<TAB>valence` per line, `#` comments.
pub fn parse_tsv(data: &str) -> Vec<(String, f32)> {
    data.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (w, v) = l.split_once('\t')?;
            Some((w.trim().to_lowercase(), v.trim().parse::<f32>().ok()?))
        })
        .collect()
}

/// `soo` → `so`: for a stretched word, the letters the tokenizer left doubled, once
/// more.
pub fn shorten(word: &str) -> Option<String> {
    let mut out = String::with_capacity(word.len());
    let mut last = '\0';
    let mut changed = false;
    for c in word.chars() {
        if c == last {
            changed = true;
            continue;
        }
        last = c;
        out.push(c);
    }
    changed.then_some(out)
}

/// `schoen` → `schön`, `grossartig` → `großartig`.
fn umlauts(word: &str) -> Option<String> {
    if !["ae", "oe", "ue", "ss"].iter().any(|p| word.contains(p)) {
        return None;
    }
    Some(
        word.replace("ae", "ä")
            .replace("oe", "ö")
            .replace("ue", "ü")
            .replace("ss", "ß"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn de() -> Lexicon {
        Lexicon::bundled(Lang::De, &[]).expect("bundled")
    }

    #[test]
    fn finds_inflections_spellings_and_compounds() {
        let l = de();
        assert!(l.lookup("verspätungen").is_some_and(|e| e.valence < 0.0));
        assert!(l.lookup("schoen").is_some_and(|e| e.valence > 0.0));
        assert!(l.lookup("zugausfall").is_some_and(|e| e.valence < 0.0));
        assert!(l.lookup("scheißservice").is_some_and(|e| e.valence < 0.0));
        assert!(l.lookup("unfreundlich").is_some_and(|e| e.valence < 0.0));
        assert_eq!(l.lookup("schon"), None);
        assert_eq!(l.lookup("bahnhof"), None);
    }

    #[test]
    fn user_words_win_and_zero_silences() {
        let user = UserLexicon {
            file: "u.yaml".into(),
            lang: Lang::De,
            words: vec![("super".into(), 0.0), ("acmefail".into(), -3.0)],
            service: Vec::new(),
        };
        let l = Lexicon::bundled(Lang::De, &[user]).expect("bundled");
        assert_eq!(l.lookup("super"), None);
        assert_eq!(l.lookup("acmefail").map(|e| e.valence), Some(-3.0));
    }
}
