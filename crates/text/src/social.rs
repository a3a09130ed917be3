//! Social-media text made scoreable: escapes, entities, URLs, handles, hashtags,
//! elongations, emoticons and emoji become a flat list of [`PostToken`]s.
//!
//! Beside [`crate::token`]'s word tokenizer, which indexing, rule matching and phrases
//! share: the scorer needs more than words (emoticons, emoji, punctuation runs, hashtag
//! parts, emphasis), so a post is read once more here. Both live in this crate so that
//! what a word is stays decided in one place: both take letters and digits
//! (`char::is_alphanumeric`) as word characters.
//!
//! Posts arrive as exported: `&amp;`, `&gt;`, `\u2019`, t.co links, `#BahnChaos`,
//! `sooooo gut!!!`, `:-(` and 😡. The scorer needs words it can look up (lowercase,
//! elongations shortened), the emphasis they carried (caps, stretched letters, `!`), and
//! the punctuation that bounds clauses and sentences. One pass over the characters after
//! decoding; no regular expressions.

use std::borrow::Cow;
use std::ops::Range;

use crate::token::is_url;

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A word from running text.
    Word,
    /// A word from a hashtag (`#BahnChaos` → `bahn`, `chaos`).
    Tag,
    /// An `@handle`: addresses someone; never scored.
    Handle,
    /// A link; never scored.
    Url,
    /// An ASCII emoticon such as `:-(`, kept as written.
    Emoticon,
    /// One emoji.
    Emoji,
    /// `.`, `!`, `?`, `,`, `;`, `:` or `…`; runs collapse into one token.
    Punct,
}

/// One unit of a post.
#[derive(Clone, Debug, PartialEq)]
pub struct PostToken {
    /// Lowercase text; a letter repeated three or more times is cut to two (`soo`).
    pub text: String,
    /// What it is.
    pub kind: Kind,
    /// Written in capitals (`SUPER`), two letters or more.
    pub caps: bool,
    /// A letter was repeated three or more times (`guuut`), or, for punctuation, how
    /// often the mark was repeated (`!!!` → 3).
    pub repeat: u8,
    /// Byte range in the decoded text.
    pub span: Range<usize>,
    /// The word's roles in the sentiment rules (negator, booster, …), set by the scorer
    /// for the post's language: one hash lookup per word instead of list scans.
    pub role: u16,
}

impl PostToken {
    /// Returns whether this token can carry sentiment as a word.
    pub fn is_word(&self) -> bool {
        matches!(self.kind, Kind::Word | Kind::Tag)
    }

    /// Returns whether this punctuation ends a sentence.
    pub fn ends_sentence(&self) -> bool {
        self.kind == Kind::Punct && matches!(self.text.as_str(), "." | "!" | "?" | "…")
    }

    /// Returns whether this token separates clauses (sentence ends included).
    pub fn ends_clause(&self) -> bool {
        self.kind == Kind::Punct
    }
}

/// ASCII emoticons, longest first where one is a prefix of another.
pub const EMOTICONS: &[&str] = &[
    ":-))", ":-((", ":'-(", ">:-(", ":-)", ":-(", ":-D", ":-P", ":-p", ":-/", ":-|", ":-*", ";-)",
    ";-(", ":'(", ">:(", "</3", ":))", ":((", ":)", ":(", ":D", ":P", ":p", ":/", ":|", ":*", ";)",
    ";D", "=)", "=(", "=D", "^_^", "^^", "<3", "xD", "XD", ":o", ":O", ":S", ":@",
];

/// The first characters of [`EMOTICONS`]: a cheap gate before the list scan.
const EMOTICON_START: [char; 8] = [':', ';', '=', '<', '^', '>', 'x', 'X'];

/// Decodes what exports leave in post text: `\uXXXX` escapes (with surrogate pairs),
/// HTML entities (twice, for double-escaped `&amp;gt;`) and typographic apostrophes.
pub fn decode(text: &str) -> Cow<'_, str> {
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    if out.contains("\\u") {
        out = Cow::Owned(unescape_unicode(&out));
    }
    for _ in 0..2 {
        if !out.contains('&') {
            break;
        }
        let decoded = crate::normalize::decode_entities(&out).into_owned();
        if decoded == out {
            break;
        }
        out = Cow::Owned(decoded);
    }
    if out.contains(['’', '‘', '`', '´']) {
        out = Cow::Owned(out.replace(['’', '‘', '`', '´'], "'"));
    }
    out
}

fn unescape_unicode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut high: Option<u32> = None;
    while let Some(at) = rest.find("\\u") {
        out.push_str(&rest[..at]);
        let hex = rest.get(at + 2..at + 6);
        match hex.and_then(|h| u32::from_str_radix(h, 16).ok()) {
            Some(code) if (0xD800..0xDC00).contains(&code) => {
                high = Some(code);
            }
            Some(code) if (0xDC00..0xE000).contains(&code) => {
                if let Some(h) = high.take() {
                    let c = 0x10000 + ((h - 0xD800) << 10) + (code - 0xDC00);
                    out.extend(char::from_u32(c));
                }
            }
            Some(code) => {
                high = None;
                out.extend(char::from_u32(code));
            }
            None => {
                out.push_str("\\u");
                rest = &rest[at + 2..];
                continue;
            }
        }
        rest = &rest[at + 6..];
    }
    out.push_str(rest);
    out
}

/// Splits decoded text into tokens. Costs one pass over the characters and one small
/// allocation per token.
pub fn tokens(text: &str) -> Vec<PostToken> {
    let mut out = Vec::with_capacity(text.len() / 5 + 1);
    let base = text.as_ptr() as usize;
    for chunk in text.split_whitespace() {
        let at = chunk.as_ptr() as usize - base;
        chunk_tokens(chunk, at, &mut out);
    }
    out
}

fn chunk_tokens(chunk: &str, at: usize, out: &mut Vec<PostToken>) {
    if is_url(chunk) || chunk.starts_with("www.") {
        out.push(token(chunk.to_owned(), Kind::Url, at..at + chunk.len()));
        return;
    }
    let bare = chunk.trim_end_matches(['.', ',', '!', '?', ';']);
    if bare.len() >= 2 && bare.starts_with(EMOTICON_START) && EMOTICONS.contains(&bare) {
        out.push(token(bare.to_owned(), Kind::Emoticon, at..at + bare.len()));
        scan(&chunk[bare.len()..], at + bare.len(), out);
        return;
    }
    scan(chunk, at, out);
}

fn scan(chunk: &str, at: usize, out: &mut Vec<PostToken>) {
    let mut i = 0;
    while i < chunk.len() {
        let rest = &chunk[i..];
        let Some(c) = rest.chars().next() else { break };
        if is_letter(c) {
            let end = word_end(rest);
            out.push(word(&rest[..end], Kind::Word, at + i));
            i += end;
        } else if (c == '#' || c == '@') && rest[1..].starts_with(is_letter) {
            let end = 1 + rest[1..]
                .find(|ch: char| !(is_letter(ch) || ch == '_'))
                .unwrap_or(rest.len() - 1);
            if c == '@' {
                out.push(token(
                    rest[..end].to_lowercase(),
                    Kind::Handle,
                    at + i..at + i + end,
                ));
            } else {
                let tag = &rest[1..end];
                let tag_at = at + i + 1;
                for part in tag.split('_').flat_map(camel_parts) {
                    if part.is_empty() {
                        continue;
                    }
                    let offset = part.as_ptr() as usize - tag.as_ptr() as usize;
                    out.push(word(part, Kind::Tag, tag_at + offset));
                }
            }
            i += end;
        } else if let Some(e) = EMOTICONS
            .iter()
            .filter(|_| matches!(c, ':' | ';' | '=' | '<' | '^' | '>'))
            .find(|e| rest.starts_with(**e) && !e.starts_with(['x', 'X']))
        {
            out.push(token(
                (*e).to_owned(),
                Kind::Emoticon,
                at + i..at + i + e.len(),
            ));
            i += e.len();
        } else if matches!(c, '.' | '!' | '?' | ',' | ';' | ':' | '…' | '¿' | '¡') {
            let run = rest
                .chars()
                .take_while(|d| matches!(d, '.' | '!' | '?' | '…' | '¿' | '¡') || *d == c)
                .collect::<String>();
            // A run's strongest mark decides: "?!" asks, "..." pauses.
            let mark = if run.contains('?') {
                "?"
            } else if run.contains('!') {
                "!"
            } else if run.chars().count() > 1 || c == '…' {
                "…"
            } else {
                &rest[..c.len_utf8()]
            };
            let mut t = token(mark.to_owned(), Kind::Punct, at + i..at + i + run.len());
            t.repeat = run.matches(['!', '?']).count().min(255) as u8;
            out.push(t);
            i += run.len();
        } else if is_emoji(c) {
            out.push(token(
                c.to_string(),
                Kind::Emoji,
                at + i..at + i + c.len_utf8(),
            ));
            i += c.len_utf8();
        } else {
            i += c.len_utf8();
        }
    }
}

fn is_letter(c: char) -> bool {
    c.is_alphanumeric()
}

/// Byte length of the word at the start of `s`: letters and digits, with inner
/// apostrophes (`don't`, `geht's`).
fn word_end(s: &str) -> usize {
    let mut end = 0;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if is_letter(c) {
            end = i + c.len_utf8();
        } else if c == '\'' && chars.peek().is_some_and(|(_, n)| is_letter(*n)) {
            continue;
        } else {
            break;
        }
    }
    end
}

/// Splits a hashtag body at case changes and digits: `BahnChaos` → `Bahn`, `Chaos`;
/// `DBfail` → `DBfail` (an acronym run stays with what follows only when lowercase).
fn camel_parts(tag: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = tag.char_indices().collect();
    for w in 1..chars.len() {
        let (i, c) = chars[w];
        let prev = chars[w - 1].1;
        let next_lower = chars.get(w + 1).is_some_and(|(_, n)| n.is_lowercase());
        let boundary = (prev.is_lowercase() && c.is_uppercase())
            || (prev.is_uppercase() && c.is_uppercase() && next_lower)
            || (prev.is_alphabetic() != c.is_alphabetic());
        if boundary {
            parts.push(&tag[start..i]);
            start = i;
        }
    }
    parts.push(&tag[start..]);
    parts
}

fn token(text: String, kind: Kind, span: Range<usize>) -> PostToken {
    PostToken {
        text,
        kind,
        caps: false,
        repeat: 0,
        span,
        role: 0,
    }
}

fn word(surface: &str, kind: Kind, at: usize) -> PostToken {
    let letters = surface.chars().filter(|c| c.is_alphabetic()).count();
    let caps = letters >= 2 && surface.chars().all(|c| !c.is_lowercase());
    let mut text = String::with_capacity(surface.len());
    let mut repeat = 0u8;
    let mut last = '\0';
    let mut run = 0;
    for c in surface.chars().flat_map(char::to_lowercase) {
        if c == last {
            run += 1;
            if run >= 2 && c.is_alphabetic() {
                repeat = 1;
                continue;
            }
        } else {
            run = 0;
            last = c;
        }
        text.push(c);
    }
    PostToken {
        text,
        kind,
        caps,
        repeat,
        span: at..at + surface.len(),
        role: 0,
    }
}

/// Pictographs, dingbats and symbols that carry meaning in posts.
fn is_emoji(c: char) -> bool {
    matches!(c as u32,
        0x1F300..=0x1FAFF | 0x2600..=0x27BF | 0x2B50 | 0x2B55 | 0x2300..=0x23FF)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<(String, Kind)> {
        tokens(&decode(s))
            .into_iter()
            .map(|t| (t.text, t.kind))
            .collect()
    }

    #[test]
    fn decodes_exports() {
        assert_eq!(decode("I\\u2019m &amp;gt; you"), "I'm > you");
        assert_eq!(decode("\\ud83d\\ude21 nope"), "😡 nope");
        assert_eq!(decode("a \\ubad b"), "a \\ubad b");
    }

    #[test]
    fn splits_hashtags_and_drops_handles_and_urls() {
        let t = texts("@DB_Bahn #BahnChaos https://t.co/x ist sooooo toll!!!");
        let words: Vec<&str> = t.iter().map(|(w, _)| w.as_str()).collect();
        assert_eq!(
            words,
            [
                "@db_bahn",
                "bahn",
                "chaos",
                "https://t.co/x",
                "ist",
                "soo",
                "toll",
                "!"
            ]
        );
        assert_eq!(t[1].1, Kind::Tag);
        assert_eq!(t[0].1, Kind::Handle);
    }

    #[test]
    fn finds_emoticons_and_emoji_glued_to_words() {
        let t = texts("super:) aber :-( und 😡😡");
        let kinds: Vec<Kind> = t.iter().map(|(_, k)| *k).collect();
        assert_eq!(
            kinds,
            [
                Kind::Word,
                Kind::Emoticon,
                Kind::Word,
                Kind::Emoticon,
                Kind::Word,
                Kind::Emoji,
                Kind::Emoji
            ]
        );
    }

    #[test]
    fn marks_caps_and_elongation() {
        let t = tokens("Das ist SUPER guuuut");
        assert!(t[2].caps && !t[1].caps);
        assert_eq!(t[3].text, "guut");
        assert_eq!(t[3].repeat, 1);
        assert_eq!(tokens("Warum?!?")[1].text, "?");
    }
}
