//! German compounds: `Zugausfall` is `Zug` + `Ausfall`, `Stellwerksstörung` is
//! `Stellwerk` + `s` + `Störung`, and `Reagieren` is no compound at all.
//!
//! A split needs **both parts to be known words** of a sensible length: the head (the
//! last part, which German compounds take their meaning and valence from) must be a noun
//! or adjective of the bundled vocabulary (`data/de-words.txt`, 3+ letters), in a plural
//! or case form at most (`Zugausfälle`); the first part a listed word of 3+ letters,
//! optionally with a linking element (`-s-`, `-es-`, `-n-`, `-en-`, `-e-`, `-er-`) or
//! itself a compound of two listed words (`Regionalzugausfall`). A listed word is never
//! split (`Bahnhof` stays whole), and verbs are never heads, so `reagieren` does not
//! become `rea|gieren`.
//!
//! Decision: a closed vocabulary rather than corpus statistics. It misses compounds of
//! words it does not list, but it never invents one, and a false split makes sentiment
//! and complaint topics from nothing. The vocabulary is ours, written for the genre
//! (travel, service, telecom, retail); extend it there.
//!
//! Cost: building the vocabulary once per process (about 600 words, 10 forms each);
//! a split tries each boundary with one hash lookup for the head and up to seven for the
//! first part, so a 15-letter word costs about 30 lookups of short strings.

use std::collections::HashMap;
use std::sync::OnceLock;

/// What a listed word may be in a compound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// A noun or adjective: head or first part.
    Head,
    /// A first part only (verb stems, evaluative prefixes).
    Modifier,
}

/// Linking elements between a first part and the head, longest first.
const LINKS: &[&str] = &["ens", "es", "en", "er", "s", "n", "e"];

/// Endings a head may carry (plural, case), beyond its listed form.
const HEAD_ENDINGS: &[&str] = &["e", "en", "n", "s", "es", "er", "ern", "nen", "em"];

/// Shortest part of a compound, in characters.
const MIN_PART: usize = 3;

/// One split: the first part as written (linking element included) and the head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// The first part as written in the word, linking element included
    /// (`stellwerks`).
    pub first: String,
    /// The first part as a listed word (`stellwerk`).
    pub modifier: String,
    /// The head as written (`störungen`).
    pub head: String,
    /// The head's listed form (`störung`).
    pub lemma: String,
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}|{}", self.first, self.head)
    }
}

/// The bundled German compound vocabulary.
pub struct Compounds {
    /// Listed word → its role.
    words: HashMap<String, Role>,
    /// Head form (listed word or an inflection of it) → the listed word.
    heads: HashMap<String, String>,
}

impl Compounds {
    /// The bundled vocabulary, built on first use.
    pub fn german() -> &'static Compounds {
        static GERMAN: OnceLock<Compounds> = OnceLock::new();
        GERMAN.get_or_init(|| Compounds::parse(include_str!("../data/de-words.txt")))
    }

    /// Builds a vocabulary from the `word<TAB>kind` format of `data/de-words.txt`.
    pub fn parse(data: &str) -> Compounds {
        let mut words: HashMap<String, Role> = HashMap::new();
        for line in data.lines() {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (word, kind) = line.split_once('\t').unwrap_or((line, "n"));
            let role = if kind.trim() == "m" {
                Role::Modifier
            } else {
                Role::Head
            };
            let word = word.trim().to_lowercase();
            let slot = words.entry(word).or_insert(role);
            if role == Role::Head {
                *slot = Role::Head;
            }
        }
        let mut heads: HashMap<String, String> = HashMap::new();
        for (word, role) in &words {
            if *role != Role::Head || word.chars().count() < MIN_PART {
                continue;
            }
            let mut forms = vec![word.clone()];
            for end in HEAD_ENDINGS {
                forms.push(format!("{word}{end}"));
            }
            if let Some(umlauted) = umlaut_last(word) {
                for end in ["", "e", "en", "er", "ern"] {
                    forms.push(format!("{umlauted}{end}"));
                }
            }
            for form in forms {
                // A listed word wins over another word's inflection.
                if words.get(&form).is_none_or(|_| form == *word) {
                    heads.entry(form).or_insert_with(|| word.clone());
                }
            }
        }
        Compounds { words, heads }
    }

    /// Returns whether `word` (lowercase) is a listed word.
    pub fn knows(&self, word: &str) -> bool {
        self.words.contains_key(word)
    }

    /// Splits a lowercase word into first part and head, preferring the longest head;
    /// `None` when it is no compound of known words.
    pub fn split(&self, word: &str) -> Option<Split> {
        if word.len() < 2 * MIN_PART || self.words.contains_key(word) {
            return None;
        }
        let bounds: Vec<usize> = word.char_indices().map(|(i, _)| i).collect();
        // Longest head first: boundaries from the left, after at least MIN_PART letters.
        for &b in bounds.iter().skip(MIN_PART) {
            let head = &word[b..];
            if head.chars().count() < MIN_PART {
                break;
            }
            let Some(lemma) = self.heads.get(head) else {
                continue;
            };
            if let Some(modifier) = self.first_part(&word[..b]) {
                return Some(Split {
                    first: word[..b].to_owned(),
                    modifier,
                    head: head.to_owned(),
                    lemma: lemma.clone(),
                });
            }
        }
        None
    }

    /// The listed word a first part stands for: itself, without a linking element, or a
    /// compound of two listed words (returned whole).
    fn first_part(&self, part: &str) -> Option<String> {
        if part.chars().count() < MIN_PART {
            return None;
        }
        if let Some(word) = self.simple_part(part) {
            return Some(word);
        }
        // One level of nesting: `regionalzug|ausfall`, `schienenersatz|verkehr`.
        let bounds: Vec<usize> = part.char_indices().map(|(i, _)| i).collect();
        for &b in bounds.iter().skip(MIN_PART) {
            let (a, rest) = part.split_at(b);
            if self.simple_part(a).is_some() && self.simple_part(rest).is_some() {
                return Some(part.to_owned());
            }
        }
        None
    }

    /// A first part that is a listed word as written, with a linking element, or with
    /// its final `e` dropped (`Wochenend-`, `Miet-`).
    fn simple_part(&self, part: &str) -> Option<String> {
        let known = |w: &str| w.chars().count() >= MIN_PART && self.words.contains_key(w);
        if known(part) {
            return Some(part.to_owned());
        }
        for link in LINKS {
            if let Some(stem) = part.strip_suffix(link)
                && known(stem)
            {
                return Some(stem.to_owned());
            }
        }
        let with_e = format!("{part}e");
        known(&with_e).then_some(with_e)
    }
}

/// `ausfall` → `ausfäll`: the last of the word's vowels umlauted, for plurals
/// (`Ausfälle`, `Züge`); `None` when it has no a, o or u.
fn umlaut_last(word: &str) -> Option<String> {
    let (i, c) = word
        .char_indices()
        .rev()
        .find(|(_, c)| matches!(c, 'a' | 'o' | 'u'))?;
    // "au" umlauts as "äu" (Baum → Bäume).
    let (i, c) = if c == 'u' && i > 0 && word[..i].ends_with('a') {
        (i - 1, 'a')
    } else {
        (i, c)
    };
    let u = match c {
        'a' => 'ä',
        'o' => 'ö',
        _ => 'ü',
    };
    let mut out = String::with_capacity(word.len() + 1);
    out.push_str(&word[..i]);
    out.push(u);
    out.push_str(&word[i + 1..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(w: &str) -> Option<String> {
        Compounds::german().split(w).map(|s| s.to_string())
    }

    #[test]
    fn known_parts_split_and_verbs_do_not() {
        assert_eq!(split("zugausfall").as_deref(), Some("zug|ausfall"));
        assert_eq!(split("zugausfälle").as_deref(), Some("zug|ausfälle"));
        assert_eq!(
            split("stellwerksstörung").as_deref(),
            Some("stellwerks|störung")
        );
        assert_eq!(split("kundenservice").as_deref(), Some("kunden|service"));
        assert_eq!(split("reagieren"), None);
        assert_eq!(split("gieren"), None);
        assert_eq!(split("bahnhof"), None);
        let s = Compounds::german()
            .split("stellwerksstörungen")
            .expect("split");
        assert_eq!(
            (s.modifier.as_str(), s.lemma.as_str()),
            ("stellwerk", "störung")
        );
    }
}
