//! User sentiment lexicons: per-deployment words and phrases that merge over the
//! bundled lexicons.
//!
//! ```yaml
//! version: 1
//! lang: de
//! words:
//!   zugausfall: -2.5          # valence from -4 (worst) to +4 (best)
//!   "danke für nichts": -3    # phrases of up to four words
//!   acme: 0                   # 0 silences a bundled word (a brand named "Super")
//! service:                    # service-failure cues, merged over the bundled ones
//!   "kein wlan": failure      # kind: failure, waiting, persistence, request, negated
//!   "seit <n> wochen": persistence
//!   "lost … boarding pass": [failure, -2.5]   # or [kind, weight]
//! ```
//!
//! A service pattern is words separated by spaces, each slot one of: a word, several
//! words joined by `|` (`cancelled|canceled`), a word prefix ending in `*` (`cancel*`),
//! `<n>` for a number (digits or a number word: `2`, `two`, `zwei`, `several`), or `…`
//! for up to three words of anything. Patterns match inside one clause.
//!
//! Files are listed under `sentiment.lexicons:` in the config, relative to it, and are
//! loaded and validated with the config (so `lauscher check` covers them). Changes take
//! effect at the next start.

use std::collections::BTreeMap;
use std::path::Path;

use lauscher_model::Lang;
use serde::Deserialize;

use crate::error::ConfigError;
use lauscher_query::Located;
use lauscher_query::YamlFile;
use lauscher_query::yaml_error;

/// The largest valence magnitude a lexicon entry may have.
pub const MAX_VALENCE: f32 = 4.0;
/// The most words a lexicon phrase may have.
pub const MAX_PHRASE_WORDS: usize = 4;

/// One validated user lexicon.
#[derive(Debug, Clone, PartialEq)]
pub struct UserLexicon {
    /// The file it came from, for explanations and errors.
    pub file: String,
    /// The language its words belong to.
    pub lang: Lang,
    /// Lowercase word or phrase → valence in `[-4, 4]`, in file order.
    pub words: Vec<(String, f32)>,
    /// Service-failure cues, in file order.
    pub service: Vec<ServiceEntry>,
}

/// What a service cue says about the post: each drives intent `complaint` and pulls the
/// sentiment negative by its weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceKind {
    /// Something failed: lost, cancelled, delayed, charged twice, not delivered.
    Failure,
    /// Waiting, with a duration: "2 hours on hold", "45 Minuten Verspätung".
    Waiting,
    /// It keeps going on: "still no answer", "seit 3 Tagen", "zum dritten Mal".
    Persistence,
    /// A request for help: "please fix", "bitte melden Sie sich".
    Request,
    /// A negated negative that means the negative: "never fails to disappoint".
    Negated,
}

impl ServiceKind {
    /// The kind's name as written in lexicon files and cues.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::Failure => "failure",
            ServiceKind::Waiting => "waiting",
            ServiceKind::Persistence => "persistence",
            ServiceKind::Request => "request",
            ServiceKind::Negated => "negated",
        }
    }

    /// The weight a cue of this kind has when its entry sets none.
    pub fn default_weight(self) -> f32 {
        match self {
            ServiceKind::Failure => -1.6,
            ServiceKind::Waiting => -1.2,
            ServiceKind::Persistence => -1.5,
            ServiceKind::Request => -1.3,
            ServiceKind::Negated => -2.2,
        }
    }
}

impl std::str::FromStr for ServiceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<ServiceKind, String> {
        Ok(match s.trim() {
            "failure" => ServiceKind::Failure,
            "waiting" => ServiceKind::Waiting,
            "persistence" => ServiceKind::Persistence,
            "request" => ServiceKind::Request,
            "negated" => ServiceKind::Negated,
            other => {
                return Err(format!(
                    "unknown service kind {other:?}: expected failure, waiting, persistence, request or negated"
                ));
            }
        })
    }
}

/// One slot of a [`ServicePattern`].
#[derive(Clone, Debug, PartialEq)]
pub enum Slot {
    /// One of these lowercase words; a word ending in `*` matches as a prefix.
    Words(Vec<String>),
    /// A number: digits or a number word.
    Number,
    /// Up to three words of anything.
    Gap,
}

/// A parsed service pattern (see the module docs for its syntax).
#[derive(Clone, Debug, PartialEq)]
pub struct ServicePattern {
    /// Its slots, in order; the first and last are never a gap.
    pub slots: Vec<Slot>,
    /// As written, for cues.
    pub text: String,
}

impl std::str::FromStr for ServicePattern {
    type Err = String;
    fn from_str(text: &str) -> Result<ServicePattern, String> {
        let mut slots = Vec::new();
        for part in text.split_whitespace() {
            let part = part.to_lowercase();
            slots.push(match part.as_str() {
                "…" | "..." => Slot::Gap,
                "<n>" => Slot::Number,
                _ => {
                    let words: Vec<String> = part.split('|').map(str::to_owned).collect();
                    if let Some(bad) = words.iter().find(|w| {
                        w.is_empty()
                            || w.trim_end_matches('*').is_empty()
                            || w.trim_end_matches('*').contains('*')
                    }) {
                        return Err(format!(
                            "{bad:?} in {text:?} is no word: write words, a|b, prefix*, <n> or …"
                        ));
                    }
                    Slot::Words(words)
                }
            });
        }
        if slots.is_empty() {
            return Err("an empty service pattern matches nothing".into());
        }
        if matches!(slots.first(), Some(Slot::Gap)) || matches!(slots.last(), Some(Slot::Gap)) {
            return Err(format!(
                "{text:?} starts or ends with …: a gap must stand between words"
            ));
        }
        Ok(ServicePattern {
            slots,
            text: text.split_whitespace().collect::<Vec<_>>().join(" "),
        })
    }
}

/// A service cue: a pattern, its kind and the weight it adds to the sentiment sum.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceEntry {
    /// What it matches.
    pub pattern: ServicePattern,
    /// What it says.
    pub kind: ServiceKind,
    /// Added to the sentiment sum (negative).
    pub weight: f32,
}

/// A service entry's value as written: a kind, or a kind and a weight.
enum RawService {
    Kind(ServiceKind),
    Weighted(ServiceKind, f32),
}

impl<'de> Deserialize<'de> for RawService {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor rather than an untagged enum: an unknown kind fails inside the
        // value, so the error stands under it and names the kinds.
        struct Raw;
        impl<'de> serde::de::Visitor<'de> for Raw {
            type Value = RawService;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a kind such as failure, or [kind, weight]")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawService, E> {
                v.parse().map(RawService::Kind).map_err(E::custom)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RawService, A::Error> {
                use serde::de::Error;
                let kind: String = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(0, &self))?;
                let kind = kind.parse().map_err(A::Error::custom)?;
                let weight = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(1, &self))?;
                if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(A::Error::invalid_length(3, &self));
                }
                Ok(RawService::Weighted(kind, weight))
            }
        }
        d.deserialize_any(Raw)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLexicon {
    version: u32,
    lang: String,
    #[serde(default)]
    words: BTreeMap<String, f32>,
    #[serde(default)]
    service: BTreeMap<String, RawService>,
}

impl UserLexicon {
    /// Reads and validates the lexicon at `path` for one of `langs`.
    pub fn load(path: &Path, langs: &[Lang]) -> Result<UserLexicon, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            file: path.to_owned(),
            source,
        })?;
        Ok(UserLexicon::parse(
            &text,
            &path.display().to_string(),
            langs,
        )?)
    }

    /// Parses and validates `text`, naming it `file` in errors.
    pub fn parse(text: &str, file: &str, langs: &[Lang]) -> Result<UserLexicon, Located> {
        let raw: RawLexicon =
            serde_norway::from_str(text).map_err(|e| yaml_error(&e, file, text))?;
        let f = YamlFile::new(file, text);
        let at = |path: &str, msg: String| f.at(path, msg);
        let at_entry = |path: &str, msg: String| f.at_key(path, msg);
        if raw.version != 1 {
            return Err(at(
                "version",
                format!("unsupported version {}: expected 1", raw.version),
            ));
        }
        let lang: Lang = raw
            .lang
            .parse()
            .map_err(|e: lauscher_model::UnsupportedLang| at("lang", e.to_string()))?;
        if !langs.contains(&lang) {
            return Err(at(
                "lang",
                format!(
                    "language {} is not among the configured languages",
                    lang.code()
                ),
            ));
        }
        let mut words = Vec::with_capacity(raw.words.len());
        for (word, valence) in raw.words {
            let key = word
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase();
            if key.is_empty() {
                return Err(at_entry(
                    &format!("words.{word}"),
                    "an empty word has no sentiment".into(),
                ));
            }
            if key.split(' ').count() > MAX_PHRASE_WORDS {
                return Err(at_entry(
                    &format!("words.{word}"),
                    format!("a phrase has at most {MAX_PHRASE_WORDS} words"),
                ));
            }
            if !valence.is_finite() || valence.abs() > MAX_VALENCE {
                return Err(at_entry(
                    &format!("words.{word}"),
                    format!("valence {valence} of {word:?} is outside -4 .. 4"),
                ));
            }
            words.push((key, valence));
        }
        let mut service = Vec::with_capacity(raw.service.len());
        for (pattern, value) in raw.service {
            let parsed: ServicePattern = pattern
                .parse()
                .map_err(|e: String| at_entry(&format!("service.{pattern}"), e))?;
            let (kind, weight) = match value {
                RawService::Kind(k) => (k, k.default_weight()),
                RawService::Weighted(k, w) => (k, w),
            };
            if !weight.is_finite() || weight.abs() > MAX_VALENCE {
                return Err(at_entry(
                    &format!("service.{pattern}"),
                    format!("weight {weight} of {pattern:?} is outside -4 .. 4"),
                ));
            }
            service.push(ServiceEntry {
                pattern: parsed,
                kind,
                weight,
            });
        }
        Ok(UserLexicon {
            file: file.to_owned(),
            lang,
            words,
            service,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LANGS: &[Lang] = &[Lang::De, Lang::En];

    #[test]
    fn parses_words_and_phrases() {
        let l = UserLexicon::parse(
            "version: 1\nlang: de\nwords:\n  Zugausfall: -2.5\n  \"danke  für nichts\": -3\n",
            "l.yaml",
            LANGS,
        )
        .expect("valid");
        assert_eq!(l.lang, Lang::De);
        assert!(l.words.contains(&("zugausfall".into(), -2.5)));
        assert!(l.words.contains(&("danke für nichts".into(), -3.0)));
    }

    #[test]
    fn parses_service_cues_and_names_bad_ones() {
        let l = UserLexicon::parse(
            "version: 1\nlang: en\nservice:\n  \"lost … boarding pass\": failure\n  \"<n> days late\": [waiting, -2]\n",
            "l.yaml",
            LANGS,
        )
        .expect("valid");
        assert_eq!(l.service.len(), 2);
        let days = l
            .service
            .iter()
            .find(|s| s.kind == ServiceKind::Waiting)
            .expect("waiting");
        assert_eq!(days.pattern.slots[0], Slot::Number);
        assert_eq!(days.weight, -2.0);
        let e = UserLexicon::parse(
            "version: 1\nlang: en\nservice:\n  \"… lost\": failure\n",
            "l.yaml",
            LANGS,
        )
        .expect_err("gap first");
        assert_eq!(e.line, 4, "{e}");
        let e = UserLexicon::parse(
            "version: 1\nlang: en\nservice:\n  \"lost bag\": broken\n",
            "l.yaml",
            LANGS,
        )
        .expect_err("unknown kind");
        assert_eq!(e.line, 4, "{e}");
    }

    #[test]
    fn errors_name_the_place() {
        let e = UserLexicon::parse(
            "version: 1\nlang: de\nwords:\n  gut: 2\n  mies: -9\n",
            "l.yaml",
            LANGS,
        )
        .expect_err("out of range");
        assert_eq!((e.line, e.col), (5, 3), "{e}");
        assert!(e.msg.contains("outside -4 .. 4"), "{e}");
        let e = UserLexicon::parse("version: 1\nlang: fr\nwords: {}\n", "l.yaml", LANGS)
            .expect_err("not configured");
        assert_eq!(e.line, 2, "{e}");
        let e = UserLexicon::parse(
            "version: 1\nlang: de\nwords:\n  gut: sehr\n",
            "l.yaml",
            LANGS,
        )
        .expect_err("not a number");
        assert_eq!(e.line, 4, "{e}");
        let e = UserLexicon::parse("version: 1\nlang: de\nwort: {}\n", "l.yaml", LANGS)
            .expect_err("unknown key");
        assert_eq!(e.line, 3, "{e}");
    }
}
