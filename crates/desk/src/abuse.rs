//! An explainable abuse flag for German and English posts: threats, attacks on a group,
//! insults at a person, and mere profanity, each with the words and rule that decided.
//!
//! Our own short lists and rules (no third-party data): a post is normalised first, so
//! masked and leet forms are caught (`f*ck`, `sch***e`, `1d10t`, `i d i o t`,
//! `idiooot`), then:
//!
//! - **threat**: a first person with a violence verb (`ich bring dich um`, `i'll kill`)
//!   or a known phrase (`ich weiß, wo du wohnst`, `i know where you live`);
//! - **identity**: a dehumanising noun for people (`Abschaum`, `Ungeziefer`, `vermin`);
//! - **insult**: an insult within four words of an addressee (`du`, `ihr`, `you`, an
//!   `@handle`) or after `du bist` / `ihr seid` / `you are`;
//! - **profanity**: swearing without a target (`scheiß Netz`, `fucking delay`).
//!
//! Policy (the desk's): profanity is recorded and changes nothing, since a complaint that
//! swears is still a complaint; insults, attacks and threats are kept out of the
//! complaint KPIs and counted apart; a threat makes the item urgent and is announced at
//! once.
//!
//! Cost: one pass over the words with hash-set lookups; microseconds per post.

use std::collections::HashSet;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// How bad, least first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AbuseKind {
    /// Swearing without a target.
    Profanity,
    /// An insult at a person.
    Insult,
    /// Dehumanising words for people.
    Identity,
    /// A threat of violence.
    Threat,
}

impl AbuseKind {
    /// Whether posts of this kind stay out of the complaint KPIs.
    pub fn is_abusive(self) -> bool {
        self > AbuseKind::Profanity
    }
}

/// The flag with what decided it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Abuse {
    /// The worst kind found.
    pub kind: AbuseKind,
    /// What fired: `insult: idiot (addressee du)`, `threat: umbringen`.
    pub cues: Vec<String>,
}

const PROFANITY: &[&str] = &[
    "scheiße",
    "scheisse",
    "scheiß",
    "scheiss",
    "kacke",
    "verdammt",
    "verdammte",
    "fuck",
    "fucking",
    "fucked",
    "shit",
    "shitty",
    "crap",
    "damn",
    "wtf",
    "bullshit",
    "kackladen",
    "drecksladen",
    "saftladen",
    "mist",
];

const INSULTS: &[&str] = &[
    "idiot",
    "idioten",
    "vollidiot",
    "vollidioten",
    "depp",
    "deppen",
    "trottel",
    "arschloch",
    "arschlöcher",
    "wichser",
    "penner",
    "spast",
    "spasti",
    "missgeburt",
    "hurensohn",
    "schlampe",
    "drecksack",
    "lappen",
    "versager",
    "vollpfosten",
    "dummkopf",
    "schwachkopf",
    "pisser",
    "moron",
    "morons",
    "idiots",
    "dumbass",
    "asshole",
    "assholes",
    "bastard",
    "bastards",
    "bitch",
    "retard",
    "retards",
    "loser",
    "losers",
    "jerk",
    "dickhead",
    "wanker",
    "twat",
    "stupid",
    "dumm",
    "blöd",
    "bescheuert",
    "behindert",
    "clown",
    "clowns",
];

const DEHUMANISING: &[&str] = &[
    "abschaum",
    "ungeziefer",
    "parasiten",
    "parasit",
    "untermenschen",
    "untermensch",
    "vermin",
    "subhuman",
    "subhumans",
    "scum",
    "cockroaches",
    "kakerlaken",
];

const VIOLENCE: &[&str] = &[
    "umbringen",
    "bring",
    "abstechen",
    "stech",
    "abfackeln",
    "fackel",
    "erschießen",
    "erschiessen",
    "erschieß",
    "töten",
    "kaltmachen",
    "anzünden",
    "zünde",
    "zusammenschlagen",
    "abknallen",
    "knall",
    "kill",
    "shoot",
    "stab",
    "burn",
    "murder",
    "hurt",
];

const FIRST_PERSON: &[&str] = &[
    "ich", "wir", "i", "we", "i'll", "ill", "we'll", "im", "i'm", "gonna", "werde", "werden",
];

const ADDRESSEES: &[&str] = &[
    "du", "dich", "dir", "dein", "deine", "ihr", "euch", "euer", "eure", "you", "u", "your", "ya",
    "youre", "you're",
];

const THREAT_PHRASES: &[&str] = &[
    "weiß wo du wohnst",
    "weiss wo du wohnst",
    "weiß wo ihr wohnt",
    "weiss wo ihr wohnt",
    "know where you live",
    "you are dead",
    "you're dead",
    "du bist tot",
    "ihr seid tot",
];

fn set(words: &'static [&'static str]) -> HashSet<&'static str> {
    words.iter().copied().collect()
}

struct Lists {
    profanity: HashSet<&'static str>,
    insults: HashSet<&'static str>,
    dehumanising: HashSet<&'static str>,
    violence: HashSet<&'static str>,
    first_person: HashSet<&'static str>,
    addressees: HashSet<&'static str>,
}

fn lists() -> &'static Lists {
    static L: OnceLock<Lists> = OnceLock::new();
    L.get_or_init(|| Lists {
        profanity: set(PROFANITY),
        insults: set(INSULTS),
        dehumanising: set(DEHUMANISING),
        violence: set(VIOLENCE),
        first_person: set(FIRST_PERSON),
        addressees: set(ADDRESSEES),
    })
}

/// A word with leet digits and symbols read as letters and runs of three or more of a
/// letter cut to one (`1d10t` → `idiot`, `idiooot` → `idiot`).
fn unleet(w: &str) -> String {
    let mapped: String = w
        .chars()
        .map(|c| match c {
            '0' => 'o',
            '1' | '!' => 'i',
            '3' => 'e',
            '4' | '@' => 'a',
            '5' | '$' => 's',
            '7' => 't',
            c => c,
        })
        .collect();
    let chars: Vec<char> = mapped.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut j = i;
        while j < chars.len() && chars[j] == c {
            j += 1;
        }
        let run = if j - i >= 3 { 1 } else { j - i };
        out.extend(std::iter::repeat_n(c, run));
        i = j;
    }
    out
}

/// Whether the masked word `w` (with `*` for hidden letters) stands for `target`: same
/// first and last letter, the stars covering at least one letter.
fn unmasks(w: &str, target: &str) -> bool {
    let Some((head, tail)) = w.split_once('*') else {
        return false;
    };
    let tail = tail.trim_start_matches('*');
    !head.is_empty()
        && target.len() > head.len() + tail.len()
        && target.starts_with(head)
        && target.ends_with(tail)
}

/// Words of `text`, lowercased, with single letters spelled out joined (`i d i o t`).
fn words(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let raw: Vec<String> = lower
        .split(|c: char| !(c.is_alphanumeric() || matches!(c, '*' | '@' | '$' | '!' | '\'')))
        .map(|w| w.trim_matches(|c| c == '\'' || c == '!'))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let mut j = i;
        while j < raw.len() && raw[j].chars().count() == 1 {
            j += 1;
        }
        if j - i >= 4 {
            out.push(raw[i..j].concat());
            i = j;
        } else {
            out.push(raw[i].clone());
            i += 1;
        }
    }
    out
}

/// Where a list word may stand in a German compound.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Compound {
    /// Not in compounds.
    No,
    /// As the first part: swearing (`Scheißverein`).
    Head,
    /// As the last part: insults and nouns (`Riesenidiot`; not `idiotensicher`).
    Tail,
}

/// The list word `w` stands for, if any: as written, read without leet, unmasked, or as
/// part of a compound.
fn find(w: &str, list: &HashSet<&'static str>, compound: Compound) -> Option<&'static str> {
    if let Some(x) = list.get(w) {
        return Some(x);
    }
    let plain = unleet(w);
    if let Some(x) = list.get(plain.as_str()) {
        return Some(x);
    }
    if w.contains('*') {
        return list.iter().copied().find(|t| unmasks(w, t));
    }
    if compound != Compound::No && plain.chars().count() >= 8 {
        // The rest of the compound at least three letters long.
        return list.iter().copied().find(|t| {
            t.chars().count() >= 4
                && plain.len() >= t.len() + 3
                && match compound {
                    Compound::Head => plain.starts_with(t),
                    _ => plain.ends_with(t),
                }
        });
    }
    None
}

/// Flags `text`; `None` for a clean post.
pub fn check(text: &str) -> Option<Abuse> {
    let l = lists();
    let ws = words(text);
    let joined = format!(" {} ", ws.join(" ")).replace(',', "");
    let mut found: Vec<(AbuseKind, String)> = Vec::new();
    for p in THREAT_PHRASES {
        if joined.contains(&format!(" {p} "))
            || joined.contains(&format!(" {} ", p.replace("weiß", "weiss")))
        {
            found.push((AbuseKind::Threat, format!("threat: \"{p}\"")));
        }
    }
    for (i, w) in ws.iter().enumerate() {
        let near = |set: &HashSet<&'static str>, span: usize| {
            let from = i.saturating_sub(span);
            let to = (i + span + 1).min(ws.len());
            ws[from..to]
                .iter()
                .enumerate()
                .find(|(k, x)| from + k != i && (set.contains(x.as_str()) || x.starts_with('@')))
                .map(|(_, x)| x.clone())
        };
        if let Some(v) = find(w, &l.violence, Compound::No) {
            let from = i.saturating_sub(4);
            if ws[from..i]
                .iter()
                .any(|x| l.first_person.contains(x.as_str()))
            {
                found.push((AbuseKind::Threat, format!("threat: first person + {v}")));
            }
        }
        if let Some(d) = find(w, &l.dehumanising, Compound::Tail) {
            found.push((AbuseKind::Identity, format!("identity: {d}")));
        }
        if let Some(x) = find(w, &l.insults, Compound::Tail) {
            match near(&l.addressees, 4) {
                Some(a) => found.push((AbuseKind::Insult, format!("insult: {x} (addressee {a})"))),
                None => found.push((
                    AbuseKind::Profanity,
                    format!("insult word without addressee: {x}"),
                )),
            }
        } else if let Some(p) = find(w, &l.profanity, Compound::Head) {
            found.push((AbuseKind::Profanity, format!("profanity: {p}")));
        }
    }
    let kind = found.iter().map(|(k, _)| *k).max()?;
    let mut cues: Vec<String> = found.into_iter().map(|(_, c)| c).collect();
    cues.dedup();
    Some(Abuse { kind, cues })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(t: &str) -> Option<AbuseKind> {
        check(t).map(|a| a.kind)
    }

    #[test]
    fn a_complaint_that_swears_stays_profanity() {
        assert_eq!(
            kind("Scheiß Netz seit Tagen, Acme!"),
            Some(AbuseKind::Profanity)
        );
        assert_eq!(
            kind("fucking delay again @AcmeBahn"),
            Some(AbuseKind::Profanity)
        );
        assert_eq!(
            kind("Was für ein Saftladen, die Acme Bahn"),
            Some(AbuseKind::Profanity)
        );
        assert_eq!(kind("Zug fällt aus, bitte um Erstattung"), None);
    }

    #[test]
    fn insults_need_an_addressee() {
        assert_eq!(
            kind("Ihr seid doch alle Idioten bei Acme"),
            Some(AbuseKind::Insult)
        );
        assert_eq!(
            kind("@acmebahn you absolute morons"),
            Some(AbuseKind::Insult)
        );
        assert_eq!(kind("Du bist ein Vollpfosten"), Some(AbuseKind::Insult));
        assert_eq!(
            kind("Die App ist idiotensicher, sagen sie"),
            None,
            "no Scunthorpe: a word starting with an insult is not one"
        );
    }

    #[test]
    fn masked_and_leet_forms_are_read() {
        assert_eq!(kind("du 1d10t"), Some(AbuseKind::Insult));
        assert_eq!(kind("ihr a****loch"), Some(AbuseKind::Insult));
        assert_eq!(kind("you i d i o t"), Some(AbuseKind::Insult));
        assert_eq!(kind("du idiooot"), Some(AbuseKind::Insult));
        assert_eq!(kind("sch***e ist das"), Some(AbuseKind::Profanity));
        assert_eq!(kind("f*ck this train"), Some(AbuseKind::Profanity));
    }

    #[test]
    fn threats_and_dehumanising_words_are_the_worst() {
        let t = check("Ich weiß, wo du wohnst. Ich bring euch alle um").expect("threat");
        assert_eq!(t.kind, AbuseKind::Threat);
        assert!(t.cues.iter().any(|c| c.contains("wohnst")), "{t:?}");
        assert_eq!(
            kind("I'll kill whoever runs this railway"),
            Some(AbuseKind::Threat)
        );
        assert_eq!(
            kind("Die Fahrgäste sind Ungeziefer für euch"),
            Some(AbuseKind::Identity)
        );
        assert_eq!(
            kind("this killed my whole morning"),
            None,
            "no first person + verb"
        );
    }
}
