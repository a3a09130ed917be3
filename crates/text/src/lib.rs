//! The one place text is analysed.
//!
//! Indexing, querying, fingerprinting and scoring must agree on what a token is, so every
//! crate takes its tokens, folded forms, stems and languages from here:
//!
//! - [`compound`]: German compounds split into known words;
//! - [`normalize`]: HTML and entity clean-up, whitespace;
//! - [`token`]: the word tokenizer and case/diacritic folding;
//! - [`social`]: posts as the scorer reads them (escapes, entities, hashtags, emoji,
//!   emoticons, punctuation runs, emphasis);
//! - [`stem`]: per-language stemming with a per-thread cache;
//! - [`lang`]: language detection restricted to the configured languages;
//! - [`fingerprint`]: content hashes and SimHash for duplicate detection;
//! - [`stopwords`]: per-language stop words.

pub mod compound;
pub mod fingerprint;
pub mod lang;
pub mod normalize;
pub mod phrases;
pub mod social;
pub mod stem;
pub mod stopwords;
pub mod token;

pub use fingerprint::Fingerprint;
pub use lang::LanguageDetector;
pub use stem::Stemmer;
pub use token::{Token, fold, tokenize};
