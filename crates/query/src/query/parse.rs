//! Lexer and recursive-descent parser for the query language.

use std::fmt;

use lauscher_model::Lang;
use lauscher_text::token::{fold, is_word_char};

use super::{Expr, Filter, Leaf, Node, Scope, Span, WordPattern};

/// Deepest nesting of parentheses and `NOT`s accepted (a guard for the stack).
const MAX_DEPTH: usize = 64;
/// Largest proximity accepted: wider windows are slow and mean little in short posts.
const MAX_SLOP: u32 = 50;
/// Fewest letters before a wildcard: shorter prefixes expand to too many words.
const MIN_WILDCARD_PREFIX: usize = 3;

/// A query that does not parse, with the byte offset where it goes wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError {
    /// Byte offset into the query text.
    pub offset: usize,
    /// What is wrong and what was expected.
    pub msg: String,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.msg)
    }
}

impl std::error::Error for QueryError {}

fn err<T>(offset: usize, msg: impl Into<String>) -> Result<T, QueryError> {
    Err(QueryError {
        offset,
        msg: msg.into(),
    })
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Near { slop: u32, ordered: bool },
    Minus,
    Ref(String),
    Quoted { text: String, slop: Option<u32> },
    Word(String),
    Field { name: String, value: Value },
}

#[derive(Clone, Debug, PartialEq)]
enum Value {
    Word(String),
    Quoted { text: String, slop: Option<u32> },
}

struct Lexed {
    tok: Tok,
    span: Span,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::And => "AND".into(),
        Tok::Or => "OR".into(),
        Tok::Not => "NOT".into(),
        Tok::Near { slop, ordered } => format!("{}NEAR/{slop}", if *ordered { "O" } else { "" }),
        Tok::Minus => "'-'".into(),
        Tok::Ref(id) => format!("{{{id}}}"),
        Tok::Quoted { text, .. } => format!("\"{text}\""),
        Tok::Word(w) => format!("`{w}`"),
        Tok::Field { name, .. } => format!("`{name}:`"),
    }
}

fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"' | '{' | '}')
}

fn lex(q: &str) -> Result<Vec<Lexed>, QueryError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < q.len() {
        let rest = &q[i..];
        let Some(c) = rest.chars().next() else { break };
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        let start = i;
        let tok = match c {
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            '}' => return err(i, "unexpected '}': references are written {rule-id}"),
            '"' => {
                let (text, slop, end) = quoted(q, i)?;
                i = end;
                Tok::Quoted { text, slop }
            }
            '{' => {
                let Some(close) = rest.find('}') else {
                    return err(i, "expected '}' to close the reference {rule-id}");
                };
                let id = rest[1..close].trim();
                if id.is_empty()
                    || !id.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
                    })
                {
                    return err(
                        i + 1,
                        format!("invalid rule id {id:?} in reference: expected a-z, 0-9, - and _"),
                    );
                }
                i += close + 1;
                Tok::Ref(id.to_owned())
            }
            '-' => {
                let next = rest[1..].chars().next();
                if next.is_none_or(|n| n.is_whitespace() || n == ')') {
                    return err(
                        i,
                        "'-' must be followed directly by the term to exclude: -jobs",
                    );
                }
                i += 1;
                Tok::Minus
            }
            _ => {
                let len = rest.find(is_delimiter).unwrap_or(rest.len());
                let word = &rest[..len];
                i += len;
                word_token(q, start, word, &mut i)?
            }
        };
        out.push(Lexed {
            tok,
            span: Span { start, end: i },
        });
    }
    Ok(out)
}

/// Lexes `"..."` at `at` (with `\"` and `\\` escapes) and an optional `~N`; returns the
/// text, the slop and the end offset.
fn quoted(q: &str, at: usize) -> Result<(String, Option<u32>, usize), QueryError> {
    let mut text = String::new();
    let mut chars = q[at + 1..].char_indices();
    let mut end = None;
    while let Some((j, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, e)) => text.push(e),
                None => break,
            },
            '"' => {
                end = Some(at + 1 + j + 1);
                break;
            }
            c => text.push(c),
        }
    }
    let Some(mut end) = end else {
        return err(at, "unclosed quote: expected '\"' to end the phrase");
    };
    let mut slop = None;
    if q[end..].starts_with('~') {
        let digits = q[end + 1..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(q.len() - end - 1);
        if digits == 0 {
            return err(
                end,
                "expected a number after '~': \"zug verspätet\"~5 allows 5 tokens between",
            );
        }
        let n: u32 = q[end + 1..end + 1 + digits].parse().unwrap_or(u32::MAX);
        if n > MAX_SLOP {
            return err(
                end + 1,
                format!("proximity {n} is too wide: at most {MAX_SLOP}"),
            );
        }
        slop = Some(n);
        end += 1 + digits;
    }
    Ok((text, slop, end))
}

fn word_token(q: &str, start: usize, word: &str, i: &mut usize) -> Result<Tok, QueryError> {
    match word {
        "AND" => return Ok(Tok::And),
        "OR" => return Ok(Tok::Or),
        "NOT" => return Ok(Tok::Not),
        "and" | "or" | "not" | "And" | "Or" | "Not" => {
            return err(
                start,
                format!(
                    "operators are upper case: write {} (to match the word, quote it: \"{word}\")",
                    word.to_uppercase()
                ),
            );
        }
        _ => {}
    }
    for (prefix, ordered) in [("NEAR/", false), ("ONEAR/", true)] {
        let lower = prefix.to_lowercase();
        let (has, upper) = if word.starts_with(prefix) {
            (true, true)
        } else {
            (word.to_lowercase().starts_with(&lower), false)
        };
        if !has {
            continue;
        }
        if !upper {
            return err(start, format!("operators are upper case: write {prefix}n"));
        }
        let n = &word[prefix.len()..];
        let slop: u32 = match n.parse() {
            Ok(v) => v,
            Err(_) => {
                return err(
                    start + prefix.len(),
                    format!("expected a number after {prefix}, e.g. {prefix}5"),
                );
            }
        };
        if slop > MAX_SLOP {
            return err(
                start + prefix.len(),
                format!("{prefix}{slop} is too wide: at most {MAX_SLOP}"),
            );
        }
        return Ok(Tok::Near { slop, ordered });
    }
    if matches!(word, "NEAR" | "ONEAR") {
        return err(
            start,
            format!("expected {word}/n with a distance, e.g. {word}/5"),
        );
    }
    if let Some(colon) = word.find(':').filter(|&c| c > 0) {
        let name = word[..colon].to_owned();
        let value = &word[colon + 1..];
        let value = if value.is_empty() {
            if q[*i..].starts_with('"') {
                let (text, slop, end) = quoted(q, *i)?;
                *i = end;
                Value::Quoted { text, slop }
            } else {
                return err(
                    start + colon + 1,
                    format!("expected a value after `{name}:`"),
                );
            }
        } else {
            Value::Word(value.to_owned())
        };
        return Ok(Tok::Field { name, value });
    }
    Ok(Tok::Word(word.to_owned()))
}

/// Parses `query`; `stem` stems every bare single word (a rule's `stem: true`).
pub fn parse(query: &str, stem: bool) -> Result<Expr, QueryError> {
    let toks = lex(query)?;
    let mut p = Parser {
        toks,
        pos: 0,
        stem,
        len: query.len(),
    };
    if p.toks.is_empty() {
        return err(
            0,
            "empty query: expected a word, a \"phrase\" or a field filter",
        );
    }
    let (expr, _) = p.or(0)?;
    if let Some(t) = p.toks.get(p.pos) {
        return match t.tok {
            Tok::RParen => err(t.span.start, "unexpected ')': no '(' is open here"),
            _ => err(
                t.span.start,
                format!(
                    "unexpected {}: expected AND, OR or the end",
                    describe(&t.tok)
                ),
            ),
        };
    }
    if !positive(&expr) {
        return err(
            0,
            "a query needs a clause that must match: NOT alone would match almost everything",
        );
    }
    Ok(expr)
}

fn positive(e: &Expr) -> bool {
    match &e.node {
        Node::Leaf(_) | Node::Filter(_) | Node::Ref(_) | Node::Near { .. } => true,
        Node::Not(_) => false,
        Node::And(xs) => xs.iter().any(positive),
        Node::Or(xs) => xs.iter().all(positive),
    }
}

fn positional(e: &Expr) -> bool {
    match &e.node {
        Node::Leaf(_) | Node::Near { .. } => true,
        Node::Or(xs) => xs.iter().all(positional),
        _ => false,
    }
}

struct Parser {
    toks: Vec<Lexed>,
    pos: usize,
    stem: bool,
    len: usize,
}

/// What kind of expression a sub-parser returned, for the AND/OR mixing check.
#[derive(PartialEq)]
enum Shape {
    BareAnd,
    Other,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn here(&self) -> usize {
        self.toks.get(self.pos).map_or(self.len, |t| t.span.start)
    }

    fn end_of_prev(&self) -> usize {
        self.pos
            .checked_sub(1)
            .and_then(|p| self.toks.get(p))
            .map_or(0, |t| t.span.end)
    }

    fn or(&mut self, depth: usize) -> Result<(Expr, Shape), QueryError> {
        let start = self.here();
        let (first, shape) = self.and(depth)?;
        if self.peek() != Some(&Tok::Or) {
            return Ok((first, shape));
        }
        let mut alts = vec![first];
        let mut shapes = vec![shape];
        while self.peek() == Some(&Tok::Or) {
            let or_at = self.here();
            self.pos += 1;
            let (x, s) = self.and(depth)?;
            alts.push(x);
            shapes.push(s);
            if shapes.contains(&Shape::BareAnd) {
                return err(
                    or_at,
                    "AND and OR mixed without parentheses: write (a AND b) OR c, or a AND (b OR c)",
                );
            }
        }
        Ok((
            Expr {
                node: Node::Or(alts),
                span: Span {
                    start,
                    end: self.end_of_prev(),
                },
                src: 0,
            },
            Shape::Other,
        ))
    }

    fn and(&mut self, depth: usize) -> Result<(Expr, Shape), QueryError> {
        let start = self.here();
        let first = self.near(depth)?;
        let mut all = vec![first];
        loop {
            match self.peek() {
                Some(Tok::And) => {
                    self.pos += 1;
                    all.push(self.near(depth)?);
                }
                Some(Tok::Or | Tok::RParen) | None => break,
                Some(Tok::Not) => {
                    return err(
                        self.here(),
                        "expected AND or OR before NOT: write a AND NOT b",
                    );
                }
                Some(t) => {
                    let what = describe(t);
                    return err(
                        self.here(),
                        format!(
                            "expected AND, OR or NEAR/n before {what}: words are never joined implicitly; quote words that belong together (\"deutsche bahn\") or write AND"
                        ),
                    );
                }
            }
        }
        if all.len() == 1 {
            return Ok((all.remove(0), Shape::Other));
        }
        Ok((
            Expr {
                node: Node::And(all),
                span: Span {
                    start,
                    end: self.end_of_prev(),
                },
                src: 0,
            },
            Shape::BareAnd,
        ))
    }

    fn near(&mut self, depth: usize) -> Result<Expr, QueryError> {
        let start = self.here();
        let mut left = self.unary(depth)?;
        while let Some(&Tok::Near { slop, ordered }) = self.peek() {
            self.pos += 1;
            let right = self.unary(depth)?;
            for side in [&left, &right] {
                if !positional(side) {
                    return err(
                        side.span.start,
                        format!(
                            "{} needs words, phrases, hashtags or (a OR b) groups on both sides",
                            if ordered { "ONEAR" } else { "NEAR" }
                        ),
                    );
                }
            }
            left = Expr {
                node: Node::Near {
                    left: Box::new(left),
                    right: Box::new(right),
                    slop,
                    ordered,
                },
                span: Span {
                    start,
                    end: self.end_of_prev(),
                },
                src: 0,
            };
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, QueryError> {
        if depth > MAX_DEPTH {
            return err(
                self.here(),
                format!("query nests deeper than {MAX_DEPTH} levels"),
            );
        }
        let start = self.here();
        match self.peek() {
            Some(Tok::Not) => {
                self.pos += 1;
                let x = self.unary(depth + 1)?;
                Ok(self.wrap_not(x, start))
            }
            Some(Tok::Minus) => {
                self.pos += 1;
                let x = self.primary(depth + 1)?;
                Ok(self.wrap_not(x, start))
            }
            _ => self.primary(depth),
        }
    }

    fn wrap_not(&self, x: Expr, start: usize) -> Expr {
        Expr {
            node: Node::Not(Box::new(x)),
            span: Span {
                start,
                end: self.end_of_prev(),
            },
            src: 0,
        }
    }

    fn primary(&mut self, depth: usize) -> Result<Expr, QueryError> {
        let Some(t) = self.toks.get(self.pos) else {
            return err(
                self.len,
                "query ends too early: expected a word, a \"phrase\", a field filter or '('",
            );
        };
        let span = t.span;
        let tok = t.tok.clone();
        self.pos += 1;
        let node = match tok {
            Tok::LParen => {
                let (mut x, _) = self.or(depth + 1)?;
                if self.peek() != Some(&Tok::RParen) {
                    let found = self
                        .peek()
                        .map_or("the end of the query".to_owned(), describe);
                    return err(
                        self.here(),
                        format!(
                            "expected ')' to close the '(' at byte {}, found {found}",
                            span.start
                        ),
                    );
                }
                self.pos += 1;
                x.span = Span {
                    start: span.start,
                    end: self.end_of_prev(),
                };
                return Ok(x);
            }
            Tok::Ref(id) => Node::Ref(id),
            Tok::Word(w) => Node::Leaf(word_leaf(&w, span.start, self.stem)?),
            Tok::Quoted { text, slop } => {
                Node::Leaf(phrase_leaf(&text, slop, Scope::Any, span.start)?)
            }
            Tok::Field { name, value } => field(&name, value, span.start, name.len() + 1)?,
            other => {
                return err(
                    span.start,
                    format!(
                        "expected a word, a \"phrase\", a field filter or '(' but found {}",
                        describe(&other)
                    ),
                );
            }
        };
        Ok(Expr { node, span, src: 0 })
    }
}

/// Splits a term into word patterns: runs of word characters, `*` and `?`, folded.
fn patterns(text: &str, at: usize) -> Result<Vec<WordPattern>, QueryError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_start = 0;
    let flush = |cur: &mut String, start: usize, out: &mut Vec<WordPattern>| {
        if cur.is_empty() {
            return Ok(());
        }
        let wildcard = cur.contains(['*', '?']);
        if wildcard {
            if let Some(star) = cur.find('*')
                && star + 1 != cur.len()
            {
                return err(
                    at + start,
                    format!("`*` is only allowed at the end of a word: {cur}"),
                );
            }
            let prefix: String = cur
                .chars()
                .take_while(|c| !matches!(c, '*' | '?'))
                .collect();
            if fold(&prefix).chars().count() < MIN_WILDCARD_PREFIX {
                return err(
                    at + start,
                    format!(
                        "wildcard `{cur}` needs at least {MIN_WILDCARD_PREFIX} letters before `*` or `?` (it would match too many words)"
                    ),
                );
            }
        }
        let mut text = String::with_capacity(cur.len());
        for c in cur.chars() {
            if matches!(c, '*' | '?') {
                text.push(c);
            } else {
                lauscher_text::token::fold_into(c.encode_utf8(&mut [0; 4]), &mut text);
            }
        }
        out.push(WordPattern { text, wildcard });
        cur.clear();
        Ok(())
    };
    for (i, c) in text.char_indices() {
        if is_word_char(c) || matches!(c, '*' | '?') {
            if cur.is_empty() {
                cur_start = i;
            }
            cur.push(c);
        } else {
            flush(&mut cur, cur_start, &mut out)?;
        }
    }
    flush(&mut cur, cur_start, &mut out)?;
    Ok(out)
}

fn word_leaf(w: &str, at: usize, stem: bool) -> Result<Leaf, QueryError> {
    if let Some(rest) = w.strip_prefix(['#', '@']) {
        let sigil = &w[..1];
        if rest.is_empty() || !rest.chars().all(is_word_char) {
            return err(
                at,
                format!(
                    "`{w}`: a hashtag or handle is {sigil} followed by letters, digits or _ (no wildcards)"
                ),
            );
        }
        return Ok(Leaf::Tag(format!("{sigil}{}", fold(rest))));
    }
    let words = patterns(w, at)?;
    if words.is_empty() {
        return err(
            at,
            format!("`{w}` has no letters or digits to match; quote it or use raw:\"{w}\""),
        );
    }
    if stem && words.len() == 1 && !words[0].wildcard {
        return Ok(Leaf::Stem(w.to_lowercase()));
    }
    Ok(Leaf::Phrase {
        words,
        scope: Scope::Any,
    })
}

fn phrase_leaf(text: &str, slop: Option<u32>, scope: Scope, at: usize) -> Result<Leaf, QueryError> {
    let words = patterns(text, at)?;
    if words.is_empty() {
        return err(
            at,
            format!(
                "\"{text}\" has no letters or digits to match; for punctuation use raw:\"{text}\""
            ),
        );
    }
    match slop {
        Some(slop) => {
            if words.len() < 2 {
                return err(at, "proximity ~n needs at least two words in the quotes");
            }
            Ok(Leaf::Proximity { words, slop, scope })
        }
        None => Ok(Leaf::Phrase { words, scope }),
    }
}

const FIELDS: &str = "lang, source, author, site, url, title, raw or ~stem";

fn field(name: &str, value: Value, at: usize, value_offset: usize) -> Result<Node, QueryError> {
    let vat = at + value_offset;
    let plain = |what: &str| -> Result<String, QueryError> {
        match &value {
            Value::Word(w) => Ok(w.clone()),
            Value::Quoted { text, slop: None } => Ok(text.clone()),
            Value::Quoted { slop: Some(_), .. } => {
                err(vat, format!("`{name}:` takes {what}, not a proximity"))
            }
        }
    };
    Ok(match name {
        "lang" => {
            let v = plain("a language code")?.to_lowercase();
            if v != "und" && v.parse::<Lang>().is_err() {
                let codes: Vec<&str> = Lang::ALL.iter().map(|l| l.code()).collect();
                return err(
                    vat,
                    format!(
                        "unknown language {v:?}: expected und or one of {}",
                        codes.join(", ")
                    ),
                );
            }
            Node::Filter(Filter::Lang(v))
        }
        "source" => {
            let v = plain("a source id")?;
            if v.is_empty()
                || !v
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
            {
                return err(
                    vat,
                    format!("invalid source id {v:?}: expected a-z, 0-9, - and _"),
                );
            }
            Node::Filter(Filter::Source(v))
        }
        "author" => {
            let v = plain("a name")?;
            let v = fold(v.trim().trim_start_matches('@'));
            if v.is_empty() {
                return err(vat, "`author:` needs a name");
            }
            Node::Filter(Filter::Author(v))
        }
        "site" => {
            let v = plain("a host name")?.to_lowercase();
            if !v.contains('.') || v.contains(['/', ':', ' ']) || v.starts_with('.') {
                return err(
                    vat,
                    format!("`site:` takes a host name like example.com, not {v:?}"),
                );
            }
            Node::Filter(Filter::Site(v))
        }
        "url" => {
            let v = url_key(&plain("a URL prefix")?);
            if !v.split('/').next().is_some_and(|h| h.contains('.')) {
                return err(
                    vat,
                    format!(
                        "`url:` takes a URL prefix with its host, like example.com/blog, not {v:?}"
                    ),
                );
            }
            Node::Filter(Filter::Url(v))
        }
        "title" => match value {
            Value::Word(w) if w.starts_with(['#', '@']) => {
                return err(
                    vat,
                    "`title:` takes words or a \"phrase\", not hashtags or handles",
                );
            }
            Value::Word(w) => match word_leaf(&w, vat, false)? {
                Leaf::Phrase { words, .. } => Node::Leaf(Leaf::Phrase {
                    words,
                    scope: Scope::Title,
                }),
                _ => return err(vat, "`title:` takes words or a \"phrase\""),
            },
            Value::Quoted { text, slop } => {
                Node::Leaf(phrase_leaf(&text, slop, Scope::Title, vat)?)
            }
        },
        "raw" => {
            let v = plain("exact text")?;
            if !v.chars().any(is_word_char) {
                return err(vat, "`raw:` needs at least one letter or digit");
            }
            Node::Leaf(Leaf::Raw(v))
        }
        "~stem" => {
            let v = plain("one word")?;
            let words = patterns(&v, vat)?;
            if words.len() != 1 || words[0].wildcard {
                return err(
                    vat,
                    "`~stem:` takes one word without wildcards, e.g. ~stem:verspätung",
                );
            }
            Node::Leaf(Leaf::Stem(v.to_lowercase()))
        }
        _ => {
            return err(
                at,
                format!(
                    "unknown field `{name}:`: expected {FIELDS}; to match the text literally, quote it"
                ),
            );
        }
    })
}

/// Returns the form `url:` compares: lower case, without scheme and `www.`.
pub(crate) fn url_key(url: &str) -> String {
    let u = url.trim().to_lowercase();
    let u = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
        .unwrap_or(&u);
    u.strip_prefix("www.").unwrap_or(u).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(q: &str) -> String {
        match parse(q, false) {
            Ok(e) => e.to_string(),
            Err(e) => panic!("{q}: {e}"),
        }
    }

    fn fails(q: &str) -> QueryError {
        match parse(q, false) {
            Ok(e) => panic!("{q} parsed as {e}"),
            Err(e) => e,
        }
    }

    #[test]
    fn parses_every_operator_and_prints_it_back() {
        for (q, canonical) in [
            ("bahn", "bahn"),
            ("\"Deutsche Bahn\"", "\"deutsche bahn\""),
            ("covid-19", "\"covid 19\""),
            ("a AND b AND c", "a AND b AND c"),
            ("(a OR b) AND NOT c", "(a OR b) AND NOT c"),
            ("a AND -c", "a AND NOT c"),
            ("\"zug verspätet\"~5", "\"zug verspatet\"~5"),
            ("zug NEAR/3 verspät*", "zug NEAR/3 verspat*"),
            (
                "(zug OR bahn) ONEAR/2 \"fällt aus\"",
                "(zug OR bahn) ONEAR/2 \"fallt aus\"",
            ),
            ("#BahnChaos OR @DB_Bahn", "#bahnchaos OR @db_bahn"),
            ("raw:\"DB\" AND lang:DE", "raw:\"DB\" AND lang:de"),
            ("~stem:Verspätung", "~stem:verspätung"),
            (
                "site:example.com OR url:https://www.example.com/Blog",
                "site:example.com OR url:\"example.com/blog\"",
            ),
            (
                "title:\"neue app\" AND author:@Anna",
                "title:\"neue app\" AND author:\"anna\"",
            ),
            (
                "{brand-acme} AND {complaint-words}",
                "{brand-acme} AND {complaint-words}",
            ),
            ("source:mastodon AND zug?e", "source:mastodon AND zug?e"),
        ] {
            let printed = ok(q);
            assert_eq!(printed, canonical, "{q}");
            assert_eq!(ok(&printed), printed, "round trip of {q}");
        }
    }

    #[test]
    fn errors_name_the_byte_and_what_was_expected() {
        let e = fails("(bahn OR zug");
        assert_eq!(e.offset, 12);
        assert!(e.msg.contains("expected ')'"), "{}", e.msg);
        let e = fails("deutsche bahn");
        assert_eq!(e.offset, 9);
        assert!(e.msg.contains("never joined implicitly"), "{}", e.msg);
        let e = fails("a OR b AND c");
        assert!(e.msg.contains("parentheses"), "{}", e.msg);
        assert!(fails("a and b").msg.contains("upper case"));
        assert!(fails("ve*").msg.contains("at least 3 letters"));
        assert!(fails("ver*spätung").msg.contains("only allowed at the end"));
        assert!(fails("NOT spam").msg.contains("must match"));
        assert!(fails("foo:bar").msg.contains("unknown field"));
        assert!(fails("lang:xx").msg.contains("unknown language"));
        assert!(fails("\"open").msg.contains("unclosed quote"));
        assert!(fails("(a AND b) NEAR/2 d").msg.contains("NEAR needs"));
        assert!(fails("").msg.contains("empty query"));
        assert!(fails("a AND").msg.contains("ends too early"));
        assert!(fails("a)").msg.contains("unexpected ')'"));
        assert_eq!(fails("x AND {Bad Id}").offset, 7);
        assert!(fails("a NOT b").msg.contains("AND NOT"));
    }

    #[test]
    fn stem_option_turns_bare_words_into_stems() {
        let e = parse("Verspätung OR \"zug\"", true).expect("parses");
        assert_eq!(e.to_string(), "~stem:verspätung OR zug");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let q = format!("{}a{}", "(".repeat(500), ")".repeat(500));
        assert!(fails(&q).msg.contains("nests deeper"));
        let q = format!("{}a", "NOT ".repeat(500));
        assert!(parse(&q, false).is_err());
    }
}
