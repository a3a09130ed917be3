//! Whole-word keyword matching of topics.

use std::collections::HashMap;

use lauscher_model::TopicKind;
use lauscher_rules::TopicConfig;
use lauscher_text::token::{fold, folded_tokens, tokenize};

struct Phrase {
    topic: usize,
    words: Vec<String>,
    exclude: bool,
}

/// Tags mentions with the topics whose keywords they contain.
///
/// Keywords and text are folded (case, diacritics) and compared token by token, so
/// `acme` matches `ACME!` and `#Acme` but not `acmeville`. Phrases are indexed by their
/// first word: one hash lookup per token of the text.
pub struct TopicMatcher {
    ids: Vec<String>,
    kinds: Vec<TopicKind>,
    by_first_word: HashMap<String, Vec<Phrase>>,
}

impl TopicMatcher {
    /// Compiles `topics`.
    pub fn new(topics: &[TopicConfig]) -> TopicMatcher {
        let mut by_first_word: HashMap<String, Vec<Phrase>> = HashMap::new();
        for (i, t) in topics.iter().enumerate() {
            let phrases = t
                .keywords
                .iter()
                .map(|k| (k, false))
                .chain(t.exclude.iter().map(|k| (k, true)));
            for (text, exclude) in phrases {
                let words: Vec<String> = tokenize(text).map(|tok| fold(tok.text)).collect();
                if let Some(first) = words.first() {
                    by_first_word
                        .entry(first.clone())
                        .or_default()
                        .push(Phrase {
                            topic: i,
                            words,
                            exclude,
                        });
                }
            }
        }
        TopicMatcher {
            ids: topics.iter().map(|t| t.id.clone()).collect(),
            kinds: topics.iter().map(|t| t.kind).collect(),
            by_first_word,
        }
    }

    /// Returns the ids of the topics `text` matches (in config order) and their kinds.
    pub fn matches(&self, text: &str) -> (Vec<String>, Vec<TopicKind>) {
        let tokens = folded_tokens(text);
        let words: Vec<&str> = tokens.iter().map(|(folded, _)| folded.as_str()).collect();
        self.matches_words(&words)
    }

    /// Like [`TopicMatcher::matches`], over the text's tokens already folded.
    pub fn matches_words(&self, words: &[&str]) -> (Vec<String>, Vec<TopicKind>) {
        let mut hit = vec![false; self.ids.len()];
        let mut vetoed = vec![false; self.ids.len()];
        for (i, w) in words.iter().enumerate() {
            let Some(phrases) = self.by_first_word.get(*w) else {
                continue;
            };
            for p in phrases {
                if words.len() - i >= p.words.len()
                    && words[i..i + p.words.len()]
                        .iter()
                        .zip(&p.words)
                        .all(|(a, b)| a == b)
                {
                    if p.exclude {
                        vetoed[p.topic] = true;
                    } else {
                        hit[p.topic] = true;
                    }
                }
            }
        }
        let mut ids = Vec::new();
        let mut kinds = Vec::new();
        for i in 0..self.ids.len() {
            if hit[i] && !vetoed[i] {
                ids.push(self.ids[i].clone());
                if !kinds.contains(&self.kinds[i]) {
                    kinds.push(self.kinds[i]);
                }
            }
        }
        (ids, kinds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(id: &str, kind: TopicKind, keywords: &[&str], exclude: &[&str]) -> TopicConfig {
        TopicConfig {
            id: id.into(),
            kind,
            name: id.into(),
            keywords: keywords.iter().map(|s| s.to_string()).collect(),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn matches_whole_words_and_phrases_ignoring_case_and_diacritics() {
        let m = TopicMatcher::new(&[
            topic(
                "acme",
                TopicKind::Brand,
                &["acme", "acme bahn"],
                &["acme jobs"],
            ),
            topic("zuerich", TopicKind::Industry, &["zürich hbf"], &[]),
        ]);
        assert_eq!(m.matches("Danke #ACME!").0, ["acme"]);
        assert!(m.matches("acmeville is nice").0.is_empty());
        assert_eq!(m.matches("Zurich HBF again").0, ["zuerich"]);
        assert!(m.matches("Neue Acme Jobs in Köln").0.is_empty());
    }
}
