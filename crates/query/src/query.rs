//! The topic query language: what marketing writes to say what a topic is.
//!
//! ```text
//! ("deutsche bahn" OR raw:"DB" OR #bahn OR @DB_Bahn) AND (verspät* OR "zug fällt aus"~3)
//! ```
//!
//! | syntax | matches |
//! |---|---|
//! | `bahn`, `"deutsche bahn"` | a word, or words next to each other (folded: case and diacritics ignored) |
//! | `covid-19` | a word with inner punctuation is the phrase `"covid 19"` |
//! | `AND`, `OR`, `NOT`, `-term`, `( )` | boolean logic; operators are upper case |
//! | `"zug verspätet"~5` | all the words within a window of their count + 5 tokens, any order |
//! | `a NEAR/n b`, `a ONEAR/n b` | at most `n` tokens between `a` and `b`; ONEAR: `a` first |
//! | `verspät*`, `zu?` | trailing `*` (any rest), `?` (one character); at least 3 letters before the first |
//! | `~stem:verspätung` | any word with the same stem in the mention's language, or the word itself |
//! | `#bahnchaos`, `@db_bahn` | the hashtag or handle (not the bare word) |
//! | `raw:"DB"` | exact case and punctuation, as a whole word |
//! | `lang:de`, `source:id`, `author:name`, `site:example.com`, `url:example.com/blog` | mention fields |
//! | `title:bahn`, `title:"a b"` | the title only |
//! | `{rule-id}` | another rule (its query and its exclusions) |
//!
//! Decisions, so nothing is a surprise:
//! - **No implicit AND.** `deutsche bahn` is an error that suggests `"deutsche bahn"` or
//!   `deutsche AND bahn`; lower-case `and`/`or`/`not` are errors (quote them to match
//!   the word).
//! - **AND and OR never mix without parentheses**: `a OR b AND c` is an error.
//! - Precedence otherwise: `NOT`/`-` binds tightest, then `NEAR`/`ONEAR`, then `AND`, then `OR`.
//! - `NEAR` takes words, phrases, hashtags, `raw:`, `~stem:` or parenthesised `OR` groups of
//!   them on each side; chains (`a NEAR/2 b NEAR/2 c`) measure from the span matched so far.
//! - A query needs at least one clause that must match: `NOT spam` alone is an error.
//! - Plain words and phrases match the title and the text (never across the two);
//!   hashtags, handles and `raw:` likewise.
//! - With `stem: true` on a rule, every bare single word is stemmed; a quoted word
//!   (`"bahn"`) stays exact.

mod parse;

use std::fmt;

pub(crate) use parse::url_key;
pub use parse::{QueryError, parse};

/// A byte range in the query text, for error and explanation positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// One word of a term: folded letters and digits, with `?` (one character) and a
/// trailing `*` (any rest) when `wildcard` is set.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WordPattern {
    /// The folded pattern text.
    pub text: String,
    /// Whether `text` holds `?` or `*`.
    pub wildcard: bool,
}

impl WordPattern {
    /// Returns the literal part before the first wildcard (all of it without one).
    pub fn literal_prefix(&self) -> &str {
        match self.text.find(['*', '?']) {
            Some(i) => &self.text[..i],
            None => &self.text,
        }
    }

    /// Returns whether the folded token `token` matches.
    pub fn matches(&self, token: &str) -> bool {
        if !self.wildcard {
            return self.text == token;
        }
        let mut t = token.chars();
        for p in self.text.chars() {
            match p {
                '*' => return true,
                '?' => {
                    if t.next().is_none() {
                        return false;
                    }
                }
                c => {
                    if t.next() != Some(c) {
                        return false;
                    }
                }
            }
        }
        t.next().is_none()
    }
}

/// Which text fields a word or phrase is looked for in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The title and the text.
    Any,
    /// The title only (`title:`).
    Title,
}

/// A clause that matches at token positions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Leaf {
    /// Consecutive words (a bare word is a phrase of one).
    Phrase {
        /// The words in order.
        words: Vec<WordPattern>,
        /// Where to look.
        scope: Scope,
    },
    /// All the words within a window of `words.len() + slop` tokens, in any order.
    Proximity {
        /// The words.
        words: Vec<WordPattern>,
        /// Extra tokens allowed in the window.
        slop: u32,
        /// Where to look.
        scope: Scope,
    },
    /// A hashtag or handle, folded, with its `#` or `@`.
    Tag(String),
    /// Exact text (case, punctuation) bounded like a word.
    Raw(String),
    /// A word (lower case, as written) matched by stem in the mention's language, or
    /// exactly (folded).
    Stem(String),
}

/// A clause on a mention's fields rather than its words.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Filter {
    /// The detected language code (`de`, `und`).
    Lang(String),
    /// The source id.
    Source(String),
    /// The author's name or handle, folded, without a leading `@`.
    Author(String),
    /// The URL's host is this host or below it.
    Site(String),
    /// The URL, without scheme and `www.`, starts with this (lower case).
    Url(String),
}

/// A node of a parsed query.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// Words at positions.
    Leaf(Leaf),
    /// A mention field.
    Filter(Filter),
    /// Another rule, by id (replaced by its expression when rules are resolved).
    Ref(String),
    /// Must not match.
    Not(Box<Expr>),
    /// All must match.
    And(Vec<Expr>),
    /// Any must match.
    Or(Vec<Expr>),
    /// Both sides within `slop` tokens of each other.
    Near {
        /// Left side.
        left: Box<Expr>,
        /// Right side.
        right: Box<Expr>,
        /// Most tokens between the two.
        slop: u32,
        /// Whether `left` must come first.
        ordered: bool,
    },
}

/// A parsed query clause with the place it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What the clause is.
    pub node: Node,
    /// Where it is in its query text.
    pub span: Span,
    /// Which query text: an index into the rule set's sources (0 for a lone query).
    pub src: u32,
}

impl Expr {
    /// Visits every clause, depth first.
    pub fn walk(&self, f: &mut impl FnMut(&Expr)) {
        f(self);
        match &self.node {
            Node::Not(x) => x.walk(f),
            Node::And(xs) | Node::Or(xs) => xs.iter().for_each(|x| x.walk(f)),
            Node::Near { left, right, .. } => {
                left.walk(f);
                right.walk(f);
            }
            Node::Leaf(_) | Node::Filter(_) | Node::Ref(_) => {}
        }
    }
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn words(ws: &[WordPattern]) -> String {
    ws.iter()
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

impl fmt::Display for Leaf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scope = |s: &Scope| match s {
            Scope::Any => "",
            Scope::Title => "title:",
        };
        match self {
            Leaf::Phrase {
                words: ws,
                scope: s,
                // A lone word that reads as an operator keeps its quotes.
            } if ws.len() == 1 && !matches!(ws[0].text.as_str(), "and" | "or" | "not") => {
                write!(f, "{}{}", scope(s), ws[0].text)
            }
            Leaf::Phrase {
                words: ws,
                scope: s,
            } => write!(f, "{}{}", scope(s), quote(&words(ws))),
            Leaf::Proximity {
                words: ws,
                slop,
                scope: s,
            } => write!(f, "{}{}~{slop}", scope(s), quote(&words(ws))),
            Leaf::Tag(t) => f.write_str(t),
            Leaf::Raw(r) => write!(f, "raw:{}", quote(r)),
            Leaf::Stem(w) => write!(f, "~stem:{w}"),
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Lang(v) => write!(f, "lang:{v}"),
            Filter::Source(v) => write!(f, "source:{v}"),
            Filter::Author(v) => write!(f, "author:{}", quote(v)),
            Filter::Site(v) => write!(f, "site:{v}"),
            Filter::Url(v) => write!(f, "url:{}", quote(v)),
        }
    }
}

/// Prints the canonical form: parsing it again gives the same query.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let operand = |x: &Expr, f: &mut fmt::Formatter<'_>| match x.node {
            Node::And(_) | Node::Or(_) | Node::Near { .. } => write!(f, "({x})"),
            _ => write!(f, "{x}"),
        };
        match &self.node {
            Node::Leaf(l) => write!(f, "{l}"),
            Node::Filter(x) => write!(f, "{x}"),
            Node::Ref(id) => write!(f, "{{{id}}}"),
            Node::Not(x) => {
                f.write_str("NOT ")?;
                operand(x, f)
            }
            Node::And(xs) | Node::Or(xs) => {
                let op = if matches!(self.node, Node::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                for (i, x) in xs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(op)?;
                    }
                    operand(x, f)?;
                }
                Ok(())
            }
            Node::Near {
                left,
                right,
                slop,
                ordered,
            } => {
                operand(left, f)?;
                write!(f, " {}NEAR/{slop} ", if *ordered { "O" } else { "" })?;
                operand(right, f)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(s: &str) -> WordPattern {
        WordPattern {
            text: s.into(),
            wildcard: s.contains(['*', '?']),
        }
    }

    #[test]
    fn wildcards_match_folded_tokens() {
        assert!(pat("verspat*").matches("verspatung"));
        assert!(pat("verspat*").matches("verspat"));
        assert!(!pat("verspat*").matches("verspa"));
        assert!(pat("zug?").matches("zuge"));
        assert!(!pat("zug?").matches("zug"));
        assert!(!pat("zug?").matches("zuges"));
        assert_eq!(pat("ver?pat*").literal_prefix(), "ver");
    }
}
