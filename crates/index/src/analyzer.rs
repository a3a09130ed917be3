//! tantivy analyzers over `lauscher-text`, so index and query tokenize alike.

use std::sync::Arc;

use lauscher_model::Lang;
use lauscher_text::Stemmer;
use lauscher_text::stopwords::is_stopword;
use lauscher_text::token::{fold_into, next_word};
use tantivy::Index;
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Name of the language-neutral analyzer: tokens folded for case and diacritics.
pub const SOCIAL: &str = "social";

/// Returns the name of the stemming analyzer for `lang` (`stem_de`).
pub fn stem_name(lang: Lang) -> String {
    format!("stem_{}", lang.code())
}

/// Registers every Lauscher analyzer on `index`; required on every open.
pub fn register(index: &Index) {
    let manager = index.tokenizers();
    manager.register(SOCIAL, LauscherTokenizer { stem: None });
    for lang in Lang::ALL {
        manager.register(
            &stem_name(lang),
            LauscherTokenizer {
                stem: Some(Arc::new(StemConfig {
                    lang,
                    stemmer: Stemmer::new(lang),
                })),
            },
        );
    }
}

struct StemConfig {
    lang: Lang,
    stemmer: Option<Stemmer>,
}

/// Tokenizes like [`lauscher_text::tokenize`]; folds every token; with a language,
/// also drops that language's stop words and stems. Reuses one token buffer per stream,
/// so a token costs no allocation (stems come from the per-thread cache).
#[derive(Clone)]
pub struct LauscherTokenizer {
    stem: Option<Arc<StemConfig>>,
}

impl Tokenizer for LauscherTokenizer {
    type TokenStream<'a> = LauscherTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> LauscherTokenStream<'a> {
        LauscherTokenStream {
            text,
            offset: 0,
            position: 0,
            stem: self.stem.clone(),
            lower: String::new(),
            token: Token::default(),
        }
    }
}

/// The token stream of [`LauscherTokenizer`].
pub struct LauscherTokenStream<'a> {
    text: &'a str,
    offset: usize,
    position: usize,
    stem: Option<Arc<StemConfig>>,
    lower: String,
    token: Token,
}

impl TokenStream for LauscherTokenStream<'_> {
    fn advance(&mut self) -> bool {
        loop {
            let Some((start, end)) = next_word(self.text, self.offset) else {
                return false;
            };
            self.offset = end;
            let word = &self.text[start..end];
            let position = self.position;
            self.position += 1;
            self.token.text.clear();
            match &self.stem {
                None => fold_into(word, &mut self.token.text),
                Some(cfg) => {
                    self.lower.clear();
                    self.lower.extend(word.chars().flat_map(char::to_lowercase));
                    if is_stopword(cfg.lang, &self.lower) {
                        continue;
                    }
                    match &cfg.stemmer {
                        Some(s) => {
                            s.with_stems(&self.lower, |_, folded| self.token.text.push_str(folded))
                        }
                        None => fold_into(&self.lower, &mut self.token.text),
                    }
                }
            }
            self.token.offset_from = start;
            self.token.offset_to = end;
            self.token.position = position;
            self.token.position_length = 1;
            return true;
        }
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}
