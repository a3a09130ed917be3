//! One language pack per language: everything the scorer knows about a language, in one
//! place. Adding a language is a module here with its pack, a line in [`of`], and its
//! stop words in `lauscher-text` (the language detector needs them before any pack is
//! chosen).
//!
//! A pack holds the sentiment lexicon (ours, and for English VADER's under it), the
//! service-failure cues, the word lists of the sentiment rules (negators, boosters,
//! dampeners, contrast, hedges, sarcasm openers, reporting words, …), the service words
//! and asking phrases of intent, number words, words of switching to a competitor,
//! German compound prefixes, and the neutral band.

pub mod de;
pub mod en;

use lauscher_config::NeutralBand;
use lauscher_model::Lang;

/// What the scorer knows about one language.
pub struct LanguagePack {
    /// The language.
    pub lang: Lang,
    /// Our lexicon (TSV: word or phrase, valence).
    pub lexicon: &'static str,
    /// Whether VADER's lexicon lies under ours.
    pub vader: bool,
    /// Service-failure cues (TSV: pattern, kind, weight).
    pub service_cues: &'static str,
    /// The word lists of the sentiment rules.
    pub rules: LangRules,
    /// Service words of intent, matched as word prefixes (`erstatt` covers `Erstattung`).
    pub service_words: &'static [&'static str],
    /// Phrases that ask without a question mark.
    pub ask: &'static [&'static [&'static str]],
    /// Number words a `<n>` slot of a service cue takes besides digits.
    pub numbers: &'static [&'static str],
    /// Words that, in a clause naming a topic, say the author moves to it.
    pub switch_to: &'static [&'static str],
    /// Evaluative first parts of compounds (`Scheißservice`), with the valence the
    /// compound takes when its head carries none.
    pub compound_prefixes: &'static [(&'static str, f32)],
    /// The neutral band where the config sets none.
    pub band: NeutralBand,
}

/// Word lists behind the sentiment rules of one language.
pub struct LangRules {
    pub(crate) negators: &'static [&'static str],
    pub(crate) boosters: &'static [&'static str],
    pub(crate) dampeners: &'static [&'static str],
    pub(crate) contrast: &'static [&'static str],
    pub(crate) hedges: &'static [&'static str],
    /// Praise words that open a sarcastic complaint (`Toll, …`).
    pub(crate) openers: &'static [&'static str],
    /// "again" words that make an opener sarcastic.
    pub(crate) again: &'static [&'static str],
    /// Thanks words (`danke für …` + something bad).
    pub(crate) thanks: &'static [&'static str],
    /// "for" after thanks.
    pub(crate) thanks_for: &'static [&'static str],
    /// Liking verbs (`love waiting`).
    pub(crate) liking: &'static [&'static str],
    /// Waiting words after a liking verb.
    pub(crate) waiting: &'static [&'static str],
    /// First- and second-person words: the author speaks, or speaks to someone.
    pub(crate) persons: &'static [&'static str],
    /// Words of third-person reporting (`laut`, `meldet`, `according`, `reports`).
    pub(crate) reporting: &'static [&'static str],
    /// Lexicon words that carry sentiment only as a verb, right after one of
    /// [`LangRules::subjects`] or a negator: "I like it", "don't like", but not "feels
    /// like a scam", "like the 5th grade", "like how are we supposed to pay".
    pub(crate) verb_only: &'static [&'static str],
    /// Words a verb of [`LangRules::verb_only`] may follow: subjects, auxiliaries and the
    /// adverbs between them and the verb.
    pub(crate) subjects: &'static [&'static str],
}

/// Every bundled pack.
pub const ALL: [&LanguagePack; 2] = [&de::PACK, &en::PACK];

/// The pack of `lang`, if one is bundled.
pub fn of(lang: Lang) -> Option<&'static LanguagePack> {
    ALL.into_iter().find(|p| p.lang == lang)
}

/// Whether `word` says the author switches to another brand, in any language (posts
/// mix them).
pub fn switches_to(word: &str) -> bool {
    ALL.iter().any(|p| p.switch_to.contains(&word))
}
