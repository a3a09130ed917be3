//! Retro-search: a topic rule translated to a tantivy query.
//!
//! Words, phrases, single-word wildcards, stems, hashtags and every field filter but
//! `url:` translate *exactly*: the index holds the same folded tokens, stems, tags and
//! site keys the live matcher computes. Proximity (`~n`, `NEAR`, `ONEAR`), `raw:`,
//! wildcards inside phrases and `url:` prefixes translate to a *superset* (the same words
//! without the distance, case or prefix), and each candidate is then checked by the live
//! matcher on its stored fields, so live tagging and retro-search agree by construction.
//! The check costs one stored-document read (and decompression) per candidate, which is why
//! exact clauses never take that path.

use lauscher_query::query::{Expr, Filter, Leaf, Node, Scope, WordPattern};
use lauscher_query::stem_key;
use lauscher_text::fold;
use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, Occur, PhraseQuery, Query, RegexQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};

use crate::schema::Fields;

/// A rule as a tantivy query.
pub struct RuleQuery {
    /// Matches every mention the rule matches (exactly those when `exact`).
    pub query: Box<dyn Query>,
    /// Whether `query` matches exactly the rule's mentions; if not, candidates need the
    /// live matcher's check.
    pub exact: bool,
}

/// Translates a resolved rule expression.
pub fn translate(expr: &Expr, fields: &Fields) -> RuleQuery {
    let (query, exact) = Translator { f: fields }.expr(expr);
    RuleQuery { query, exact }
}

struct Translator<'a> {
    f: &'a Fields,
}

fn term(field: Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::WithFreqs,
    ))
}

fn union(mut qs: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    match qs.len() {
        0 => Box::new(EmptyQuery),
        1 => qs.remove(0),
        _ => Box::new(BooleanQuery::union(qs)),
    }
}

fn intersection(mut qs: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    match qs.len() {
        0 => Box::new(AllQuery),
        1 => qs.remove(0),
        _ => Box::new(BooleanQuery::intersection(qs)),
    }
}

/// The regular expression for a wildcard word (folded letters are regex-safe except
/// for the few characters escaped here).
fn regex(w: &WordPattern) -> String {
    let mut out = String::new();
    for c in w.text.chars() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            c if c.is_alphanumeric() || c == '_' => out.push(c),
            c => {
                out.push('\\');
                out.push(c);
            }
        }
    }
    out
}

impl Translator<'_> {
    fn scope(&self, scope: Scope) -> Vec<Field> {
        match scope {
            Scope::Any => vec![self.f.text, self.f.title],
            Scope::Title => vec![self.f.title],
        }
    }

    fn word(&self, field: Field, w: &WordPattern) -> Box<dyn Query> {
        if !w.wildcard {
            return term(field, &w.text);
        }
        match RegexQuery::from_pattern(&regex(w), field) {
            Ok(q) => Box::new(q),
            // Cannot happen for patterns the parser accepts; match broadly if it does.
            Err(_) => Box::new(AllQuery),
        }
    }

    /// Words in order, exact unless a wildcard sits in a phrase of several words.
    fn phrase(&self, words: &[WordPattern], scope: Scope) -> (Box<dyn Query>, bool) {
        let wildcard = words.iter().any(|w| w.wildcard);
        let per_field = self
            .scope(scope)
            .into_iter()
            .map(|field| -> Box<dyn Query> {
                if words.len() == 1 {
                    self.word(field, &words[0])
                } else if !wildcard {
                    Box::new(PhraseQuery::new(
                        words
                            .iter()
                            .map(|w| Term::from_field_text(field, &w.text))
                            .collect(),
                    ))
                } else {
                    intersection(words.iter().map(|w| self.word(field, w)).collect())
                }
            })
            .collect();
        (union(per_field), words.len() == 1 || !wildcard)
    }

    fn leaf(&self, leaf: &Leaf) -> (Box<dyn Query>, bool) {
        match leaf {
            Leaf::Phrase { words, scope } => self.phrase(words, *scope),
            Leaf::Proximity { words, scope, .. } => {
                let per_field = self
                    .scope(*scope)
                    .into_iter()
                    .map(|field| intersection(words.iter().map(|w| self.word(field, w)).collect()))
                    .collect();
                (union(per_field), false)
            }
            Leaf::Tag(t) => (term(self.f.tags, t), true),
            Leaf::Raw(r) => {
                let words: Vec<WordPattern> = lauscher_text::tokenize(r)
                    .map(|t| WordPattern {
                        text: fold(t.text),
                        wildcard: false,
                    })
                    .collect();
                (self.phrase(&words, Scope::Any).0, false)
            }
            Leaf::Stem(w) => {
                let folded = fold(w);
                let mut qs = vec![term(self.f.text, &folded), term(self.f.title, &folded)];
                for (lang, field) in &self.f.stemmed {
                    if let Some(s) = stem_key(*lang, w) {
                        qs.push(term(*field, &s));
                    }
                }
                (union(qs), true)
            }
        }
    }

    fn filter(&self, f: &Filter) -> (Box<dyn Query>, bool) {
        match f {
            Filter::Lang(v) => (term(self.f.lang, v), true),
            Filter::Source(v) => (term(self.f.source, v), true),
            Filter::Author(v) => (term(self.f.author_key, v), true),
            Filter::Site(v) => (term(self.f.site, v), true),
            // `url:example.com/blog` can only match the host example.com (or www.);
            // without a path the prefix could continue the host name.
            Filter::Url(v) => match v.split_once('/') {
                Some((host, _)) => (term(self.f.site, host), false),
                None => (Box::new(AllQuery), false),
            },
        }
    }

    fn expr(&self, e: &Expr) -> (Box<dyn Query>, bool) {
        match &e.node {
            Node::Leaf(l) => self.leaf(l),
            Node::Filter(f) => self.filter(f),
            // Rule sets are resolved before translation; an unresolved one matches nothing.
            Node::Ref(_) => (Box::new(EmptyQuery), true),
            Node::Not(x) => {
                let (q, exact) = self.expr(x);
                if exact {
                    (
                        Box::new(BooleanQuery::new(vec![
                            (Occur::Must, Box::new(AllQuery) as Box<dyn Query>),
                            (Occur::MustNot, q),
                        ])),
                        true,
                    )
                } else {
                    // Excluding a superset would drop real matches: keep everything
                    // and let the check decide.
                    (Box::new(AllQuery), false)
                }
            }
            Node::And(xs) => {
                let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
                let mut exact = true;
                for x in xs {
                    if let Node::Not(inner) = &x.node {
                        let (q, e) = self.expr(inner);
                        if e {
                            clauses.push((Occur::MustNot, q));
                        } else {
                            exact = false;
                        }
                        continue;
                    }
                    let (q, e) = self.expr(x);
                    exact &= e;
                    clauses.push((Occur::Must, q));
                }
                if !clauses.iter().any(|(o, _)| *o == Occur::Must) {
                    clauses.push((Occur::Must, Box::new(AllQuery)));
                }
                (Box::new(BooleanQuery::new(clauses)), exact)
            }
            Node::Or(xs) => {
                let mut exact = true;
                let qs = xs
                    .iter()
                    .map(|x| {
                        let (q, e) = self.expr(x);
                        exact &= e;
                        q
                    })
                    .collect();
                (union(qs), exact)
            }
            Node::Near { left, right, .. } => {
                let (l, _) = self.expr(left);
                let (r, _) = self.expr(right);
                (intersection(vec![l, r]), false)
            }
        }
    }
}
