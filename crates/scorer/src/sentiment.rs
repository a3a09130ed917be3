//! Lexicon-and-rules sentiment for German and English, in the spirit of VADER.
//!
//! A post is decoded and tokenized ([`crate::social`]), each word looked up
//! ([`crate::lexicon`]), then rules adjust what was found, each leaving a cue in the
//! explanation:
//!
//! - **negation** (`nicht`, `kein`, `nie`, `not`, `never`, `n't`) within three words
//!   before, in the same clause, scales by −0.74; German also negates from behind at a
//!   clause's end (`gefällt mir nicht`);
//! - **intensifiers** (`sehr`, `total`, `extrem`) ×1.3 each, **dampeners** (`kaum`,
//!   `etwas`) ×0.6;
//! - **emphasis**: capitals ×1.3, stretched letters ×1.2, up to three `!` add 0.2 each;
//! - **contrast**: in a sentence with `aber`/`but`/`jedoch` opening a clause, what comes
//!   before counts half, what follows one and a half;
//! - **questions and hedges** (`?`, `wenn`, `vielleicht`, `if`, `maybe`) count 0.6;
//! - **sarcasm** typical of complaints flips the praise: an opening `Toll,`/`Great,`
//!   followed by something bad or `wieder`/`again`; `danke für`/`thanks for` + something
//!   bad; `love waiting`; and lexicon phrases such as `danke für nichts`;
//! - emoticons and emoji carry their own valence in any language.
//!
//! The sum `x` becomes a score `x / √(x² + 15)` in `[-1, 1]` (VADER's normalisation) and
//! a label through the language's neutral band.
//!
//! Cost: one pass to tokenize, one lookup per word (cached per thread), and rules that
//! look at most four tokens around a hit.

use rustc_hash::FxHashMap as HashMap;
use std::ops::Range;

use lauscher_config::{NeutralBand, SentimentConfig, UserLexicon};
use lauscher_model::Lang;
use lauscher_model::{Contribution, Label, Sentiment};

use crate::lexicon::{Entry, Lexicon, Via};
use crate::pack::LangRules;
use crate::service::{ServiceCues, ServiceHit};
use lauscher_text::social::{self, Kind, PostToken};

/// Scales a negated valence (VADER's constant).
const NEGATION: f32 = -0.74;
/// Words before a hit that a negator reaches.
const NEGATION_SCOPE: usize = 3;
/// Scales a hit after an intensifier.
const BOOST: f32 = 1.3;
/// Scales a hit after a dampener.
const DAMPEN: f32 = 0.6;
/// Scales a word written in capitals when the post is not all capitals.
const CAPS: f32 = 1.3;
/// Scales a word with stretched letters.
const ELONGATED: f32 = 1.2;
/// Added per `!` (at most [`MAX_BANGS`]) in the direction of the sum.
const BANG: f32 = 0.2;
/// The most `!` that count.
const MAX_BANGS: usize = 3;
/// Scales hits in a sentence before its contrast word.
const BEFORE_CONTRAST: f32 = 0.5;
/// Scales hits in a sentence after its contrast word.
const AFTER_CONTRAST: f32 = 1.5;
/// Scales hits in a question or a hedged clause.
const HEDGED: f32 = 0.7;
/// The extra weight of a sarcasm pattern on top of the flipped praise.
const SARCASM: f32 = -1.0;
/// Scales every hit of a post that shares a link.
const LINK_SHARE: f32 = 0.7;
/// Scales every word hit of a report: a headline or third-person news is the article's
/// sentiment, not the author's.
const REPORT: f32 = 0.5;
/// Scales a service cue in a report on top of [`REPORT`]: "Züge fallen aus" in a
/// headline is news of a failure, not a customer failed.
const REPORTED_EVENT: f32 = 0.6;
/// VADER's normalisation constant: score = x / √(x² + α).
const ALPHA: f32 = 15.0;
/// The neutral band of a language the config sets none for: its pack's
/// ([`crate::pack::LanguagePack::band`]), else English's.
pub fn default_band(lang: Option<Lang>) -> NeutralBand {
    lang.and_then(crate::pack::of)
        .unwrap_or(&crate::pack::en::PACK)
        .band
}

/// Role bits of a word in [`PostToken::role`].
mod role {
    pub const NEGATOR: u16 = 1;
    pub const BOOSTER: u16 = 1 << 1;
    pub const DAMPENER: u16 = 1 << 2;
    pub const CONTRAST: u16 = 1 << 3;
    pub const HEDGE: u16 = 1 << 4;
    pub const OPENER: u16 = 1 << 5;
    pub const AGAIN: u16 = 1 << 6;
    pub const THANKS: u16 = 1 << 7;
    pub const THANKS_FOR: u16 = 1 << 8;
    pub const LIKING: u16 = 1 << 9;
    pub const WAITING: u16 = 1 << 10;
    pub const PERSON: u16 = 1 << 11;
    pub const REPORTING: u16 = 1 << 12;
    pub const VERB_ONLY: u16 = 1 << 13;
    pub const SUBJECT: u16 = 1 << 14;
}

impl LangRules {
    /// Word → role bits, for [`PostToken::role`].
    fn roles(&self) -> HashMap<&'static str, u16> {
        let mut map: HashMap<&'static str, u16> = HashMap::default();
        for (list, bit) in [
            (self.negators, role::NEGATOR),
            (self.boosters, role::BOOSTER),
            (self.dampeners, role::DAMPENER),
            (self.contrast, role::CONTRAST),
            (self.hedges, role::HEDGE),
            (self.openers, role::OPENER),
            (self.again, role::AGAIN),
            (self.thanks, role::THANKS),
            (self.thanks_for, role::THANKS_FOR),
            (self.liking, role::LIKING),
            (self.waiting, role::WAITING),
            (self.persons, role::PERSON),
            (self.reporting, role::REPORTING),
            (self.verb_only, role::VERB_ONLY),
            (self.subjects, role::SUBJECT),
        ] {
            for w in list {
                *map.entry(w).or_default() |= bit;
            }
        }
        map
    }
}

fn rules(lang: Lang) -> Option<&'static LangRules> {
    crate::pack::of(lang).map(|p| &p.rules)
}

/// One cue that moved the score, tied to the token it sits on.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// Index of the token in [`Analysis::tokens`].
    pub token: usize,
    /// What fired, readable (`nicht… gut`, `sarcasm: toll … wieder`).
    pub cue: String,
    /// How much it moved the raw sum.
    pub weight: f32,
    /// The service cue's kind, when a service cue fired.
    pub service: Option<lauscher_config::ServiceKind>,
}

/// A scored post: its tokens, clauses and every cue, so parts can be re-scored (target
/// sentiment) and intent can read the same tokens.
#[derive(Clone, Debug)]
pub struct Analysis {
    /// The decoded text the token spans point into.
    pub text: String,
    /// The tokens of the decoded text.
    pub tokens: Vec<PostToken>,
    /// Token ranges of clauses (split at punctuation), in order.
    pub clauses: Vec<Range<usize>>,
    /// Every cue, in token order.
    pub hits: Vec<Hit>,
    /// The raw sum of the hits.
    pub sum: f32,
    /// The language scored (`None`: only emoji and emoticons counted).
    pub lang: Option<Lang>,
    /// Service-failure cues, in token order.
    pub service: Vec<ServiceHit>,
    /// Why the post reads as a report about someone (a headline, a shared link without
    /// a first or second person), when it does.
    pub report: Option<String>,
}

impl Analysis {
    /// The clause index of token `i`; punctuation belongs to the clause it closes, so
    /// a `!` hit counts for the clause before it.
    pub fn clause_of(&self, i: usize) -> Option<usize> {
        self.clauses.iter().rposition(|c| c.start <= i)
    }

    /// The text of clause `c`, as decoded.
    pub fn clause_text(&self, c: usize) -> &str {
        let r = &self.clauses[c];
        let start = self.tokens[r.start].span.start;
        let end = self.tokens[r.end - 1].span.end;
        &self.text[start..end]
    }

    /// The clause indexes grouped by sentence.
    pub fn sentences(&self) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        let mut first = 0;
        for (c, r) in self.clauses.iter().enumerate() {
            let closes = self.tokens.get(r.end).is_none_or(PostToken::ends_sentence);
            if closes {
                out.push(first..c + 1);
                first = c + 1;
            }
        }
        if first < self.clauses.len() {
            out.push(first..self.clauses.len());
        }
        out
    }
}

/// Scores text in `[-1, 1]` with an explanation of the cues that moved it.
pub struct SentimentScorer {
    lexicons: HashMap<Lang, Lexicon>,
    service: HashMap<Lang, ServiceCues>,
    roles: HashMap<Lang, HashMap<&'static str, u16>>,
    bands: HashMap<Lang, NeutralBand>,
}

impl SentimentScorer {
    /// Builds the scorer for `langs` with `config`'s bands and user lexicons. Languages
    /// without a lexicon score only emoji and emoticons.
    pub fn new(langs: &[Lang], config: &SentimentConfig) -> SentimentScorer {
        let mut lexicons = HashMap::default();
        let mut bands = HashMap::default();
        let mut roles = HashMap::default();
        let mut service = HashMap::default();
        for &lang in langs {
            if let Some(cues) = ServiceCues::bundled(lang, &config.user_lexicons) {
                service.insert(lang, cues);
            }
            if let Some(r) = rules(lang) {
                roles.insert(lang, r.roles());
            }
            if let Some(lex) = Lexicon::bundled(lang, &config.user_lexicons) {
                lexicons.insert(lang, lex);
            }
            let band = config
                .neutral_band
                .get(lang.code())
                .copied()
                .unwrap_or_else(|| default_band(Some(lang)));
            bands.insert(lang, band);
        }
        SentimentScorer {
            lexicons,
            service,
            roles,
            bands,
        }
    }

    /// Builds the scorer with default bands and the given user lexicons.
    pub fn with_lexicons(langs: &[Lang], user: Vec<UserLexicon>) -> SentimentScorer {
        let config = SentimentConfig {
            user_lexicons: user,
            ..SentimentConfig::default()
        };
        SentimentScorer::new(langs, &config)
    }

    /// Scores `text` in `lang` (`None`: undetermined, only emoji count).
    pub fn score(&self, text: &str, lang: Option<Lang>) -> Sentiment {
        let analysis = self.analyse(text, lang);
        self.sentiment(&analysis, None)
    }

    /// The neutral band used for `lang`.
    pub fn band(&self, lang: Option<Lang>) -> NeutralBand {
        lang.and_then(|l| self.bands.get(&l).copied())
            .unwrap_or_else(|| default_band(lang))
    }

    /// The label of `score` in `lang`.
    pub fn label(&self, score: f32, lang: Option<Lang>) -> Label {
        let band = self.band(lang);
        if score > band.positive {
            Label::Positive
        } else if score < -band.negative {
            Label::Negative
        } else {
            Label::Neutral
        }
    }

    /// Turns an analysis (or the hits of some of its clauses) into a scored label.
    pub fn sentiment(&self, analysis: &Analysis, clauses: Option<&[usize]>) -> Sentiment {
        let keep = |h: &&Hit| match clauses {
            None => true,
            Some(cs) => analysis.clause_of(h.token).is_some_and(|c| cs.contains(&c)),
        };
        let hits: Vec<&Hit> = analysis.hits.iter().filter(keep).collect();
        let sum: f32 = hits.iter().map(|h| h.weight).sum();
        let score = normalise(sum);
        let label = self.label(score, analysis.lang);
        let mut explanation: Vec<Contribution> = hits
            .iter()
            .map(|h| Contribution {
                cue: h.cue.clone(),
                weight: h.weight,
            })
            .collect();
        explanation.sort_by(|a, b| b.weight.abs().total_cmp(&a.weight.abs()));
        Sentiment {
            score,
            label,
            explanation,
        }
    }

    /// Tokenizes and scores `text`, keeping every cue with its token.
    pub fn analyse(&self, text: &str, lang: Option<Lang>) -> Analysis {
        self.analyse_about(text, lang, &TopicWords::default())
    }

    /// Returns whether the lowercase `word` only evaluates in `lang`: a sentiment entry
    /// (as written or by stem, not through a compound) that names no service problem,
    /// or a negator, intensifier, hedge or other rule word.
    pub fn is_evaluative(&self, lang: Lang, word: &str) -> bool {
        if self.roles.get(&lang).is_some_and(|r| {
            r.get(word)
                .is_some_and(|&bits| bits & !(role::PERSON | role::REPORTING) != 0)
        }) {
            return true;
        }
        let entry = self.lexicons.get(&lang).is_some_and(|l| l.is_entry(word));
        entry
            && !self
                .service
                .get(&lang)
                .is_some_and(|s| s.names_problem(word))
    }

    /// Returns whether the lowercase pair is a two-word service cue of `lang`.
    pub fn is_service_term(&self, lang: Lang, first: &str, second: &str) -> bool {
        self.service
            .get(&lang)
            .is_some_and(|s| s.is_term(first, second))
    }

    /// [`SentimentScorer::analyse`] for a post about topics: the words of `topics`' own
    /// rules (a brand called "United", a handle, a place name) carry no sentiment.
    pub fn analyse_about(&self, text: &str, lang: Option<Lang>, topics: &TopicWords) -> Analysis {
        let decoded = social::decode(text);
        let mut tokens = social::tokens(&decoded);
        if let Some(roles) = lang.and_then(|l| self.roles.get(&l)) {
            for t in tokens.iter_mut().filter(|t| t.is_word()) {
                t.role = roles.get(t.text.as_str()).copied().unwrap_or(0);
                if lang == Some(Lang::En) && t.text.ends_with("n't") {
                    t.role |= role::NEGATOR;
                }
            }
        }
        let clauses = clauses(&tokens);
        let lex = lang.and_then(|l| self.lexicons.get(&l));
        let mut hits = Vec::new();
        let all_caps = !decoded.chars().any(char::is_lowercase);
        let mut clause_of = vec![usize::MAX; tokens.len()];
        for (c, r) in clauses.iter().enumerate() {
            clause_of[r.clone()].iter_mut().for_each(|x| *x = c);
        }
        let mut consumed = vec![false; tokens.len()];
        for (i, t) in tokens.iter().enumerate() {
            if t.is_word() && topics.contains(&t.text) {
                consumed[i] = true;
            }
        }
        let service = match lang.and_then(|l| self.service.get(&l)) {
            Some(cues) => cues.find(&tokens, &clause_of),
            None => Vec::new(),
        };
        // Service cues may hold a topic's generic words ("no air conditioning" about
        // Acme Air): they tell of a failure, not of the name.
        for s in &service {
            for &m in &s.matched {
                consumed[m] = true;
            }
            hits.push(Hit {
                token: s.token,
                cue: s.cue.clone(),
                weight: s.weight,
                service: Some(s.kind),
            });
        }
        for i in 0..tokens.len() {
            if consumed[i] {
                continue;
            }
            let t = &tokens[i];
            match t.kind {
                Kind::Emoticon => push(&mut hits, i, t.text.clone(), emoticon_valence(&t.text)),
                Kind::Emoji => {
                    let v = t.text.chars().next().map_or(0.0, emoji_valence);
                    push(&mut hits, i, t.text.clone(), v);
                }
                Kind::Word | Kind::Tag => {
                    if let Some(lex) = lex
                        && let Some(hit) = word_hit(
                            lex,
                            &tokens,
                            &clause_of,
                            i,
                            all_caps,
                            &mut consumed,
                            is_name(&decoded, &tokens, i, lex.lang()),
                        )
                    {
                        hits.push(hit);
                    }
                }
                _ => {}
            }
        }
        if lex.is_some() {
            sarcasm(&tokens, &clause_of, &mut hits);
            sentence_rules(&tokens, &clauses, &mut hits);
        }
        // Posts that share a link are mostly headlines and teasers: what they say is
        // the article's, not the author's feeling; a report (no first or second person,
        // a link, a reporting word or a headline's colon) even less.
        let report = report(&tokens);
        let link = tokens.iter().any(|t| t.kind == Kind::Url);
        let (scale, note) = match (&report, link) {
            (Some(_), _) => (REPORT, " (report)"),
            (None, true) => (LINK_SHARE, " (link share)"),
            (None, false) => (1.0, ""),
        };
        if scale != 1.0 {
            // Emoji and emoticons are the author's own, whatever they share.
            for h in hits
                .iter_mut()
                .filter(|h| !matches!(tokens[h.token].kind, Kind::Emoji | Kind::Emoticon))
            {
                // A report's failures are events it tells of, not the author's plight.
                let events = if report.is_some() && h.service.is_some() {
                    REPORTED_EVENT
                } else {
                    1.0
                };
                h.weight *= scale * events;
                h.cue.push_str(note);
            }
        }
        let mut sum: f32 = hits.iter().map(|h| h.weight).sum();
        if sum != 0.0 {
            let bangs: usize = tokens
                .iter()
                .filter(|t| t.kind == Kind::Punct && t.text == "!")
                .map(|t| usize::from(t.repeat))
                .sum::<usize>()
                .min(MAX_BANGS);
            if bangs > 0 {
                let w = BANG * bangs as f32 * sum.signum();
                let at = tokens
                    .iter()
                    .rposition(|t| t.kind == Kind::Punct && t.text == "!")
                    .unwrap_or(0);
                hits.push(Hit {
                    token: at,
                    cue: "!".repeat(bangs),
                    weight: w,
                    service: None,
                });
                sum += w;
            }
        }
        hits.sort_by_key(|h| h.token);
        Analysis {
            text: decoded.into_owned(),
            tokens,
            clauses,
            hits,
            sum,
            lang,
            service,
            report,
        }
    }
}

/// The words of the topics a post matched, folded: they name what is talked about, so
/// they never carry sentiment in it.
#[derive(Clone, Debug, Default)]
pub struct TopicWords {
    exact: std::collections::HashSet<String>,
    prefixes: Vec<String>,
}

impl TopicWords {
    /// Adds a word (folded); a trailing `*` makes it a prefix.
    pub fn add(&mut self, word: &str) {
        let folded = lauscher_text::fold(word);
        match folded.strip_suffix('*') {
            Some(p) if p.chars().count() >= 3 => self.prefixes.push(p.to_owned()),
            Some(_) => {}
            None if !folded.is_empty() => {
                self.exact.insert(folded);
            }
            None => {}
        }
    }

    /// Returns whether the lowercase token `word` is a topic word.
    pub fn contains(&self, word: &str) -> bool {
        if self.exact.is_empty() && self.prefixes.is_empty() {
            return false;
        }
        let folded;
        let w = if word.is_ascii() {
            word
        } else {
            folded = lauscher_text::fold(word);
            folded.as_str()
        };
        self.exact.contains(w) || self.prefixes.iter().any(|p| w.starts_with(p.as_str()))
    }
}

/// Tells a report about someone from a post by someone: no first- or second-person word
/// and no handle addressed, and a shared link, a reporting word (`laut`, `according`),
/// or a headline's colon after a short lead (`Streik bei der Bahn: …`).
fn report(tokens: &[PostToken]) -> Option<String> {
    let personal = tokens
        .iter()
        .any(|t| t.role & role::PERSON != 0 || t.kind == Kind::Handle && t.span.start == 0);
    if personal
        || tokens
            .iter()
            .any(|t| t.kind == Kind::Punct && t.text == "?")
    {
        return None;
    }
    if tokens.iter().any(|t| t.kind == Kind::Url) {
        return Some("report: a link without first or second person".into());
    }
    if let Some(t) = tokens.iter().find(|t| t.role & role::REPORTING != 0) {
        return Some(format!("report: {}", t.text));
    }
    let lead = tokens
        .iter()
        .position(|t| t.kind == Kind::Punct && t.text == ":")
        .filter(|&i| (3..=8).contains(&tokens[..i].iter().filter(|t| t.is_word()).count()));
    lead.map(|_| "report: headline".into())
}

/// `x / √(x² + α)`, clamped to `[-1, 1]`.
pub fn normalise(sum: f32) -> f32 {
    (sum / (sum * sum + ALPHA).sqrt()).clamp(-1.0, 1.0)
}

fn push(hits: &mut Vec<Hit>, token: usize, cue: String, weight: f32) {
    if weight != 0.0 {
        hits.push(Hit {
            token,
            cue,
            weight,
            service: None,
        });
    }
}

/// Clauses end at punctuation; each hashtag is a clause of its own (`#NeverAgain
/// #WorstServiceEver` must not negate across tags).
fn clauses(tokens: &[PostToken]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        let new_tag = i > start
            && (t.kind == Kind::Tag || tokens[i - 1].kind == Kind::Tag)
            && !(t.kind == Kind::Tag
                && tokens[i - 1].kind == Kind::Tag
                && tokens[i - 1].span.end == t.span.start);
        if new_tag {
            out.push(start..i);
            start = i;
        }
        if t.ends_clause() {
            if i > start {
                out.push(start..i);
            }
            start = i + 1;
        }
    }
    if tokens.len() > start {
        out.push(start..tokens.len());
    }
    out
}

/// The word tokens of clause `c` before `i`, nearest first, at most `n`.
fn words_before<'t>(
    tokens: &'t [PostToken],
    clause_of: &[usize],
    i: usize,
    n: usize,
) -> impl Iterator<Item = (usize, &'t PostToken)> {
    let c = clause_of[i];
    (0..i)
        .rev()
        .take_while(move |&j| clause_of[j] == c)
        .filter(|&j| tokens[j].is_word())
        .take(n)
        .map(move |j| (j, &tokens[j]))
}

/// Scores word `i` (or a phrase starting there) with its modifiers.
/// Returns whether the word before token `i`, in its clause, is a subject, an
/// auxiliary or a negator: `i` is used as a verb.
fn after_subject(tokens: &[PostToken], clause_of: &[usize], i: usize) -> bool {
    i > 0
        && clause_of[i - 1] == clause_of[i]
        && tokens[i - 1].is_word()
        && tokens[i - 1].role & (role::SUBJECT | role::NEGATOR) != 0
}

fn word_hit(
    lex: &Lexicon,
    tokens: &[PostToken],
    clause_of: &[usize],
    i: usize,
    all_caps: bool,
    consumed: &mut [bool],
    name: bool,
) -> Option<Hit> {
    let t = &tokens[i];
    let word = t.text.as_str();
    let (valence, mut cue) = match phrase_at(lex, tokens, i) {
        Some((valence, end)) => {
            let cue = tokens[i..end]
                .iter()
                .filter(|t| t.is_word())
                .map(|t| t.text.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            consumed[i..end].iter_mut().for_each(|c| *c = true);
            (valence, cue)
        }
        None => {
            // A modifier modifies the word after it; at a clause's end some carry
            // sentiment of their own ("das war furchtbar").
            let modifies = tokens.get(i + 1).is_some_and(PostToken::is_word);
            if t.role & role::NEGATOR != 0
                || (modifies && t.role & (role::BOOSTER | role::DAMPENER) != 0)
            {
                return None;
            }
            // A stretched word ("guut") was cut to double letters; try single ones too.
            // A hashtag's words are looked up only as whole entries: a tag is a name
            // (`#Dulles`), never stemmed or split.
            if t.kind == Kind::Tag || name {
                let Entry { valence, .. } = lex.lookup_exact(word)?;
                return Some(Hit {
                    token: i,
                    cue: if name {
                        word.to_owned()
                    } else {
                        format!("#{word}")
                    },
                    weight: valence,
                    service: None,
                });
            }
            let found = lex.lookup(word).or_else(|| {
                (t.repeat > 0)
                    .then(|| crate::lexicon::shorten(word))
                    .flatten()
                    .and_then(|w| lex.lookup(&w))
            });
            let Entry { valence, via } = found?;
            if t.role & role::VERB_ONLY != 0 && !after_subject(tokens, clause_of, i) {
                return None;
            }
            let cue = match via {
                Via::Word => word.to_owned(),
                Via::Spelling(s) => format!("{word} (= {s})"),
                Via::Stem(s) => format!("{word} (stem {s})"),
                Via::Un(rest) => format!("{word} (un- + {rest})"),
                Via::Compound(parts) => format!("{word} (compound {parts})"),
            };
            (valence, cue)
        }
    };
    let mut v = valence;
    let before: Vec<(usize, &PostToken)> =
        words_before(tokens, clause_of, i, NEGATION_SCOPE).collect();
    for (_, b) in before.iter().take(2) {
        if b.role & role::BOOSTER != 0 {
            v *= BOOST;
            cue = format!("{} {cue}", b.text);
        } else if b.role & role::DAMPENER != 0 {
            v *= DAMPEN;
            cue = format!("{} {cue}", b.text);
        }
    }
    let negator = before
        .iter()
        .find(|(j, b)| {
            b.role & role::NEGATOR != 0
                // A negator a service cue or a phrase already holds ("still no
                // refund") told its own story; it negates nothing more.
                && !consumed[*j]
                // "nicht nur", "not only" do not negate.
                && !tokens
                    .get(j + 1)
                    .is_some_and(|n| matches!(n.text.as_str(), "nur" | "only" | "just"))
        })
        .map(|(_, b)| b.text.clone())
        .or_else(|| trailing_negator(lex, tokens, i));
    if let Some(n) = negator {
        v *= NEGATION;
        cue = format!("{n}… {cue}");
    }
    if t.caps && !all_caps {
        v *= CAPS;
        cue.push_str(" (caps)");
    }
    if t.repeat > 0 {
        v *= ELONGATED;
        cue.push_str(" (stretched)");
    }
    Some(Hit {
        token: i,
        cue,
        weight: v,
        service: None,
    })
}

/// German negates from behind at a clause's end: "Das gefällt mir nicht".
fn trailing_negator(lex: &Lexicon, tokens: &[PostToken], i: usize) -> Option<String> {
    if lex.lang() != Lang::De {
        return None;
    }
    let rest: Vec<&PostToken> = tokens[i + 1..]
        .iter()
        .take_while(|t| t.kind != Kind::Punct)
        .filter(|t| t.is_word())
        .collect();
    let (last, between) = rest.split_last()?;
    let last = if last.text == "mehr" {
        between.last()?
    } else {
        last
    };
    let is_neg = matches!(last.text.as_str(), "nicht" | "nie" | "niemals");
    let plain = between.len() <= 4
        && between
            .iter()
            .all(|t| t.role & role::NEGATOR != 0 || lex.lookup(&t.text).is_none());
    (is_neg && plain).then(|| last.text.clone())
}

/// Matches a lexicon phrase starting at token `i`, skipping commas between its words.
fn phrase_at(lex: &Lexicon, tokens: &[PostToken], i: usize) -> Option<(f32, usize)> {
    'phrases: for p in lex.phrases(&tokens[i].text) {
        let mut j = i + 1;
        for w in &p.words[1..] {
            while tokens
                .get(j)
                .is_some_and(|t| t.kind == Kind::Punct && t.text == ",")
            {
                j += 1;
            }
            match tokens.get(j) {
                Some(t) if t.is_word() && t.text == *w => j += 1,
                _ => continue 'phrases,
            }
        }
        return Some((p.valence, j));
    }
    None
}

/// Something bad for the sarcasm rules: a clearly negative word, a wait, or a clear
/// failure (not a request, not a mild cue such as "rebooked" or "Erstattung").
fn is_bad(h: &Hit) -> bool {
    use lauscher_config::ServiceKind;
    match h.service {
        None => h.weight <= -0.7,
        Some(ServiceKind::Request) => false,
        Some(ServiceKind::Waiting) => h.weight < 0.0,
        Some(_) => h.weight <= -1.0,
    }
}

/// An English word written with a capital inside a sentence is a name (`Dulles`, `Gate
/// Best`): it is looked up only as a whole entry, never by stem. German capitalises
/// every noun, so there it tells nothing.
fn is_name(text: &str, tokens: &[PostToken], i: usize, lang: Lang) -> bool {
    let t = &tokens[i];
    if lang != Lang::En || t.kind != Kind::Word || t.caps {
        return false;
    }
    let starts_upper = text[t.span.clone()]
        .chars()
        .next()
        .is_some_and(char::is_uppercase);
    let inside = tokens[..i]
        .iter()
        .rev()
        .find(|p| p.kind != Kind::Handle)
        .is_some_and(|p| p.is_word());
    starts_upper && inside
}

/// The sarcasm patterns of complaints; each flips the praise it found and adds
/// [`SARCASM`].
fn sarcasm(tokens: &[PostToken], clause_of: &[usize], hits: &mut [Hit]) {
    let negative_after = |hits: &[Hit], i: usize| hits.iter().any(|h| h.token > i && is_bad(h));
    let again_after = |i: usize| {
        tokens[i + 1..]
            .iter()
            .filter(|t| t.is_word())
            .take(6)
            .any(|t| t.role & role::AGAIN != 0)
    };
    let mut flips: Vec<(usize, String)> = Vec::new();
    for (k, h) in hits.iter().enumerate() {
        if h.weight <= 0.0
            || tokens[h.token].kind != Kind::Word && tokens[h.token].kind != Kind::Tag
        {
            continue;
        }
        let i = h.token;
        let word = tokens[i].text.as_str();
        // An opening "Toll," / "Great," then something bad or "again".
        let sentence_start = (0..i)
            .rev()
            .take_while(|&j| !tokens[j].ends_sentence())
            .all(|j| !tokens[j].is_word() || tokens[j].role & role::OPENER != 0);
        let then_pause = tokens.get(i + 1).is_some_and(|t| {
            t.kind == Kind::Punct && matches!(t.text.as_str(), "," | "!" | "…" | "." | ":")
        });
        if sentence_start && then_pause && (negative_after(hits, i) || again_after(i)) {
            flips.push((
                k,
                format!("sarcasm: {word}, … {}", after_word(tokens, hits, i)),
            ));
            continue;
        }
        // "danke für die Verspätung", "thanks for the delay".
        if tokens[i].role & role::THANKS != 0 {
            let window: Vec<(usize, &PostToken)> = tokens
                .iter()
                .enumerate()
                .skip(i + 1)
                .take_while(|(j, _)| clause_of[*j] == clause_of[i])
                .filter(|(_, t)| t.is_word())
                .take(5)
                .collect();
            let has_for = window
                .first()
                .is_some_and(|(_, t)| t.role & role::THANKS_FOR != 0);
            let bad = window.iter().find(|(j, t)| {
                hits.iter().any(|h| h.token == *j && is_bad(h)) || t.role & role::AGAIN != 0
            });
            if let (true, Some((_, t))) = (has_for, bad) {
                flips.push((k, format!("sarcasm: {word} for … {}", t.text)));
                continue;
            }
        }
        // "love waiting", "liebe es zu warten".
        if tokens[i].role & role::LIKING != 0 {
            let waiting = tokens[i + 1..]
                .iter()
                .filter(|t| t.is_word())
                .take(3)
                .find(|t| t.role & role::WAITING != 0);
            if let Some(w) = waiting {
                flips.push((k, format!("sarcasm: {word} … {}", w.text)));
            }
        }
    }
    for (k, cue) in flips {
        let h = &mut hits[k];
        h.weight = -h.weight.abs() + SARCASM;
        h.cue = cue;
    }
}

fn after_word(tokens: &[PostToken], hits: &[Hit], i: usize) -> String {
    hits.iter()
        .find(|h| h.token > i && h.weight < 0.0)
        .map(|h| tokens[h.token].text.clone())
        .or_else(|| {
            tokens[i + 1..]
                .iter()
                .find(|t| t.role & role::AGAIN != 0)
                .map(|t| t.text.clone())
        })
        .unwrap_or_default()
}

/// Contrast, questions and hedges, per sentence and clause.
fn sentence_rules(tokens: &[PostToken], clauses: &[Range<usize>], hits: &mut [Hit]) {
    let mut start = 0;
    let n = tokens.len();
    while start < n {
        let end = (start..n)
            .find(|&j| tokens[j].ends_sentence())
            .map_or(n, |j| j + 1);
        let is_question = tokens[end - 1].kind == Kind::Punct && tokens[end - 1].text == "?";
        // The last contrast word that opens a clause.
        let contrast = clauses
            .iter()
            .filter(|c| c.start >= start && c.start < end)
            .filter_map(|c| {
                tokens[c.clone()]
                    .iter()
                    .position(PostToken::is_word)
                    .map(|p| c.start + p)
            })
            .rfind(|&j| tokens[j].role & role::CONTRAST != 0);
        for h in hits.iter_mut().filter(|h| (start..end).contains(&h.token)) {
            match contrast {
                Some(c) if h.token < c => {
                    h.weight *= BEFORE_CONTRAST;
                    h.cue = format!("{} (before {})", h.cue, tokens[c].text);
                }
                Some(c) if h.token > c => {
                    h.weight *= AFTER_CONTRAST;
                    h.cue = format!("{} (after {})", h.cue, tokens[c].text);
                }
                _ => {}
            }
            let clause = clauses.iter().find(|c| c.contains(&h.token));
            let hedged =
                clause.is_some_and(|c| tokens[c.clone()].iter().any(|t| t.role & role::HEDGE != 0));
            if is_question || hedged {
                h.weight *= HEDGED;
                h.cue.push_str(if is_question {
                    " (question)"
                } else {
                    " (hedged)"
                });
            }
        }
        start = end;
    }
}

/// Valence of an ASCII emoticon.
pub fn emoticon_valence(e: &str) -> f32 {
    match e {
        ":-))" | ":))" | ":D" | ":-D" | "=D" | "xD" | "XD" | "<3" => 2.2,
        ":-)" | ":)" | "=)" | "^^" | "^_^" | ":*" | ":-*" => 1.8,
        ";-)" | ";)" | ";D" | ":P" | ":p" | ":-P" | ":-p" => 1.2,
        ":-((" | ":((" | ":'(" | ":'-(" | ">:(" | ">:-(" | "</3" => -2.2,
        ":-(" | ":(" | "=(" | ":@" => -1.9,
        ":/" | ":-/" | ":S" | ":|" | ":-|" | ";-(" => -1.0,
        _ => 0.0,
    }
}

/// Valence of an emoji.
pub fn emoji_valence(c: char) -> f32 {
    match c {
        '😡' | '🤬' | '😠' | '👎' | '💩' | '🖕' => -2.4,
        '😭' | '😢' | '😞' | '😩' | '😫' | '😤' | '💔' | '😿' | '😰' | '😨' | '😱' => {
            -1.9
        }
        '☹' | '🙁' | '😒' | '😔' | '😟' | '😕' | '🙄' | '😑' | '🤮' | '🤢' | '😖' | '😣' => {
            -1.5
        }
        '😐' | '😬' | '🤦' | '🤷' | '⚠' | '🚫' | '❌' | '🐌' => -0.8,
        '😍' | '🥰' | '😻' | '💕' | '💖' | '💗' | '💞' | '💘' | '❤' | '♥' | '😘' => {
            2.5
        }
        '😂' | '🤣' | '😆' | '😁' | '😄' | '😃' | '😀' | '🥳' | '🎉' | '🎊' | '🙌' | '👏' => {
            2.0
        }
        '😊' | '🙂' | '☺' | '😉' | '😎' | '👍' | '💪' | '✨' | '🌞' | '☀' | '🌸' | '🌷' => {
            1.6
        }
        '🙏' | '👌' | '✌' | '🤗' | '😇' | '🍀' | '🌈' | '⭐' | '🌟' | '✅' | '💯' | '🔥' => {
            1.4
        }
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scorer() -> SentimentScorer {
        SentimentScorer::with_lexicons(&[Lang::De, Lang::En], Vec::new())
    }

    fn label(text: &str, lang: Lang) -> Label {
        scorer().score(text, Some(lang)).label
    }

    fn score(text: &str, lang: Lang) -> f32 {
        scorer().score(text, Some(lang)).score
    }

    fn cues(text: &str, lang: Lang) -> Vec<String> {
        scorer()
            .score(text, Some(lang))
            .explanation
            .into_iter()
            .map(|c| c.cue)
            .collect()
    }

    #[test]
    fn clear_cases_in_both_languages() {
        use Label::*;
        assert_eq!(
            label("Der Service war super freundlich, danke!", Lang::De),
            Positive
        );
        assert_eq!(
            label("Schon wieder Verspätungen, echt ärgerlich 😡", Lang::De),
            Negative
        );
        assert_eq!(label("Der Zug fährt um neun ab", Lang::De), Neutral);
        assert_eq!(
            label("The app keeps crashing, terrible update", Lang::En),
            Negative
        );
        assert_eq!(
            label("Great support, thank you so much!", Lang::En),
            Positive
        );
        assert_eq!(label("The train leaves at nine", Lang::En), Neutral);
    }

    #[test]
    fn negation_has_scope_in_both_languages() {
        assert!(score("Das war nicht gut", Lang::De) < 0.0);
        assert!(cues("Das war nicht gut", Lang::De)[0].starts_with("nicht…"));
        assert!(
            score("Das gefällt mir nicht", Lang::De) < 0.0,
            "negation from behind"
        );
        assert!(score("Kein guter Tag", Lang::De) < 0.0);
        assert!(score("This isn't good", Lang::En) < 0.0);
        assert!(score("I never liked it", Lang::En) < 0.0);
        // The scope ends at the clause: "nicht" does not reach past the comma.
        assert!(score("Nicht heute, aber der Service war gut", Lang::De) > 0.0);
        // "nicht nur" / "not only" do not negate.
        assert!(score("Nicht nur gut, sondern großartig", Lang::De) > 0.0);
    }

    #[test]
    fn intensifiers_and_dampeners() {
        assert!(score("sehr gut", Lang::De) > score("gut", Lang::De));
        assert!(score("etwas gut", Lang::De) < score("gut", Lang::De));
        assert!(score("extremely bad", Lang::En) < score("bad", Lang::En));
        assert!(score("slightly bad", Lang::En) > score("bad", Lang::En));
        // At a clause's end a booster word carries its own sentiment.
        assert!(score("Das Essen war furchtbar", Lang::De) < 0.0);
    }

    #[test]
    fn contrast_weighs_the_later_clause() {
        assert_eq!(
            label(
                "Der Zug war pünktlich, aber das Personal war unfreundlich",
                Lang::De
            ),
            Label::Negative
        );
        assert_eq!(
            label(
                "The seats were dirty, but the staff were wonderful",
                Lang::En
            ),
            Label::Positive
        );
        let c = cues(
            "The seats were dirty, but the staff were wonderful",
            Lang::En,
        );
        assert!(c.iter().any(|c| c.contains("(after but)")), "{c:?}");
    }

    #[test]
    fn compounds_and_spellings() {
        assert_eq!(label("Zugausfall in Köln", Lang::De), Label::Negative);
        assert_eq!(label("Scheißservice hier", Lang::De), Label::Negative);
        assert_eq!(
            label("Kundenservice-Katastrophe", Lang::De),
            Label::Negative
        );
        assert_eq!(label("Das Wetter ist schoen", Lang::De), Label::Positive);
        assert_eq!(label("Einfach grossartig", Lang::De), Label::Positive);
        assert_eq!(
            label("Wagen 7 ist schon wieder gesperrt", Lang::De),
            Label::Negative
        );
        assert_eq!(label("Ich bin schon da", Lang::De), Label::Neutral);
        let c = cues("Bahnchaos in Köln", Lang::De);
        assert!(c[0].contains("compound"), "{c:?}");
    }

    #[test]
    fn sarcasm_cues_of_complaints() {
        for (text, lang) in [
            ("Danke für nichts, Acme Bahn.", Lang::De),
            ("Toll, wieder verspätet.", Lang::De),
            ("Super, schon wieder Zugausfall", Lang::De),
            ("Danke für die Verspätung", Lang::De),
            ("Thanks for nothing @acme", Lang::En),
            ("Great, another delay", Lang::En),
            ("I love waiting 2 hours for a train", Lang::En),
            ("Thanks for the delay", Lang::En),
        ] {
            let s = scorer().score(text, Some(lang));
            assert_eq!(s.label, Label::Negative, "{text}: {s:?}");
        }
        // Plain praise stays praise.
        assert_eq!(label("Toll, danke!", Lang::De), Label::Positive);
        assert_eq!(
            label("Great, thanks for the help", Lang::En),
            Label::Positive
        );
    }

    #[test]
    fn emoji_emoticons_caps_and_exclamations() {
        assert_eq!(label("Zug 😡😡", Lang::De), Label::Negative);
        assert_eq!(label("train :-(", Lang::En), Label::Negative);
        assert_eq!(label("Feierabend :)", Lang::De), Label::Positive);
        assert!(score("Das ist SCHLECHT", Lang::De) < score("Das ist schlecht", Lang::De));
        assert!(score("good!!!", Lang::En) > score("good", Lang::En));
        assert!(score("guuuuut", Lang::De) > score("gut", Lang::De));
        // Emoji count without a language too.
        assert!(scorer().score("😍", None).score > 0.0);
    }

    #[test]
    fn questions_and_hedges_count_less() {
        assert!(score("Ist der Service gut?", Lang::De) < score("Der Service ist gut.", Lang::De));
        assert!(score("If it were good", Lang::En) < score("It was good", Lang::En));
    }

    #[test]
    fn user_lexicon_merges_over_bundled() {
        let user = UserLexicon {
            file: "u.yaml".into(),
            lang: Lang::De,
            words: vec![("acmefail".into(), -3.0), ("super".into(), 0.0)],
            service: Vec::new(),
        };
        let s = SentimentScorer::with_lexicons(&[Lang::De], vec![user]);
        assert_eq!(s.score("#acmefail", Some(Lang::De)).label, Label::Negative);
        assert_eq!(s.score("Super", Some(Lang::De)).label, Label::Neutral);
    }

    #[test]
    fn neutral_band_is_configurable_per_language() {
        let mut config = SentimentConfig::default();
        config
            .neutral_band
            .insert("de".into(), NeutralBand::symmetric(0.9).expect("in range"));
        let s = SentimentScorer::new(&[Lang::De, Lang::En], &config);
        assert_eq!(s.score("gut", Some(Lang::De)).label, Label::Neutral);
        assert_eq!(s.score("good", Some(Lang::En)).label, Label::Positive);
    }

    #[test]
    fn neutral_band_sides_differ() {
        let mut config = SentimentConfig::default();
        config
            .neutral_band
            .insert("en".into(), NeutralBand::new(0.95, 0.1).expect("in range"));
        let s = SentimentScorer::new(&[Lang::En], &config);
        assert_eq!(s.score("good", Some(Lang::En)).label, Label::Positive);
        assert_eq!(s.score("terrible", Some(Lang::En)).label, Label::Neutral);
        assert!(NeutralBand::new(1.0, 0.3).is_err());
    }

    #[test]
    fn like_is_sentiment_only_as_a_verb() {
        let s = scorer();
        assert!(s.score("I like the new app", Some(Lang::En)).score > 0.0);
        assert!(s.score("I don't like the new app", Some(Lang::En)).score < 0.0);
        assert_eq!(
            s.score("It feels like a train station", Some(Lang::En))
                .score,
            0.0
        );
    }
}
