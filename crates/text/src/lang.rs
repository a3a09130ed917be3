//! Language detection restricted to the languages a deployment listens in.

use lauscher_model::Lang;

use crate::stopwords::{has_list, is_stopword};

/// Maps a language to and from whatlang's: the detector's knowledge, not the model's.
trait Whatlang: Sized {
    fn whatlang(self) -> whatlang::Lang;
    fn from_whatlang(lang: whatlang::Lang) -> Option<Self>;
}

impl Whatlang for Lang {
    fn whatlang(self) -> whatlang::Lang {
        use whatlang::Lang as W;
        match self {
            Lang::De => W::Deu,
            Lang::En => W::Eng,
            Lang::Fr => W::Fra,
            Lang::Es => W::Spa,
            Lang::It => W::Ita,
            Lang::Nl => W::Nld,
            Lang::Pt => W::Por,
            Lang::Sv => W::Swe,
            Lang::Da => W::Dan,
            Lang::No => W::Nob,
            Lang::Fi => W::Fin,
            Lang::Tr => W::Tur,
            Lang::Ru => W::Rus,
            Lang::Pl => W::Pol,
        }
    }

    fn from_whatlang(lang: whatlang::Lang) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.whatlang() == lang)
    }
}

/// The outcome of detection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detected {
    /// One of the configured languages; `reliable` is false for short or mixed text.
    Lang {
        /// The language.
        lang: Lang,
        /// Whether the detector (or the source's own hint) is confident.
        reliable: bool,
    },
    /// Too little text, or text in none of the configured languages (`und`).
    Undetermined,
}

impl Detected {
    /// Returns the code stored in the index: the language's, or `und`.
    pub fn code(self) -> &'static str {
        match self {
            Detected::Lang { lang, .. } => lang.code(),
            Detected::Undetermined => "und",
        }
    }

    /// Returns the language, if one was determined.
    pub fn lang(self) -> Option<Lang> {
        match self {
            Detected::Lang { lang, .. } => Some(lang),
            Detected::Undetermined => None,
        }
    }
}

/// Fewest letters (after removing URLs, handles and hashtags) we try to detect on.
const MIN_LETTERS: usize = 12;

/// Detects the language of a post among the configured languages.
///
/// Restricting whatlang to an allowlist costs about 23× a plain lowercase pass per post
/// (all 70 languages: 112×), which is why detection never runs unrestricted. A source's
/// own language hint wins when it names a configured language and costs nothing.
pub struct LanguageDetector {
    langs: Vec<Lang>,
    detector: whatlang::Detector,
    /// Whether every configured language (two or more) has a stop-word list, so
    /// function words can decide.
    function_words: bool,
}

impl LanguageDetector {
    /// Returns a detector for `langs` (at least one).
    pub fn new(langs: &[Lang]) -> Self {
        let allow: Vec<whatlang::Lang> = langs.iter().map(|l| l.whatlang()).collect();
        LanguageDetector {
            langs: langs.to_vec(),
            detector: whatlang::Detector::with_allowlist(allow),
            function_words: langs.len() >= 2 && langs.iter().all(|l| has_list(*l)),
        }
    }

    /// Detects the language of `text`, preferring `hint` when it is a configured language.
    ///
    /// A hint naming an unconfigured language yields [`Detected::Undetermined`]: the
    /// source says the post is in a language we do not analyse.
    pub fn detect(&self, text: &str, hint: Option<&str>) -> Detected {
        if let Some(hint) = hint {
            match hint.parse::<Lang>() {
                Ok(lang) if self.langs.contains(&lang) => {
                    return Detected::Lang {
                        lang,
                        reliable: true,
                    };
                }
                Ok(_) => return Detected::Undetermined,
                // An unparseable hint ("x-default", "") is ignored.
                Err(_) => {}
            }
        }
        let cleaned = strip_social_tokens(text);
        if cleaned.chars().filter(|c| c.is_alphabetic()).count() < MIN_LETTERS {
            return Detected::Undetermined;
        }
        if let Some(lang) = self.by_function_words(&cleaned) {
            return Detected::Lang {
                lang,
                reliable: true,
            };
        }
        if self.langs.len() == 1 {
            return Detected::Lang {
                lang: self.langs[0],
                reliable: false,
            };
        }
        match self.detector.detect(&cleaned) {
            Some(info) => match Lang::from_whatlang(info.lang()) {
                Some(lang) => Detected::Lang {
                    lang,
                    reliable: info.is_reliable(),
                },
                None => Detected::Undetermined,
            },
            None => Detected::Undetermined,
        }
    }
}

impl LanguageDetector {
    /// Decides cheaply when the text's function words clearly belong to one configured
    /// language: at least 2 stop words found only in that language's list and none of
    /// another's, or at least 6 and five times more than any other. Function words are
    /// the most telling feature of short social text, and this costs a tokenisation
    /// instead of whatlang's trigram scoring (about 5× a plain pass instead of 20×).
    /// Languages without a stop-word list never take this path.
    fn by_function_words(&self, cleaned: &str) -> Option<Lang> {
        if !self.function_words {
            return None;
        }
        let with_lists = &self.langs;
        let mut counts = vec![0usize; with_lists.len()];
        let mut word = String::new();
        for token in crate::token::tokenize(cleaned) {
            word.clear();
            word.extend(token.text.chars().flat_map(char::to_lowercase));
            let mut owner = None;
            for (i, lang) in with_lists.iter().enumerate() {
                if is_stopword(*lang, &word) {
                    if owner.is_some() {
                        // Shared by two languages ("in", "so"): no evidence.
                        owner = None;
                        break;
                    }
                    owner = Some(i);
                }
            }
            if let Some(i) = owner {
                counts[i] += 1;
            }
        }
        let (best, &top) = counts.iter().enumerate().max_by_key(|(_, c)| **c)?;
        let runner_up = counts
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != best)
            .map(|(_, c)| *c)
            .max()
            .unwrap_or(0);
        let clear = (top >= 2 && runner_up == 0) || (top >= 6 && runner_up * 5 <= top);
        clear.then(|| with_lists[best])
    }
}

/// Removes URLs, @handles, #hashtags and non-letter symbols, which mislead trigram
/// detection on short posts.
fn strip_social_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if word.starts_with('@') || word.starts_with('#') || crate::token::is_url(word) {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(
            word.chars()
                .filter(|c| c.is_alphabetic() || *c == '\'' || *c == '-'),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_configured_languages_and_prefers_hints() {
        let d = LanguageDetector::new(&[Lang::De, Lang::En]);
        assert_eq!(
            d.detect(
                "Der Zug ist schon wieder zu spät, das ist wirklich ärgerlich",
                None
            )
            .code(),
            "de"
        );
        assert_eq!(
            d.detect("The train is late again and nobody tells us anything", None)
                .code(),
            "en"
        );
        assert_eq!(
            d.detect("The train is late again", Some("de-DE")).code(),
            "de"
        );
        assert_eq!(d.detect("Le train est en retard", Some("fr")).code(), "und");
    }

    #[test]
    fn clear_function_words_decide_and_mixed_text_falls_back_to_whatlang() {
        let d = LanguageDetector::new(&[Lang::De, Lang::En]);
        assert_eq!(
            d.by_function_words("ich bin mit dem Zug nach Hause gefahren und es war gut"),
            Some(Lang::De)
        );
        assert_eq!(
            d.by_function_words("the train was late and we missed the connection"),
            Some(Lang::En)
        );
        assert_eq!(
            d.by_function_words("the train war heute late und the app"),
            None
        );
        let only_de = LanguageDetector::new(&[Lang::De]);
        assert_eq!(
            only_de.by_function_words("ich bin mit dem Zug nach Hause gefahren"),
            None
        );
    }

    #[test]
    fn short_or_symbol_only_text_is_undetermined() {
        let d = LanguageDetector::new(&[Lang::De, Lang::En]);
        assert_eq!(
            d.detect("@acme #fail 😡 https://t.co/abc", None),
            Detected::Undetermined
        );
        assert_eq!(d.detect("ok", None), Detected::Undetermined);
    }

    #[test]
    fn parses_region_tags() {
        assert_eq!("en_US".parse::<Lang>(), Ok(Lang::En));
        assert_eq!("nb".parse::<Lang>(), Ok(Lang::No));
        assert!("xx".parse::<Lang>().is_err());
    }
}
