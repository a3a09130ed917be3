//! Service-failure language: what people write when the service failed them, even
//! without one evaluative word ("lost my luggage", "2 hours on hold", "seit 3 Tagen keine
//! Antwort", "please fix"), and negated negatives that mean the negative ("never fails to
//! disappoint").
//!
//! Cues come from bundled data files (`lexicon/service-de.tsv`, `service-en.tsv`) and the
//! `service:` sections of user lexicons (see [`lauscher_config::lexicon`] for the pattern
//! syntax), user entries replacing bundled ones of the same pattern. Each match adds its
//! weight to the sentiment sum (pulling it negative), leaves a cue such as
//! `failure: lost my luggage` in the explanation, and drives intent `complaint`.
//!
//! Cost: per word token one hash lookup of the patterns that can start there (plus the
//! few that start with a prefix or a number); a candidate tries its slots on the words
//! of the clause, a gap trying at most four widths.

use rustc_hash::FxHashMap as HashMap;

use lauscher_config::UserLexicon;
use lauscher_config::lexicon::{ServiceEntry, ServiceKind, ServicePattern, Slot};
use lauscher_model::Lang;

use lauscher_text::social::PostToken;

const MAX_GAP: usize = 3;

/// One service cue found in a post.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceHit {
    /// Token index of its first word.
    pub token: usize,
    /// Token indexes of the words its slots matched (gaps left out).
    pub matched: Vec<usize>,
    /// What it says.
    pub kind: ServiceKind,
    /// Added to the sentiment sum.
    pub weight: f32,
    /// Readable: `failure: lost my luggage`.
    pub cue: String,
}

/// The service cues of one language.
pub struct ServiceCues {
    lang: Lang,
    entries: Vec<ServiceEntry>,
    /// First literal word → entries starting with it.
    by_first: HashMap<String, Vec<usize>>,
    /// Entries whose first slot is a prefix or a number: tried everywhere.
    anywhere: Vec<usize>,
    /// The literal words of failure and waiting cues, for [`ServiceCues::names_problem`].
    problem_words: rustc_hash::FxHashSet<String>,
    /// Their prefix words (`stellwerk*` as `stellwerk`).
    problem_prefixes: Vec<String>,
}

impl ServiceCues {
    /// The bundled cues of `lang` with the `service:` entries of `user` lexicons of that
    /// language merged over them; `None` when there are none.
    pub fn bundled(lang: Lang, user: &[UserLexicon]) -> Option<ServiceCues> {
        let data = crate::pack::of(lang).map_or("", |p| p.service_cues);
        let mut entries = parse_tsv(data);
        for u in user.iter().filter(|u| u.lang == lang) {
            for e in &u.service {
                entries.retain(|b| b.pattern.text != e.pattern.text);
                entries.push(e.clone());
            }
        }
        if entries.is_empty() {
            return None;
        }
        let mut by_first: HashMap<String, Vec<usize>> = HashMap::default();
        let mut anywhere = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            match &e.pattern.slots[0] {
                Slot::Words(ws) if ws.iter().all(|w| !w.ends_with('*')) => {
                    for w in ws {
                        by_first.entry(w.clone()).or_default().push(i);
                    }
                }
                _ => anywhere.push(i),
            }
        }
        let mut problem_words = rustc_hash::FxHashSet::default();
        let mut problem_prefixes = Vec::new();
        let problems = entries
            .iter()
            .filter(|e| matches!(e.kind, ServiceKind::Failure | ServiceKind::Waiting));
        for e in problems {
            for slot in &e.pattern.slots {
                let Slot::Words(ws) = slot else { continue };
                for w in ws {
                    match w.strip_suffix('*') {
                        Some(prefix) => problem_prefixes.push(prefix.to_owned()),
                        None => {
                            problem_words.insert(w.clone());
                        }
                    }
                }
            }
        }
        Some(ServiceCues {
            lang,
            entries,
            by_first,
            anywhere,
            problem_words,
            problem_prefixes,
        })
    }

    /// Returns whether the lowercase `word` is a literal word of a failure or waiting
    /// cue: it names a problem (`delayed`, `Störung`), so it may form a complaint topic
    /// even when the sentiment lexicon scores it.
    /// One hash lookup and a scan of the few prefix words.
    pub fn names_problem(&self, word: &str) -> bool {
        self.problem_words.contains(word)
            || self
                .problem_prefixes
                .iter()
                .any(|p| word.starts_with(p.as_str()))
    }

    /// Returns whether the lowercase pair is a whole two-word cue (`on hold`, `keine
    /// Erstattung`): a complaint topic even where its words are stop words.
    pub fn is_term(&self, first: &str, second: &str) -> bool {
        self.by_first.get(first).is_some_and(|list| {
            list.iter()
                .any(|&i| match self.entries[i].pattern.slots.as_slice() {
                    [_, Slot::Words(ws)] => ws.iter().any(|w| slot_word_matches(w, second)),
                    _ => false,
                })
        })
    }

    /// The cues of `tokens`, matched inside clauses (`clause_of[i]` is token `i`'s
    /// clause), leftmost first, the longest at each start, never overlapping.
    pub fn find(&self, tokens: &[PostToken], clause_of: &[usize]) -> Vec<ServiceHit> {
        let words: Vec<usize> = (0..tokens.len()).filter(|&i| tokens[i].is_word()).collect();
        let mut out = Vec::new();
        let mut matched = Vec::new();
        let mut k = 0;
        // The words of the clause of `words[k]` are `words[k..end]`.
        let mut end = 0;
        while k < words.len() {
            let first = &tokens[words[k]].text;
            let clause = clause_of[words[k]];
            if end <= k {
                end = k + words[k..]
                    .iter()
                    .take_while(|&&i| clause_of[i] == clause)
                    .count();
            }
            let run = &words[k..end];
            let mut best: Option<(usize, Vec<usize>)> = None;
            let candidates = self
                .by_first
                .get(first.as_str())
                .into_iter()
                .flatten()
                .chain(&self.anywhere);
            for &e in candidates {
                matched.clear();
                let found = self
                    .match_slots(&self.entries[e].pattern, tokens, run, 0, 0, &mut matched)
                    .is_some();
                if found && best.as_ref().is_none_or(|(_, m)| matched.len() > m.len()) {
                    best = Some((e, matched.clone()));
                }
            }
            match best {
                Some((e, matched)) => {
                    let entry = &self.entries[e];
                    let last = *matched.last().unwrap_or(&words[k]);
                    let text: Vec<&str> = tokens[words[k]..=last]
                        .iter()
                        .filter(|t| t.is_word())
                        .map(|t| t.text.as_str())
                        .collect();
                    out.push(ServiceHit {
                        token: words[k],
                        cue: format!("{}: {}", entry.kind.as_str(), text.join(" ")),
                        matched,
                        kind: entry.kind,
                        weight: entry.weight,
                    });
                    k = words.iter().position(|&w| w > last).unwrap_or(words.len());
                }
                None => k += 1,
            }
        }
        out
    }

    /// Matches `pattern`'s slots from `slot` on the words `run[at..]`; returns the
    /// number of words consumed, pushing the token indexes of matched words.
    fn match_slots(
        &self,
        pattern: &ServicePattern,
        tokens: &[PostToken],
        run: &[usize],
        slot: usize,
        at: usize,
        matched: &mut Vec<usize>,
    ) -> Option<usize> {
        let Some(s) = pattern.slots.get(slot) else {
            return Some(at);
        };
        match s {
            Slot::Gap => {
                for width in 0..=MAX_GAP {
                    if at + width > run.len() {
                        break;
                    }
                    let before = matched.len();
                    if let Some(end) =
                        self.match_slots(pattern, tokens, run, slot + 1, at + width, matched)
                    {
                        return Some(end);
                    }
                    matched.truncate(before);
                }
                None
            }
            _ => {
                let &i = run.get(at)?;
                let word = tokens[i].text.as_str();
                let ok = match s {
                    Slot::Number => self.is_number(word),
                    Slot::Words(ws) => ws.iter().any(|w| slot_word_matches(w, word)),
                    Slot::Gap => false,
                };
                if !ok {
                    return None;
                }
                matched.push(i);
                self.match_slots(pattern, tokens, run, slot + 1, at + 1, matched)
            }
        }
    }

    fn is_number(&self, word: &str) -> bool {
        if word.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            return word
                .chars()
                .all(|c| c.is_ascii_digit() || c == ',' || c == '.');
        }
        crate::pack::of(self.lang).is_some_and(|p| p.numbers.contains(&word))
    }
}

/// A slot word matches `word` as written, or as a prefix when it ends in `*`.
fn slot_word_matches(slot: &str, word: &str) -> bool {
    match slot.strip_suffix('*') {
        Some(prefix) => word.starts_with(prefix),
        None => slot == word,
    }
}

/// Parses a bundled cue file: `pattern<TAB>kind<TAB>weight`, `#` comments. The bundled
/// files are ours and tested; a line that does not parse is skipped.
fn parse_tsv(data: &str) -> Vec<ServiceEntry> {
    data.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut cols = l.split('\t');
            let pattern: ServicePattern = cols.next()?.parse().ok()?;
            let kind: ServiceKind = cols.next()?.parse().ok()?;
            let weight = cols
                .next()
                .and_then(|w| w.trim().parse::<f32>().ok())
                .unwrap_or_else(|| kind.default_weight());
            Some(ServiceEntry {
                pattern,
                kind,
                weight,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_line_parses() {
        for data in [
            include_str!("../lexicon/service-de.tsv"),
            include_str!("../lexicon/service-en.tsv"),
        ] {
            let lines = data
                .lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .count();
            assert_eq!(parse_tsv(data).len(), lines);
        }
    }
}
