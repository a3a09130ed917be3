//! Live matching of many rules against one mention at a time (percolation).
//!
//! All word clauses of all rules compile into one Aho-Corasick automaton (a DFA) over
//! *literals*: a phrase's folded words joined by single spaces, or the literal part before
//! a wildcard. A mention's text is folded once into the same form (tokens separated by
//! one space), the automaton runs over it once, and hits that do not sit on token
//! boundaries are dropped. Only rules with a hit (and the few that can match without
//! words, such as `lang:de AND NOT x`) are evaluated, over the hits' token positions.
//! Each clause is evaluated at most once per mention, however many rules share it.
//!
//! Cost per mention: one folding pass, one automaton pass, then work proportional to the
//! hits; measured at 2.8× a plain lowercase-and-split pass with 500 rules and half the
//! posts naming a brand (`cargo bench --bench rules`).

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use lauscher_model::Lang;
use lauscher_model::Mention;
use lauscher_text::Stemmer;
use lauscher_text::stopwords::is_stopword;
use lauscher_text::token::{fold, fold_into, is_word_char, next_word, sigil};

use crate::query::{Expr, Filter, Leaf, Node, Scope, Span, WordPattern, url_key};

/// The fields of a mention that rules look at.
#[derive(Clone, Copy, Debug, Default)]
pub struct MentionFields<'a> {
    /// The text (body).
    pub text: &'a str,
    /// The title, for articles.
    pub title: Option<&'a str>,
    /// The detected language code (`de`, `und`).
    pub lang: &'a str,
    /// The source id.
    pub source: &'a str,
    /// The author's name or handle.
    pub author: Option<&'a str>,
    /// The canonical URL.
    pub url: Option<&'a str>,
}

impl<'a> MentionFields<'a> {
    /// Returns the fields of `m`, analysed as language `lang`.
    pub fn of(m: &'a Mention, lang: &'a str) -> MentionFields<'a> {
        MentionFields {
            text: &m.text,
            title: m.title.as_deref(),
            lang,
            source: &m.source,
            author: m.author.as_ref().map(|a| a.name.as_str()),
            url: m.url.as_deref(),
        }
    }
}

/// Returns the keys `site:` matches for `url`: its host and every parent domain with at
/// least two labels (`a.b.example.com` → itself, `b.example.com`, `example.com`).
pub fn site_keys(url: &str) -> Vec<String> {
    let Some(host) = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_lowercase))
    else {
        return Vec::new();
    };
    let mut keys = vec![host.clone()];
    let mut rest = host.as_str();
    while let Some(dot) = rest.find('.') {
        rest = &rest[dot + 1..];
        if rest.contains('.') {
            keys.push(rest.to_owned());
        }
    }
    keys
}

/// Returns the stem a `~stem:` word is compared by in `lang`, as the index stores it:
/// lower case, stemmed, folded; `None` for a stop word of `lang` (the index drops those).
pub fn stem_key(lang: Lang, lower: &str) -> Option<String> {
    if is_stopword(lang, lower) {
        return None;
    }
    Some(match Stemmer::new(lang) {
        Some(s) => s.stem(lower),
        None => fold(lower),
    })
}

/// Where a clause was written: its query text and byte range there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin {
    /// Index of the query text in the rule set.
    pub src: u32,
    /// Byte range in it.
    pub span: Span,
}

#[derive(Debug)]
enum CNode {
    Leaf(u32),
    Filter(Filter),
    Not(Box<Compiled>),
    And(Vec<Compiled>),
    Or(Vec<Compiled>),
    Near {
        left: Box<Compiled>,
        right: Box<Compiled>,
        slop: u32,
        ordered: bool,
    },
}

#[derive(Debug)]
struct Compiled {
    node: CNode,
    origin: Origin,
}

#[derive(Debug)]
struct CLeaf {
    leaf: Leaf,
    /// Automaton patterns whose hits this clause is evaluated from.
    patterns: Vec<u32>,
    /// For `~stem:`: the folded word and its stem per configured language.
    stems: Vec<(Lang, Option<String>)>,
    folded: String,
}

/// A position range in one field: (field, first token, last token).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Spot {
    field: u8,
    start: u32,
    end: u32,
}

const TEXT: u8 = 0;
const TITLE: u8 = 1;

/// Compiled rules: the shared automaton plus one boolean tree per rule.
pub(crate) struct Percolator {
    id: u64,
    automaton: Option<AhoCorasick>,
    /// Per pattern: whether it is the literal part before a wildcard.
    prefix: Vec<bool>,
    /// Per pattern: the rules that use it.
    pattern_rules: Vec<Vec<u32>>,
    leaves: Vec<CLeaf>,
    rules: Vec<Compiled>,
    /// Rules evaluated for every mention (they can match without a word hit).
    always: Vec<u32>,
    langs: Vec<Lang>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Percolator {
    /// Compiles `rules` (resolved expressions; `reported` marks topics).
    pub(crate) fn new(rules: &[(&Expr, bool)], langs: &[Lang]) -> Percolator {
        let mut b = Builder {
            rule: 0,
            users: Vec::new(),
            patterns: HashMap::new(),
            literals: Vec::new(),
            prefix: Vec::new(),
            pattern_rules: Vec::new(),
            leaves: HashMap::new(),
            cleaves: Vec::new(),
            langs: langs.to_vec(),
        };
        let mut compiled = Vec::new();
        let mut always = Vec::new();
        for (i, (expr, _)) in rules.iter().enumerate() {
            b.rule = i as u32;
            compiled.push(b.compile(expr));
        }
        for (i, ((_, reported), c)) in rules.iter().zip(&compiled).enumerate() {
            // Packs are evaluated only inside the rules that reference them (or when
            // asked for by id), never as candidates of their own.
            if *reported {
                match b.triggers(c) {
                    Some(patterns) => {
                        for p in patterns {
                            b.pattern_rules[p as usize].push(i as u32);
                        }
                    }
                    None => always.push(i as u32),
                }
            }
        }
        for rules in &mut b.pattern_rules {
            rules.sort_unstable();
            rules.dedup();
        }
        let automaton = if b.literals.is_empty() {
            None
        } else {
            // The DFA costs a few ms and about 1 KB per pattern to build, and runs at
            // about 1.35× a plain lowercase pass; the default NFA is half as fast.
            AhoCorasick::builder()
                .kind(Some(AhoCorasickKind::DFA))
                .match_kind(MatchKind::Standard)
                .build(&b.literals)
                .or_else(|_| {
                    AhoCorasick::builder()
                        .match_kind(MatchKind::Standard)
                        .build(&b.literals)
                })
                .ok()
        };
        Percolator {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            automaton,
            prefix: b.prefix,
            pattern_rules: b.pattern_rules,
            leaves: b.cleaves,
            rules: compiled,
            always,
            langs: langs.to_vec(),
        }
    }

    /// Returns the reported rules `m` matches, in rule order.
    pub(crate) fn matching(&self, m: &MentionFields<'_>) -> Vec<usize> {
        self.with_state(m, |st| {
            let mut candidates: Vec<u32> = Vec::new();
            st.rule_seen.resize(self.rules.len(), 0);
            let stamp = st.generation;
            for hit in &st.hits {
                for &r in &self.pattern_rules[hit.pattern as usize] {
                    if st.rule_seen[r as usize] != stamp {
                        st.rule_seen[r as usize] = stamp;
                        candidates.push(r);
                    }
                }
            }
            for &r in &self.always {
                if st.rule_seen[r as usize] != stamp {
                    st.rule_seen[r as usize] = stamp;
                    candidates.push(r);
                }
            }
            candidates.sort_unstable();
            candidates
                .into_iter()
                .filter(|&r| self.eval(&self.rules[r as usize], m, st))
                .map(|r| r as usize)
                .collect()
        })
    }

    /// Returns whether rule `rule` matches `m`.
    pub(crate) fn matches(&self, rule: usize, m: &MentionFields<'_>) -> bool {
        match self.rules.get(rule) {
            Some(c) => self.with_state(m, |st| self.eval(c, m, st)),
            None => false,
        }
    }

    /// Explains rule `rule` on `m`: whether it matched and the clauses that decided.
    pub(crate) fn explain(
        &self,
        rule: usize,
        m: &MentionFields<'_>,
    ) -> (bool, Vec<(Origin, bool)>) {
        let Some(c) = self.rules.get(rule) else {
            return (false, Vec::new());
        };
        self.with_state(m, |st| {
            let v = self.eval(c, m, st);
            let mut out = Vec::new();
            self.decide(c, v, m, st, &mut out);
            (v, out)
        })
    }

    fn decide(
        &self,
        c: &Compiled,
        v: bool,
        m: &MentionFields<'_>,
        st: &mut State,
        out: &mut Vec<(Origin, bool)>,
    ) {
        match &c.node {
            CNode::Not(x) => self.decide(x, !v, m, st, out),
            CNode::And(xs) if !v => {
                if let Some(x) = xs.iter().find(|x| !self.eval(x, m, st)) {
                    self.decide(x, false, m, st, out);
                }
            }
            CNode::Or(xs) if v => {
                if let Some(x) = xs.iter().find(|x| self.eval(x, m, st)) {
                    self.decide(x, true, m, st, out);
                }
            }
            CNode::And(xs) | CNode::Or(xs) => {
                for x in xs {
                    self.decide(x, v, m, st, out);
                }
            }
            _ => out.push((c.origin, v)),
        }
    }

    fn with_state<R>(&self, m: &MentionFields<'_>, f: impl FnOnce(&mut State) -> R) -> R {
        STATE.with(|cell| {
            let mut st = cell.borrow_mut();
            st.prepare(self, m);
            f(&mut st)
        })
    }

    fn eval(&self, c: &Compiled, m: &MentionFields<'_>, st: &mut State) -> bool {
        match &c.node {
            CNode::Leaf(l) => {
                let (s, e) = self.leaf_spots(*l, m, st);
                s < e
            }
            CNode::Filter(f) => filter(f, m),
            CNode::Not(x) => !self.eval(x, m, st),
            CNode::And(xs) => xs.iter().all(|x| self.eval(x, m, st)),
            CNode::Or(xs) => xs.iter().any(|x| self.eval(x, m, st)),
            CNode::Near { .. } => !self.spots(c, m, st).is_empty(),
        }
    }

    /// The positions a positional clause matches at.
    fn spots(&self, c: &Compiled, m: &MentionFields<'_>, st: &mut State) -> Vec<Spot> {
        match &c.node {
            CNode::Leaf(l) => {
                let (s, e) = self.leaf_spots(*l, m, st);
                st.arena[s..e].to_vec()
            }
            CNode::Or(xs) => {
                let mut all = Vec::new();
                for x in xs {
                    all.extend(self.spots(x, m, st));
                }
                all
            }
            CNode::Near {
                left,
                right,
                slop,
                ordered,
            } => {
                let ls = self.spots(left, m, st);
                if ls.is_empty() {
                    return ls;
                }
                let rs = self.spots(right, m, st);
                let mut out = Vec::new();
                for l in &ls {
                    for r in rs.iter().filter(|r| r.field == l.field) {
                        let gap = if l.end < r.start {
                            Some(r.start - l.end - 1)
                        } else if !ordered && r.end < l.start {
                            Some(l.start - r.end - 1)
                        } else {
                            None
                        };
                        if gap.is_some_and(|g| g <= *slop) {
                            out.push(Spot {
                                field: l.field,
                                start: l.start.min(r.start),
                                end: l.end.max(r.end),
                            });
                        }
                    }
                }
                out
            }
            // Not positional; the parser only allows the above under NEAR.
            _ => Vec::new(),
        }
    }

    /// Returns the range of `st.arena` holding the positions clause `l` matches at,
    /// computing them once per mention.
    fn leaf_spots(&self, l: u32, m: &MentionFields<'_>, st: &mut State) -> (usize, usize) {
        let i = l as usize;
        if st.leaf_seen[i] == st.generation {
            return st.leaf_range[i];
        }
        let leaf = &self.leaves[i];
        // Most clauses of most candidate rules have no hit at all: answer those from
        // the hit stamps without touching positions. (Every word of a proximity must
        // occur; the other clauses have one pattern.)
        if !leaf.patterns.is_empty()
            && leaf
                .patterns
                .iter()
                .any(|&p| st.pattern_hit[p as usize] != st.generation)
        {
            return (0, 0);
        }
        let mut out = std::mem::take(&mut st.scratch);
        out.clear();
        self.compute_leaf(leaf, m, st, &mut out);
        let start = st.arena.len();
        st.arena.extend_from_slice(&out);
        st.scratch = out;
        st.leaf_seen[i] = st.generation;
        st.leaf_range[i] = (start, st.arena.len());
        st.leaf_range[i]
    }

    fn compute_leaf(&self, cl: &CLeaf, m: &MentionFields<'_>, st: &State, out: &mut Vec<Spot>) {
        let in_scope = |field: u8, scope: Scope| scope == Scope::Any || field == TITLE;
        match &cl.leaf {
            Leaf::Phrase { words, scope } => {
                let p = cl.patterns[0];
                for h in st.hits_for(p).iter() {
                    if !in_scope(h.field, *scope) {
                        continue;
                    }
                    let f = &st.fields[h.field as usize];
                    let n = words.len() as u32;
                    let verified = !words.iter().any(|w| w.wildcard)
                        || words.iter().enumerate().all(|(k, w)| {
                            f.token(h.pos as usize + k).is_some_and(|t| w.matches(t))
                        });
                    if verified {
                        out.push(Spot {
                            field: h.field,
                            start: h.pos,
                            end: h.pos + n - 1,
                        });
                    }
                }
            }
            Leaf::Proximity { words, slop, scope } => {
                let mut occ: Vec<(u8, u32, usize)> = Vec::new();
                for (k, w) in words.iter().enumerate() {
                    let p = cl.patterns[k];
                    for h in st.hits_for(p).iter() {
                        let f = &st.fields[h.field as usize];
                        if in_scope(h.field, *scope)
                            && f.token(h.pos as usize).is_some_and(|t| w.matches(t))
                        {
                            occ.push((h.field, h.pos, k));
                        }
                    }
                }
                occ.sort_unstable();
                occ.dedup();
                windows(&occ, words.len(), words.len() as u32 + slop, out);
            }
            Leaf::Tag(tag) => {
                let p = cl.patterns[0];
                let sigil = tag.as_bytes()[0];
                for h in st.hits_for(p).iter() {
                    if st.fields[h.field as usize].sigils[h.pos as usize] == sigil {
                        out.push(Spot {
                            field: h.field,
                            start: h.pos,
                            end: h.pos,
                        });
                    }
                }
            }
            Leaf::Raw(raw) => {
                let p = cl.patterns[0];
                let mut fields: Vec<u8> = st.hits_for(p).iter().map(|h| h.field).collect();
                fields.dedup();
                for field in fields {
                    let text = if field == TITLE {
                        m.title.unwrap_or_default()
                    } else {
                        m.text
                    };
                    let f = &st.fields[field as usize];
                    for (at, _) in text.match_indices(raw.as_str()) {
                        let end = at + raw.len();
                        let before = text[..at].chars().next_back();
                        let after = text[end..].chars().next();
                        let first = raw.chars().next().is_some_and(is_word_char);
                        let last = raw.chars().next_back().is_some_and(is_word_char);
                        if (first && before.is_some_and(is_word_char))
                            || (last && after.is_some_and(is_word_char))
                        {
                            continue;
                        }
                        if let Some((s, e)) = f.token_range(at, end) {
                            out.push(Spot {
                                field,
                                start: s,
                                end: e,
                            });
                        }
                    }
                }
            }
            Leaf::Stem(_) => {
                let lang = m
                    .lang
                    .parse::<Lang>()
                    .ok()
                    .filter(|l| self.langs.contains(l));
                let key = lang.and_then(|l| {
                    cl.stems
                        .iter()
                        .find(|(sl, _)| *sl == l)
                        .and_then(|(_, s)| s.as_deref())
                        .map(|key| (l, Stemmer::new(l), key))
                });
                for field in [TEXT, TITLE] {
                    let source = if field == TITLE {
                        m.title.unwrap_or_default()
                    } else {
                        m.text
                    };
                    let f = &st.fields[field as usize];
                    for k in 0..f.len() {
                        let token = f.token(k).unwrap_or_default();
                        let exact = token == cl.folded;
                        let by_stem = exact
                            || key.as_ref().is_some_and(|(l, stemmer, key)| {
                                // A German Snowball stem only removes suffixes and
                                // umlauts, so it starts the folded word: skip the
                                // stemmer for words that do not start with it.
                                if *l == Lang::De && !token.starts_with(key) {
                                    return false;
                                }
                                let (s, e) = f.orig[k];
                                stem_equals(
                                    *l,
                                    stemmer.as_ref(),
                                    &source[s as usize..e as usize],
                                    key,
                                )
                            });
                        if by_stem {
                            out.push(Spot {
                                field,
                                start: k as u32,
                                end: k as u32,
                            });
                        }
                    }
                }
            }
        }
    }
}

/// Returns whether `surface` stems to `key` in `lang`, as the index's stemmed field
/// computes it (lower case, stop words dropped, stemmed, folded), without allocating
/// for lower-case ASCII words.
fn stem_equals(lang: Lang, stemmer: Option<&Stemmer>, surface: &str, key: &str) -> bool {
    let lower: Cow<'_, str> = if surface
        .bytes()
        .any(|b| !b.is_ascii() || b.is_ascii_uppercase())
    {
        Cow::Owned(surface.chars().flat_map(char::to_lowercase).collect())
    } else {
        Cow::Borrowed(surface)
    };
    if is_stopword(lang, &lower) {
        return false;
    }
    match stemmer {
        Some(s) => s.with_stems(&lower, |_, folded| folded == key),
        None => fold(&lower) == key,
    }
}

/// Finds the windows over sorted occurrences `(field, position, word)` that hold all
/// `n` words within `width` tokens.
fn windows(occ: &[(u8, u32, usize)], n: usize, width: u32, out: &mut Vec<Spot>) {
    let mut counts = vec![0usize; n];
    let mut distinct = 0;
    let mut lo = 0;
    for hi in 0..occ.len() {
        if occ[hi].0 != occ[lo].0 {
            counts.iter_mut().for_each(|c| *c = 0);
            distinct = 0;
            lo = hi;
        }
        if counts[occ[hi].2] == 0 {
            distinct += 1;
        }
        counts[occ[hi].2] += 1;
        while distinct == n {
            let span = occ[hi].1 - occ[lo].1 + 1;
            if span <= width {
                out.push(Spot {
                    field: occ[hi].0,
                    start: occ[lo].1,
                    end: occ[hi].1,
                });
            }
            counts[occ[lo].2] -= 1;
            if counts[occ[lo].2] == 0 {
                distinct -= 1;
            }
            lo += 1;
        }
    }
}

fn filter(f: &Filter, m: &MentionFields<'_>) -> bool {
    match f {
        Filter::Lang(v) => m.lang == v,
        Filter::Source(v) => m.source == v,
        Filter::Author(v) => m
            .author
            .is_some_and(|a| fold(a.trim().trim_start_matches('@')) == *v),
        Filter::Site(v) => m.url.is_some_and(|u| site_keys(u).iter().any(|k| k == v)),
        Filter::Url(v) => m.url.is_some_and(|u| url_key(u).starts_with(v.as_str())),
    }
}

struct Builder {
    /// The rule being compiled.
    rule: u32,
    /// Per pattern: how many rules use it, and the last one counted.
    users: Vec<(u32, u32)>,
    patterns: HashMap<(String, bool), u32>,
    literals: Vec<String>,
    prefix: Vec<bool>,
    pattern_rules: Vec<Vec<u32>>,
    leaves: HashMap<Leaf, u32>,
    cleaves: Vec<CLeaf>,
    langs: Vec<Lang>,
}

impl Builder {
    fn pattern(&mut self, literal: String, prefix: bool) -> u32 {
        let next = self.literals.len() as u32;
        let id = *self
            .patterns
            .entry((literal.clone(), prefix))
            .or_insert(next);
        if id == next {
            self.literals.push(literal);
            self.prefix.push(prefix);
            self.pattern_rules.push(Vec::new());
            self.users.push((0, u32::MAX));
        }
        self.count_user(id);
        id
    }

    fn count_user(&mut self, p: u32) {
        let (n, last) = &mut self.users[p as usize];
        if *last != self.rule {
            *last = self.rule;
            *n += 1;
        }
    }

    fn leaf(&mut self, leaf: &Leaf) -> u32 {
        if let Some(&id) = self.leaves.get(leaf) {
            for p in self.cleaves[id as usize].patterns.clone() {
                self.count_user(p);
            }
            return id;
        }
        let mut patterns = Vec::new();
        let mut stems = Vec::new();
        let mut folded = String::new();
        match leaf {
            Leaf::Phrase { words, .. } => {
                let (lit, prefix) = phrase_literal(words);
                patterns.push(self.pattern(lit, prefix));
            }
            Leaf::Proximity { words, .. } => {
                for w in words {
                    patterns.push(self.pattern(w.literal_prefix().to_owned(), w.wildcard));
                }
            }
            Leaf::Tag(t) => patterns.push(self.pattern(t[1..].to_owned(), false)),
            Leaf::Raw(r) => {
                let words: Vec<String> = lauscher_text::tokenize(r).map(|t| fold(t.text)).collect();
                patterns.push(self.pattern(words.join(" "), false));
            }
            Leaf::Stem(w) => {
                folded = fold(w);
                stems = self.langs.iter().map(|&l| (l, stem_key(l, w))).collect();
            }
        }
        let id = self.cleaves.len() as u32;
        self.cleaves.push(CLeaf {
            leaf: leaf.clone(),
            patterns,
            stems,
            folded,
        });
        self.leaves.insert(leaf.clone(), id);
        id
    }

    /// Returns patterns of which at least one must hit for `c` to match, or `None` when
    /// `c` can match without any hit (negations, field filters, stems). Only these
    /// patterns make a rule a candidate: `brand AND {complaints}` wakes up on the
    /// brand, not on every complaint word. Among the options, the fewest patterns used
    /// by the fewest rules win (a word many rules share, like "service", is likely a
    /// common word; a brand is used by its own rules), then the longest.
    fn triggers(&self, c: &Compiled) -> Option<Vec<u32>> {
        // A literal before a wildcard matches a whole family of words: count it shorter.
        let weight = |p: u32| {
            let len = self.literals[p as usize].len();
            if self.prefix[p as usize] {
                len.saturating_sub(4)
            } else {
                len
            }
        };
        let users = |p: u32| self.users[p as usize].0;
        let cost = |v: &Vec<u32>| {
            let shared = v.iter().map(|&p| users(p)).max().unwrap_or(0);
            let shortest = v.iter().map(|&p| weight(p)).min().unwrap_or(0);
            (v.len(), shared, usize::MAX - shortest)
        };
        let better = |a: &Vec<u32>, b: &Vec<u32>| cost(a) < cost(b);
        let best = |options: Vec<Vec<u32>>| {
            options
                .into_iter()
                .reduce(|a, b| if better(&b, &a) { b } else { a })
        };
        match &c.node {
            CNode::Leaf(l) => {
                let leaf = &self.cleaves[*l as usize];
                match leaf.leaf {
                    Leaf::Stem(_) => None,
                    // Every word of a proximity must occur: its longest one will do.
                    _ => leaf
                        .patterns
                        .iter()
                        .min_by_key(|&&p| (users(p), usize::MAX - weight(p)))
                        .map(|&p| vec![p]),
                }
            }
            CNode::Filter(_) | CNode::Not(_) => None,
            CNode::And(xs) => best(xs.iter().filter_map(|x| self.triggers(x)).collect()),
            CNode::Or(xs) => {
                let mut all = Vec::new();
                for x in xs {
                    all.extend(self.triggers(x)?);
                }
                all.sort_unstable();
                all.dedup();
                Some(all)
            }
            CNode::Near { left, right, .. } => best(
                [self.triggers(left), self.triggers(right)]
                    .into_iter()
                    .flatten()
                    .collect(),
            ),
        }
    }

    fn compile(&mut self, e: &Expr) -> Compiled {
        let node = match &e.node {
            Node::Leaf(l) => CNode::Leaf(self.leaf(l)),
            Node::Filter(f) => CNode::Filter(f.clone()),
            // References are resolved before compiling; an unresolved one never matches.
            Node::Ref(_) => CNode::Or(Vec::new()),
            Node::Not(x) => CNode::Not(Box::new(self.compile(x))),
            Node::And(xs) => CNode::And(xs.iter().map(|x| self.compile(x)).collect()),
            Node::Or(xs) => CNode::Or(xs.iter().map(|x| self.compile(x)).collect()),
            Node::Near {
                left,
                right,
                slop,
                ordered,
            } => CNode::Near {
                left: Box::new(self.compile(left)),
                right: Box::new(self.compile(right)),
                slop: *slop,
                ordered: *ordered,
            },
        };
        Compiled {
            node,
            origin: Origin {
                src: e.src,
                span: e.span,
            },
        }
    }
}

/// The automaton literal of a phrase: its words joined by spaces up to the first
/// wildcard, and whether a wildcard follows.
fn phrase_literal(words: &[WordPattern]) -> (String, bool) {
    let mut lit = String::new();
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            lit.push(' ');
        }
        lit.push_str(w.literal_prefix());
        if w.wildcard {
            return (lit, true);
        }
    }
    (lit, false)
}

/// One field of a mention folded for matching.
#[derive(Default)]
struct FieldView {
    /// Folded tokens separated by single spaces.
    buf: String,
    /// Byte offset of each token in `buf`.
    starts: Vec<u32>,
    /// Byte range of each token in the original text.
    orig: Vec<(u32, u32)>,
    /// `#` or `@` when the token is a hashtag or handle, else 0.
    sigils: Vec<u8>,
}

impl FieldView {
    fn fill(&mut self, text: &str) {
        self.buf.clear();
        self.starts.clear();
        self.orig.clear();
        self.sigils.clear();
        let mut offset = 0;
        while let Some((s, e)) = next_word(text, offset) {
            offset = e;
            if !self.buf.is_empty() {
                self.buf.push(' ');
            }
            self.starts.push(self.buf.len() as u32);
            fold_into(&text[s..e], &mut self.buf);
            self.orig.push((s as u32, e as u32));
            let sigil = sigil(text, s).unwrap_or(0);
            self.sigils.push(sigil);
        }
    }

    fn len(&self) -> usize {
        self.starts.len()
    }

    fn token(&self, k: usize) -> Option<&str> {
        let s = *self.starts.get(k)? as usize;
        let e = self
            .starts
            .get(k + 1)
            .map_or(self.buf.len(), |&n| n as usize - 1);
        self.buf.get(s..e)
    }

    /// Returns the first and last token overlapping original bytes `[s, e)`.
    fn token_range(&self, s: usize, e: usize) -> Option<(u32, u32)> {
        let first = self.orig.partition_point(|&(_, te)| (te as usize) <= s);
        let last = self.orig.partition_point(|&(ts, _)| (ts as usize) < e);
        (first < last).then(|| (first as u32, last as u32 - 1))
    }
}

#[derive(Clone, Copy)]
struct Hit {
    pattern: u32,
    field: u8,
    pos: u32,
}

/// Per-thread scratch reused across mentions, so matching allocates little.
#[derive(Default)]
struct State {
    percolator: u64,
    generation: u32,
    fields: [FieldView; 2],
    hits: Vec<Hit>,
    leaf_seen: Vec<u32>,
    leaf_range: Vec<(usize, usize)>,
    /// Per pattern: the generation of the last mention it hit.
    pattern_hit: Vec<u32>,
    arena: Vec<Spot>,
    scratch: Vec<Spot>,
    rule_seen: Vec<u32>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

impl State {
    fn prepare(&mut self, p: &Percolator, m: &MentionFields<'_>) {
        if self.percolator != p.id {
            self.percolator = p.id;
            self.generation = 0;
            self.leaf_seen = vec![0; p.leaves.len()];
            self.leaf_range = vec![(0, 0); p.leaves.len()];
            self.rule_seen = vec![0; p.rules.len()];
            self.pattern_hit = vec![0; p.prefix.len()];
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.leaf_seen.iter_mut().for_each(|s| *s = 0);
            self.rule_seen.iter_mut().for_each(|s| *s = 0);
            self.pattern_hit.iter_mut().for_each(|s| *s = 0);
            self.generation = 1;
        }
        self.arena.clear();
        self.fields[TEXT as usize].fill(m.text);
        self.fields[TITLE as usize].fill(m.title.unwrap_or_default());
        self.hits.clear();
        let Some(ac) = &p.automaton else { return };
        for field in [TEXT, TITLE] {
            let f = &self.fields[field as usize];
            let buf = f.buf.as_bytes();
            for hit in ac.find_overlapping_iter(&f.buf) {
                let (s, e) = (hit.start(), hit.end());
                let pattern = hit.pattern().as_u32();
                if s > 0 && buf[s - 1] != b' ' {
                    continue;
                }
                if !p.prefix[pattern as usize] && e < buf.len() && buf[e] != b' ' {
                    continue;
                }
                let Ok(pos) = f.starts.binary_search(&(s as u32)) else {
                    continue;
                };
                self.pattern_hit[pattern as usize] = self.generation;
                self.hits.push(Hit {
                    pattern,
                    field,
                    pos: pos as u32,
                });
            }
        }
        self.hits
            .sort_unstable_by_key(|h| (h.pattern, h.field, h.pos));
    }

    /// The hits of pattern `p`, in field and position order.
    fn hits_for(&self, p: u32) -> &[Hit] {
        let lo = self.hits.partition_point(|h| h.pattern < p);
        let hi = self.hits.partition_point(|h| h.pattern <= p);
        &self.hits[lo..hi]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse;

    fn check(query: &str, text: &str) -> bool {
        let e = parse(query, false).expect("query parses");
        let p = Percolator::new(&[(&e, true)], &[Lang::De, Lang::En]);
        let m = MentionFields {
            text,
            lang: "de",
            source: "test",
            ..Default::default()
        };
        let live = p.matching(&m) == [0];
        assert_eq!(live, p.matches(0, &m));
        live
    }

    #[test]
    fn words_and_phrases_match_whole_folded_tokens() {
        assert!(check("bahn", "Die BAHN!"));
        assert!(!check("bahn", "Autobahn"));
        assert!(!check("bahn", "bahnhof"));
        assert!(check("\"deutsche bahn\"", "Deutsche-Bahn, wieder"));
        assert!(!check("\"deutsche bahn\"", "deutsche und bahn"));
        assert!(check("zurich", "Zürich HB"));
        assert!(check("verspät*", "Verspätungen"));
        assert!(check("zug?", "zuge"));
        assert!(!check("zug?", "zug"));
    }

    #[test]
    fn proximity_and_near_count_tokens_between() {
        assert!(check("\"zug verspätet\"~2", "verspätet ist der zug"));
        assert!(!check("\"zug verspätet\"~1", "verspätet ist der zug"));
        assert!(check("zug NEAR/2 verspät*", "verspätet ist der zug"));
        assert!(!check("zug ONEAR/2 verspät*", "verspätet ist der zug"));
        assert!(check("zug ONEAR/0 fällt", "Zug fällt aus"));
    }

    #[test]
    fn tags_raw_and_stems() {
        assert!(check("#bahn", "Warum #Bahn"));
        assert!(!check("#bahn", "Warum Bahn"));
        assert!(!check("@bahn", "mail@bahn.de"));
        assert!(check("raw:\"DB\"", "Die DB streikt"));
        assert!(!check("raw:\"DB\"", "Die db streikt"));
        assert!(!check("raw:\"DB\"", "DBX streikt"));
        assert!(check("~stem:Verspätung", "zwei Verspätungen heute"));
        assert!(check("~stem:Verspätung", "Verspätung"));
    }

    #[test]
    fn german_stems_start_the_folded_word() {
        // The stem filter relies on this; checked over the German lexicon's words.
        let lexicon = include_str!("../../scorer/lexicon/de.tsv");
        let words = lexicon.lines().filter_map(|l| l.split('\t').next()).chain([
            "Verspätungen",
            "Straßenbahnen",
            "Müllerstraße",
            "Zugausfälle",
            "größten",
        ]);
        for w in words {
            let lower = w.to_lowercase();
            if let Some(stem) = stem_key(Lang::De, &lower) {
                assert!(fold(&lower).starts_with(&stem), "{w}: {stem}");
            }
        }
    }

    #[test]
    fn boolean_logic_and_filters() {
        assert!(check("bahn AND NOT jobs", "bahn news"));
        assert!(!check("bahn AND NOT jobs", "bahn jobs"));
        assert!(check("lang:de AND NOT jobs", "irgendwas"));
        assert!(!check("lang:en AND bahn", "bahn"));
    }

    #[test]
    fn site_keys_cover_parent_domains() {
        assert_eq!(
            site_keys("https://a.b.example.com/x"),
            ["a.b.example.com", "b.example.com", "example.com"]
        );
    }
}
