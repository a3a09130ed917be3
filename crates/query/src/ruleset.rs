//! Topic rule files: loading, reference resolution, examples, and the compiled set.
//!
//! ```yaml
//! version: 1
//! rules:
//!   - id: db
//!     kind: brand            # brand | competitor | industry | pack
//!     name: Deutsche Bahn
//!     query: '"deutsche bahn" OR raw:"DB" OR #bahn OR @DB_Bahn'
//!     exclude: ["{noise-jobs}"]
//!     stem: false            # stem every bare word of the query
//!     examples:
//!       match: ["Die Deutsche Bahn ist wieder zu spät"]
//!       no_match: ["DB migration failed", {text: "...", lang: en}]
//! ```
//!
//! A `pack` is a reusable query (noise exclusions, complaint vocabulary): other rules use
//! it as `{id}`, it never tags a mention. A reference stands for the referenced rule's
//! query *and* its exclusions. Every rule's `examples` run in `lauscher check` and before a
//! rule set is accepted, so a rule that stops matching what it should is caught before it
//! misses a crisis.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};

use lauscher_model::Lang;
use lauscher_model::TopicKind;
use lauscher_text::LanguageDetector;
use serde::Deserialize;

use crate::file::Located;
use crate::file::check_id;
use crate::matcher::{MentionFields, Origin, Percolator};
use crate::query::{Expr, Node, Span, parse};
use crate::span::YamlFile;

/// What a rule is: a topic kind, or a pack other rules reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    /// The user's own brand.
    Brand,
    /// A competitor.
    Competitor,
    /// The industry at large.
    Industry,
    /// A reusable query; never written to mentions.
    Pack,
}

impl RuleKind {
    /// Returns the topic kind, or `None` for a pack.
    pub fn topic_kind(self) -> Option<TopicKind> {
        match self {
            RuleKind::Brand => Some(TopicKind::Brand),
            RuleKind::Competitor => Some(TopicKind::Competitor),
            RuleKind::Industry => Some(TopicKind::Industry),
            RuleKind::Pack => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    version: u32,
    #[serde(default)]
    rules: Vec<RuleSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: String,
    kind: RuleKind,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    query: String,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    stem: bool,
    #[serde(default)]
    examples: Examples,
}

/// A rule's self-test.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Examples {
    /// Mentions the rule must match.
    #[serde(default, rename = "match")]
    pub must_match: Vec<Example>,
    /// Mentions the rule must not match.
    #[serde(default)]
    pub no_match: Vec<Example>,
}

/// An example mention: a bare text, or a text with the fields filters look at.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Example {
    /// Just the text (language detected as in the pipeline).
    Text(String),
    /// A text with fields.
    Mention(ExampleMention),
}

/// An example with fields; unset fields are empty, the language is detected.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExampleMention {
    /// The text.
    pub text: String,
    /// The title.
    #[serde(default)]
    pub title: Option<String>,
    /// The language code; detected from the text when unset.
    #[serde(default)]
    pub lang: Option<String>,
    /// The source id.
    #[serde(default)]
    pub source: Option<String>,
    /// The author.
    #[serde(default)]
    pub author: Option<String>,
    /// The URL.
    #[serde(default)]
    pub url: Option<String>,
}

impl Example {
    fn mention(&self) -> ExampleMention {
        match self {
            Example::Text(t) => ExampleMention {
                text: t.clone(),
                ..Default::default()
            },
            Example::Mention(m) => m.clone(),
        }
    }
}

/// One loaded rule.
#[derive(Debug)]
pub struct Rule {
    /// Unique id across all rule files.
    pub id: String,
    /// Topic kind or pack.
    pub kind: RuleKind,
    /// Display name (the id when unset).
    pub name: String,
    /// What the rule is for, as written.
    pub description: Option<String>,
    /// The query with its exclusions, references resolved.
    pub expr: Expr,
    /// The rule's self-test.
    pub examples: Examples,
    /// Where the rule is written.
    pub place: Located,
    example_places: Vec<Located>,
}

impl Rule {
    /// The words the rule is about: its name's words and every word, hashtag, handle and
    /// phrase word its query requires or allows (not those under `NOT`), folded; a
    /// wildcard word keeps its `*` as a prefix mark. These are the topic's own names, so
    /// the scorer never reads sentiment into them.
    pub fn words(&self) -> Vec<String> {
        let mut out: Vec<String> = lauscher_text::token::folded_tokens(&self.name)
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        collect_words(&self.expr, &mut out);
        out.sort_unstable();
        out.dedup();
        out
    }
}

fn collect_words(expr: &Expr, out: &mut Vec<String>) {
    use crate::query::{Leaf, Node};
    let pattern = |w: &crate::query::WordPattern| {
        if w.wildcard {
            format!("{}*", w.literal_prefix())
        } else {
            w.text.clone()
        }
    };
    match &expr.node {
        Node::Leaf(Leaf::Phrase { words, .. } | Leaf::Proximity { words, .. }) => {
            out.extend(words.iter().map(pattern));
        }
        Node::Leaf(Leaf::Tag(t)) => {
            let bare = t.trim_start_matches(['#', '@']);
            out.push(bare.to_owned());
            // `#UnitedAirlines` is also written `United Airlines`.
            out.extend(
                lauscher_text::token::folded_tokens(bare)
                    .into_iter()
                    .map(|(f, _)| f),
            );
        }
        Node::Leaf(Leaf::Raw(r) | Leaf::Stem(r)) => out.extend(
            lauscher_text::token::folded_tokens(r)
                .into_iter()
                .map(|(f, _)| f),
        ),
        Node::Filter(_) | Node::Ref(_) | Node::Not(_) => {}
        Node::And(xs) | Node::Or(xs) => xs.iter().for_each(|x| collect_words(x, out)),
        Node::Near { left, right, .. } => {
            collect_words(left, out);
            collect_words(right, out);
        }
    }
}

/// A query text as written, for positions and explanations.
#[derive(Debug)]
struct QuerySource {
    file: Arc<str>,
    file_text: Arc<str>,
    text: String,
    /// File byte offset of each character of `text` (plus one past the end).
    map: Vec<(usize, usize)>,
}

impl QuerySource {
    fn locate(&self, offset: usize, msg: impl Into<String>) -> Located {
        let byte = self
            .map
            .iter()
            .find(|(q, _)| *q >= offset)
            .or(self.map.last())
            .map_or(0, |(_, f)| *f);
        let (line, col) = line_col(&self.file_text, byte);
        Located::new(&self.file, &self.file_text, line, col, msg)
    }
}

/// Why a rule set was rejected: every problem found, each at its place.
#[derive(Debug)]
pub struct RulesError {
    /// The problems, in file order.
    pub problems: Vec<Located>,
    /// Files that could not be read.
    pub io: Vec<(PathBuf, std::io::Error)>,
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (p, e) in &self.io {
            if !first {
                writeln!(f)?;
            }
            first = false;
            write!(f, "{}: cannot read: {e}", p.display())?;
        }
        for p in &self.problems {
            if !first {
                writeln!(f)?;
            }
            first = false;
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RulesError {}

/// An example that did not come out as its rule says.
#[derive(Debug)]
pub struct ExampleFailure {
    /// The rule id.
    pub rule: String,
    /// Where the example is written.
    pub place: Located,
    /// The example's text.
    pub text: String,
    /// Whether the rule should have matched.
    pub expected: bool,
    /// The clauses that decided, as `file:line:col: clause (matched|did not match)`.
    pub decided_by: Vec<String>,
}

impl fmt::Display for ExampleFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.place;
        write!(
            f,
            "{}:{}:{}: rule {:?} {} {:?}",
            p.file,
            p.line,
            p.col,
            self.rule,
            if self.expected {
                "should match but does not:"
            } else {
                "should not match but does:"
            },
            self.text
        )?;
        for d in &self.decided_by {
            write!(f, "\n    decided by {d}")?;
        }
        Ok(())
    }
}

/// All rules of a deployment, compiled for live matching.
pub struct RuleSet {
    rules: Vec<Rule>,
    by_id: HashMap<String, usize>,
    sources: Vec<QuerySource>,
    percolator: Percolator,
    langs: Vec<Lang>,
}

impl fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.rules.len())
            .finish()
    }
}

impl RuleSet {
    /// Loads every `*.yaml`/`*.yml` file in `paths` (files, or directories read in name
    /// order, not recursively) and compiles them for `langs`.
    pub fn load(paths: &[PathBuf], langs: &[Lang]) -> Result<RuleSet, RulesError> {
        let mut files = Vec::new();
        let mut io = Vec::new();
        for path in paths {
            if path.is_dir() {
                match std::fs::read_dir(path) {
                    Ok(entries) => {
                        let mut found: Vec<PathBuf> = entries
                            .filter_map(|e| e.ok().map(|e| e.path()))
                            .filter(|p| {
                                p.is_file()
                                    && p.extension().is_some_and(|x| x == "yaml" || x == "yml")
                            })
                            .collect();
                        found.sort();
                        files.extend(found);
                    }
                    Err(e) => io.push((path.clone(), e)),
                }
            } else {
                files.push(path.clone());
            }
        }
        let mut texts = Vec::new();
        for f in files {
            match std::fs::read_to_string(&f) {
                Ok(t) => texts.push((f.display().to_string(), t)),
                Err(e) => io.push((f, e)),
            }
        }
        if !io.is_empty() {
            return Err(RulesError {
                problems: Vec::new(),
                io,
            });
        }
        RuleSet::from_texts(&texts, langs)
    }

    /// Compiles rule files given as (name, text) pairs.
    pub fn from_texts(files: &[(String, String)], langs: &[Lang]) -> Result<RuleSet, RulesError> {
        let mut problems = Vec::new();
        let mut sources = Vec::new();
        // (spec, file index, parsed query, parsed exclusions)
        let mut parsed: Vec<Parsed> = Vec::new();
        let mut seen: HashMap<String, (String, usize)> = HashMap::new();
        for (name, text) in files {
            let file: Arc<str> = Arc::from(name.as_str());
            let file_text: Arc<str> = Arc::from(text.as_str());
            let doc: RuleFile = match serde_norway::from_str(text) {
                Ok(d) => d,
                Err(e) => {
                    problems.push(crate::file::yaml_error(&e, name, text));
                    continue;
                }
            };
            let yaml = YamlFile::new(name, text);
            if doc.version != 1 {
                problems.push(yaml.at(
                    "version",
                    format!("unsupported version {}: expected 1", doc.version),
                ));
                continue;
            }
            for (i, spec) in doc.rules.into_iter().enumerate() {
                let rule_path = format!("rules[{i}]");
                let place = yaml.at(&format!("{rule_path}.id"), String::new());
                let (line, col) = (place.line, place.col);
                if let Err(m) = check_id(&spec.id) {
                    problems.push(Located::new(name, text, line, col, m));
                    continue;
                }
                if let Some((f, l)) = seen.get(&spec.id) {
                    problems.push(Located::new(
                        name,
                        text,
                        line,
                        col,
                        format!("duplicate rule id {:?} (first defined at {f}:{l})", spec.id),
                    ));
                    continue;
                }
                seen.insert(spec.id.clone(), (name.clone(), line));
                if spec.kind != RuleKind::Pack && spec.name.is_none() {
                    problems.push(Located::new(
                        name,
                        text,
                        line,
                        col,
                        format!("rule {:?} needs a name: it is shown to users", spec.id),
                    ));
                }
                let mut parse_at = |q: &str, from: usize, problems: &mut Vec<Located>| {
                    let map = align_from(text, from, q);
                    let src = sources.len() as u32;
                    sources.push(QuerySource {
                        file: file.clone(),
                        file_text: file_text.clone(),
                        text: q.to_owned(),
                        map,
                    });
                    let end = sources[src as usize].map.last().map_or(from, |(_, f)| *f);
                    match parse(q, spec.stem) {
                        Ok(mut e) => {
                            set_src(&mut e, src);
                            (Some(e), end)
                        }
                        Err(err) => {
                            problems.push(sources[src as usize].locate(err.offset, err.msg));
                            (None, end)
                        }
                    }
                };
                // Where a value starts in the file (its indicator or quote for block and
                // quoted scalars; alignment finds the text from there).
                let start_of = |path: &str| {
                    yaml.offset(path)
                        .or_else(|| yaml.offset(&rule_path))
                        .unwrap_or(0)
                };
                let (query, _) = parse_at(
                    &spec.query,
                    start_of(&format!("{rule_path}.query")),
                    &mut problems,
                );
                let mut exclude = Vec::new();
                for (j, x) in spec.exclude.iter().enumerate() {
                    let from = start_of(&format!("{rule_path}.exclude[{j}]"));
                    let (e, _) = parse_at(x, from, &mut problems);
                    exclude.extend(e);
                }
                let mut example_places = Vec::new();
                let listed = [
                    ("match", &spec.examples.must_match),
                    ("no_match", &spec.examples.no_match),
                ];
                for (list, examples) in listed {
                    for (k, ex) in examples.iter().enumerate() {
                        let path = format!("{rule_path}.examples.{list}[{k}]");
                        let from = yaml
                            .offset(&format!("{path}.text"))
                            .unwrap_or_else(|| start_of(&path));
                        let map = align_from(text, from, &ex.mention().text);
                        let start = map.first().map_or(from, |(_, f)| *f);
                        let (l, c) = line_col(text, start);
                        example_places.push(Located::new(name, text, l, c, String::new()));
                    }
                }
                let ok = query.is_some() && exclude.len() == spec.exclude.len();
                parsed.push(Parsed {
                    spec,
                    place,
                    example_places,
                    query: if ok { query } else { None },
                    exclude,
                });
            }
        }
        let ids: HashMap<String, usize> = parsed
            .iter()
            .enumerate()
            .map(|(i, p)| (p.spec.id.clone(), i))
            .collect();
        // Check references before resolving, so every unknown one is reported.
        for p in &parsed {
            for e in p.query.iter().chain(&p.exclude) {
                e.walk(&mut |x| {
                    if let Node::Ref(id) = &x.node
                        && !ids.contains_key(id)
                    {
                        let src = &sources[x.src as usize];
                        problems.push(src.locate(
                            x.span.start,
                            format!("unknown rule {{{id}}}{}", suggest(id, ids.keys())),
                        ));
                    }
                });
            }
        }
        if !problems.is_empty() {
            return Err(RulesError {
                problems,
                io: Vec::new(),
            });
        }
        let mut resolved: Vec<Option<Expr>> = vec![None; parsed.len()];
        for i in 0..parsed.len() {
            let mut stack = Vec::new();
            if let Err(l) = resolve(i, &parsed, &ids, &sources, &mut resolved, &mut stack) {
                problems.push(*l);
            }
        }
        if !problems.is_empty() {
            return Err(RulesError {
                problems,
                io: Vec::new(),
            });
        }
        let mut rules = Vec::new();
        for (p, e) in parsed.into_iter().zip(resolved) {
            let Some(expr) = e else { continue };
            rules.push(Rule {
                name: p.spec.name.clone().unwrap_or_else(|| p.spec.id.clone()),
                id: p.spec.id,
                kind: p.spec.kind,
                description: p.spec.description,
                expr,
                examples: p.spec.examples,
                place: p.place,
                example_places: p.example_places,
            });
        }
        let compiled: Vec<(&Expr, bool)> = rules
            .iter()
            .map(|r| (&r.expr, r.kind != RuleKind::Pack))
            .collect();
        let percolator = Percolator::new(&compiled, langs);
        Ok(RuleSet {
            by_id: rules
                .iter()
                .enumerate()
                .map(|(i, r)| (r.id.clone(), i))
                .collect(),
            rules,
            sources,
            percolator,
            langs: langs.to_vec(),
        })
    }

    /// Every rule, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Returns the index of rule `id`.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// Returns the topic rules (not packs) `m` matches, in rule order.
    pub fn topics(&self, m: &MentionFields<'_>) -> Vec<&Rule> {
        self.percolator
            .matching(m)
            .into_iter()
            .map(|i| &self.rules[i])
            .collect()
    }

    /// Returns whether rule number `rule` (see [`RuleSet::position`]) matches `m`.
    pub fn matches(&self, rule: usize, m: &MentionFields<'_>) -> bool {
        self.percolator.matches(rule, m)
    }

    /// Explains rule number `rule` on `m`: whether it matched, and the clauses that
    /// decided, as `file:line:col: clause matched|did not match`.
    pub fn explain(&self, rule: usize, m: &MentionFields<'_>) -> (bool, Vec<String>) {
        let (v, decided) = self.percolator.explain(rule, m);
        let lines = decided
            .into_iter()
            .map(|(o, matched)| self.describe(o, matched))
            .collect();
        (v, lines)
    }

    fn describe(&self, o: Origin, matched: bool) -> String {
        let Some(src) = self.sources.get(o.src as usize) else {
            return String::new();
        };
        let clause = src.text.get(o.span.start..o.span.end).unwrap_or_default();
        let at = src.locate(o.span.start, "");
        format!(
            "{}:{}:{}: `{clause}` {}",
            at.file,
            at.line,
            at.col,
            if matched { "matched" } else { "did not match" }
        )
    }

    /// Runs every rule's examples; returns the failures (empty when all pass).
    pub fn check_examples(&self) -> Vec<ExampleFailure> {
        let detector = LanguageDetector::new(&self.langs);
        let mut failures = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let cases = rule
                .examples
                .must_match
                .iter()
                .map(|e| (e, true))
                .chain(rule.examples.no_match.iter().map(|e| (e, false)));
            for (k, (ex, expected)) in cases.enumerate() {
                let m = ex.mention();
                let lang = match &m.lang {
                    Some(l) => l.clone(),
                    None => detector.detect(&m.text, None).code().to_owned(),
                };
                let fields = MentionFields {
                    text: &m.text,
                    title: m.title.as_deref(),
                    lang: &lang,
                    source: m.source.as_deref().unwrap_or_default(),
                    author: m.author.as_deref(),
                    url: m.url.as_deref(),
                };
                let (got, decided_by) = self.explain(i, &fields);
                if got != expected {
                    failures.push(ExampleFailure {
                        rule: rule.id.clone(),
                        place: rule
                            .example_places
                            .get(k)
                            .cloned()
                            .unwrap_or_else(|| rule.place.clone()),
                        text: m.text.clone(),
                        expected,
                        decided_by,
                    });
                }
            }
        }
        failures
    }

    /// Loads like [`RuleSet::load`] and also runs every example: the way the daemon
    /// accepts a rule set, at start and on reload. Failing examples are problems at the
    /// example's place.
    pub fn load_checked(paths: &[PathBuf], langs: &[Lang]) -> Result<RuleSet, RulesError> {
        let set = RuleSet::load(paths, langs)?;
        let failures = set.check_examples();
        if failures.is_empty() {
            return Ok(set);
        }
        Err(RulesError {
            problems: failures
                .into_iter()
                .map(|f| {
                    let mut p = f.place.clone();
                    let text = f.to_string();
                    // The message is everything after the `file:line:col: ` prefix.
                    let prefix = format!("{}:{}:{}: ", p.file, p.line, p.col);
                    p.msg = text.strip_prefix(&prefix).unwrap_or(&text).to_owned();
                    p
                })
                .collect(),
            io: Vec::new(),
        })
    }
}

/// The rule set in force. Reloads swap it whole; a reader keeps the set it took for as
/// long as it needs it, so a batch is matched against one set only.
pub struct ActiveRules {
    current: RwLock<Arc<RuleSet>>,
}

impl ActiveRules {
    /// Starts with `set`.
    pub fn new(set: RuleSet) -> ActiveRules {
        ActiveRules {
            current: RwLock::new(Arc::new(set)),
        }
    }

    /// Returns the set in force.
    pub fn get(&self) -> Arc<RuleSet> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Puts `set` in force.
    pub fn replace(&self, set: RuleSet) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(set);
    }
}

struct Parsed {
    spec: RuleSpec,
    place: Located,
    example_places: Vec<Located>,
    query: Option<Expr>,
    exclude: Vec<Expr>,
}

fn set_src(e: &mut Expr, src: u32) {
    e.src = src;
    match &mut e.node {
        Node::Not(x) => set_src(x, src),
        Node::And(xs) | Node::Or(xs) => xs.iter_mut().for_each(|x| set_src(x, src)),
        Node::Near { left, right, .. } => {
            set_src(left, src);
            set_src(right, src);
        }
        _ => {}
    }
}

/// Resolves rule `i`: its query AND NOT (its exclusions), references replaced.
fn resolve(
    i: usize,
    parsed: &[Parsed],
    ids: &HashMap<String, usize>,
    sources: &[QuerySource],
    done: &mut Vec<Option<Expr>>,
    stack: &mut Vec<usize>,
) -> Result<Expr, Box<Located>> {
    if let Some(e) = &done[i] {
        return Ok(e.clone());
    }
    let p = &parsed[i];
    let Some(query) = &p.query else {
        return Err(Box::new(p.place.clone()));
    };
    stack.push(i);
    let mut q = substitute(query, parsed, ids, sources, done, stack)?;
    if !p.exclude.is_empty() {
        let mut ex = Vec::new();
        for x in &p.exclude {
            ex.push(substitute(x, parsed, ids, sources, done, stack)?);
        }
        let span = ex.first().map_or(Span::default(), |e| e.span);
        let src = ex.first().map_or(q.src, |e| e.src);
        let excluded = if ex.len() == 1 {
            ex.remove(0)
        } else {
            Expr {
                node: Node::Or(ex),
                span,
                src,
            }
        };
        q = Expr {
            span: q.span,
            src: q.src,
            node: Node::And(vec![
                q,
                Expr {
                    node: Node::Not(Box::new(excluded)),
                    span,
                    src,
                },
            ]),
        };
    }
    stack.pop();
    done[i] = Some(q.clone());
    Ok(q)
}

fn substitute(
    e: &Expr,
    parsed: &[Parsed],
    ids: &HashMap<String, usize>,
    sources: &[QuerySource],
    done: &mut Vec<Option<Expr>>,
    stack: &mut Vec<usize>,
) -> Result<Expr, Box<Located>> {
    let sub = |x: &Expr, done: &mut Vec<Option<Expr>>, stack: &mut Vec<usize>| {
        substitute(x, parsed, ids, sources, done, stack)
    };
    let node = match &e.node {
        Node::Ref(id) => {
            let Some(&j) = ids.get(id) else {
                return Err(Box::new(
                    sources[e.src as usize].locate(e.span.start, format!("unknown rule {{{id}}}")),
                ));
            };
            if stack.contains(&j) {
                let cycle: Vec<&str> = stack
                    .iter()
                    .skip_while(|&&s| s != j)
                    .map(|&s| parsed[s].spec.id.as_str())
                    .chain([id.as_str()])
                    .collect();
                return Err(Box::new(sources[e.src as usize].locate(
                    e.span.start,
                    format!(
                        "rules reference each other in a cycle: {}",
                        cycle.join(" → ")
                    ),
                )));
            }
            return resolve(j, parsed, ids, sources, done, stack);
        }
        Node::Not(x) => Node::Not(Box::new(sub(x, done, stack)?)),
        Node::And(xs) => Node::And(
            xs.iter()
                .map(|x| sub(x, done, stack))
                .collect::<Result<_, _>>()?,
        ),
        Node::Or(xs) => Node::Or(
            xs.iter()
                .map(|x| sub(x, done, stack))
                .collect::<Result<_, _>>()?,
        ),
        Node::Near {
            left,
            right,
            slop,
            ordered,
        } => Node::Near {
            left: Box::new(sub(left, done, stack)?),
            right: Box::new(sub(right, done, stack)?),
            slop: *slop,
            ordered: *ordered,
        },
        n => n.clone(),
    };
    Ok(Expr {
        node,
        span: e.span,
        src: e.src,
    })
}

fn suggest<'a>(id: &str, known: impl Iterator<Item = &'a String>) -> String {
    let best = known
        .map(|k| (strsim::levenshtein(id, k), k))
        .filter(|(d, _)| *d <= 3)
        .min();
    match best {
        Some((_, k)) => format!(": did you mean {{{k}}}?"),
        None => String::new(),
    }
}

/// Returns the 1-based line and character column of byte `at`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, text[line_start..at].chars().count() + 1)
}

/// Maps each character of `s` (a YAML scalar's value) to its byte in `text`, searching
/// from `from`: characters must appear in order; whitespace in `s` matches any run of
/// whitespace and line breaks (folded and block scalars), and YAML escapes (`\"`, `''`)
/// are skipped. Returns (offset in `s`, offset in `text`) pairs, ending with one past
/// the last character; empty when `s` is not found.
fn align_from(text: &str, from: usize, s: &str) -> Vec<(usize, usize)> {
    let Some(first) = s.chars().find(|c| !c.is_whitespace()) else {
        return Vec::new();
    };
    let mut start = from.min(text.len());
    while let Some(i) = text[start..].find(first) {
        let candidate = start + i;
        if let Some(map) = align_at(text, candidate, s) {
            return map;
        }
        start = candidate + first.len_utf8();
    }
    Vec::new()
}

fn align_at(text: &str, at: usize, s: &str) -> Option<Vec<(usize, usize)>> {
    let mut map = Vec::with_capacity(s.len() + 1);
    let t = text.as_bytes();
    let mut j = at;
    let s_trim = s.trim_start();
    let lead = s.len() - s_trim.len();
    for (i, c) in s_trim.char_indices() {
        let i = i + lead;
        if c.is_whitespace() {
            map.push((i, j));
            while j < t.len() && t[j].is_ascii_whitespace() {
                j += 1;
            }
            continue;
        }
        // Skip YAML escapes and line-continuation indentation.
        loop {
            if text[j..].starts_with(c) {
                break;
            }
            match t.get(j) {
                Some(b'\\') | Some(b'\'') if text[j + 1..].starts_with(c) => j += 1,
                Some(b) if b.is_ascii_whitespace() => j += 1,
                _ => return None,
            }
        }
        map.push((i, j));
        j += c.len_utf8();
    }
    map.push((s.len(), j));
    Some(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(files: &[(&str, &str)]) -> Result<RuleSet, RulesError> {
        let files: Vec<(String, String)> = files
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        RuleSet::from_texts(&files, &[Lang::De, Lang::En])
    }

    const ACME: &str = r#"version: 1
rules:
  - id: acme
    kind: brand
    name: Acme
    query: '"acme bahn" OR #acme'
    exclude: ["{noise-jobs}"]
    examples:
      match: ["Die Acme Bahn ist zu spät"]
      no_match: ["Acme Bahn sucht Azubis (m/w/d)"]
  - id: noise-jobs
    kind: pack
    query: |
      azubi* OR "m/w/d"
      OR stellenangebot
"#;

    fn fields(text: &str) -> MentionFields<'_> {
        MentionFields {
            text,
            lang: "de",
            ..Default::default()
        }
    }

    #[test]
    fn loads_rules_resolves_references_and_runs_examples() {
        let set = load(&[("rules/acme.yaml", ACME)]).expect("loads");
        assert_eq!(set.rules().len(), 2);
        let ids: Vec<&str> = set
            .topics(&fields("Acme Bahn, again"))
            .iter()
            .map(|r| r.id.as_str())
            .collect();
        assert_eq!(ids, ["acme"]);
        assert!(set.topics(&fields("Acme Bahn: Azubis m/w/d")).is_empty());
        assert!(set.check_examples().is_empty());
    }

    #[test]
    fn query_errors_point_into_the_file() {
        let text = ACME.replace("'\"acme bahn\" OR #acme'", "'\"acme bahn\" OR (#acme'");
        let err = load(&[("rules/acme.yaml", &text)])
            .expect_err("broken")
            .to_string();
        assert!(
            err.starts_with("rules/acme.yaml:6:34: expected ')'"),
            "{err}"
        );
        let text = ACME.replace("      OR stellenangebot", "      OR stellen angebot");
        let err = load(&[("rules/acme.yaml", &text)])
            .expect_err("broken")
            .to_string();
        assert!(
            err.starts_with("rules/acme.yaml:15:18: expected AND"),
            "{err}"
        );
    }

    #[test]
    fn unknown_and_cyclic_references_are_errors() {
        let text = ACME.replace("{noise-jobs}", "{noise-job}");
        let err = load(&[("r.yaml", &text)]).expect_err("unknown").to_string();
        assert!(
            err.contains("r.yaml:7:16: unknown rule {noise-job}: did you mean {noise-jobs}?"),
            "{err}"
        );
        let text = ACME.replace("azubi* OR", "{acme} OR azubi* OR");
        let err = load(&[("r.yaml", &text)]).expect_err("cycle").to_string();
        assert!(err.contains("cycle: acme → noise-jobs → acme"), "{err}");
    }

    #[test]
    fn failing_examples_name_the_deciding_clause() {
        let text = ACME.replace("Die Acme Bahn ist zu spät", "Acme ist zu spät");
        let set = load(&[("r.yaml", &text)]).expect("loads");
        let failures = set.check_examples();
        assert_eq!(failures.len(), 1);
        let f = failures[0].to_string();
        assert!(
            f.starts_with("r.yaml:9:16: rule \"acme\" should match but does not"),
            "{f}"
        );
        assert!(
            f.contains("r.yaml:6:13: `\"acme bahn\"` did not match"),
            "{f}"
        );
        assert!(f.contains("r.yaml:6:28: `#acme` did not match"), "{f}");
    }

    #[test]
    fn duplicate_ids_and_missing_names_are_reported_together() {
        let text = format!(
            "{ACME}  - id: acme\n    kind: brand\n    query: x\n  - id: other\n    kind: brand\n    query: y\n"
        );
        let err = load(&[("r.yaml", &text)]).expect_err("dup").to_string();
        assert!(
            err.contains("r.yaml:16:9: duplicate rule id \"acme\""),
            "{err}"
        );
        assert!(err.contains("needs a name"), "{err}");
    }
}
