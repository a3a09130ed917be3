//! tantivy analyzers over `lauscher-text`, so index and query tokenize alike.

use std::sync::Arc;

use lauscher_text::stopwords::is_stopword;
use lauscher_text::token::{fold, tokenize};
use lauscher_text::{Lang, Stemmer};
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

/// Tokenizes with [`lauscher_text::tokenize`]; folds every token; with a language,
/// also drops that language's stop words and stems. Allocates one `String` per token.
#[derive(Clone)]
pub struct LauscherTokenizer {
    stem: Option<Arc<StemConfig>>,
}

impl Tokenizer for LauscherTokenizer {
    type TokenStream<'a> = VecTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        let mut tokens = Vec::new();
        for t in tokenize(text) {
            let text = match &self.stem {
                None => fold(t.text),
                Some(cfg) => {
                    let lower = t.text.to_lowercase();
                    if is_stopword(cfg.lang, &lower) {
                        continue;
                    }
                    match &cfg.stemmer {
                        Some(s) => s.stem(&lower),
                        None => fold(&lower),
                    }
                }
            };
            tokens.push(Token {
                offset_from: t.start,
                offset_to: t.end,
                position: t.position,
                text,
                position_length: 1,
            });
        }
        VecTokenStream { tokens, next: 0 }
    }
}

/// A token stream over precomputed tokens.
pub struct VecTokenStream {
    tokens: Vec<Token>,
    next: usize,
}

impl TokenStream for VecTokenStream {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}
