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
//! ```
//!
//! Files are listed under `sentiment.lexicons:` in the config, relative to it, and are
//! loaded and validated with the config (so `lauscher check` covers them). Changes take
//! effect at the next start.

use std::collections::BTreeMap;
use std::path::Path;

use lauscher_text::Lang;
use serde::Deserialize;

use crate::config::yaml_error;
use crate::error::{ConfigError, Located};

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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLexicon {
    version: u32,
    lang: String,
    words: BTreeMap<String, f32>,
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
        let at = |needle: &str, msg: String| {
            let (line, col) = text
                .lines()
                .enumerate()
                .find_map(|(i, l)| l.find(needle).map(|c| (i + 1, l[..c].chars().count() + 1)))
                .unwrap_or((1, 1));
            Located::new(file, text, line, col, msg)
        };
        if raw.version != 1 {
            return Err(at(
                "version",
                format!("unsupported version {}: expected 1", raw.version),
            ));
        }
        let lang: Lang = raw
            .lang
            .parse()
            .map_err(|e: lauscher_text::lang::UnsupportedLang| at("lang", e.to_string()))?;
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
                return Err(at("\"\"", "an empty word has no sentiment".into()));
            }
            if key.split(' ').count() > MAX_PHRASE_WORDS {
                return Err(at(
                    &word,
                    format!("a phrase has at most {MAX_PHRASE_WORDS} words"),
                ));
            }
            if !valence.is_finite() || valence.abs() > MAX_VALENCE {
                return Err(at(
                    &word,
                    format!("valence {valence} of {word:?} is outside -4 .. 4"),
                ));
            }
            words.push((key, valence));
        }
        Ok(UserLexicon {
            file: file.to_owned(),
            lang,
            words,
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
