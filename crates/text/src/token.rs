//! The tokenizer and case/diacritic folding shared by index, query and scorer.

use unicode_normalization::char::decompose_canonical;

/// One token: a slice of the input with its byte offsets and position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token<'a> {
    /// The token as written (not folded).
    pub text: &'a str,
    /// Byte offset of the first character.
    pub start: usize,
    /// Byte offset one past the last character.
    pub end: usize,
    /// Ordinal of the token in the input, from 0.
    pub position: usize,
}

/// Returns whether `c` belongs inside a word token.
///
/// Letters, digits and `_` (common in handles) do; everything else separates tokens.
#[inline]
pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Splits `text` into word tokens: maximal runs of [`is_word_char`].
///
/// `#`, `@`, punctuation, emoji and whitespace separate tokens and are not returned, so
/// `#BahnChaos` yields `BahnChaos`. Allocates nothing.
pub fn tokenize(text: &str) -> impl Iterator<Item = Token<'_>> {
    let mut offset = 0;
    let mut position = 0;
    std::iter::from_fn(move || {
        let (start, end) = next_word(text, offset)?;
        offset = end;
        let token = Token {
            text: &text[start..end],
            start,
            end,
            position,
        };
        position += 1;
        Some(token)
    })
}

/// Returns the byte range of the first word token at or after byte `from` (a char
/// boundary): the one scan behind [`tokenize`] and the index's token streams.
pub fn next_word(text: &str, from: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut i = from;
    // ASCII bytes are classified directly; only other characters are decoded.
    let start = loop {
        let b = *bytes.get(i)?;
        if b.is_ascii() {
            if b.is_ascii_alphanumeric() || b == b'_' {
                break i;
            }
            i += 1;
        } else {
            let c = text.get(i..)?.chars().next()?;
            if is_word_char(c) {
                break i;
            }
            i += c.len_utf8();
        }
    };
    let mut end = start;
    while let Some(&b) = bytes.get(end) {
        if b.is_ascii() {
            if !(b.is_ascii_alphanumeric() || b == b'_') {
                break;
            }
            end += 1;
        } else {
            let Some(c) = text.get(end..).and_then(|r| r.chars().next()) else {
                break;
            };
            if !is_word_char(c) {
                break;
            }
            end += c.len_utf8();
        }
    }
    Some((start, end))
}

/// Returns `#` or `@` when the token starting at byte `start` of `text` is a hashtag or
/// handle: the sigil sits right before it and is not itself preceded by a word character
/// (so `mail@example.org` holds no handle).
pub fn sigil(text: &str, start: usize) -> Option<u8> {
    let before = start.checked_sub(1)?;
    let c = *text.as_bytes().get(before)?;
    if !matches!(c, b'#' | b'@') {
        return None;
    }
    let prev = text.get(..before)?.chars().next_back();
    prev.is_none_or(|p| !is_word_char(p)).then_some(c)
}

/// Returns the hashtags and handles of `text`, folded, with their sigil (`#bahnchaos`,
/// `@db_bahn`): what `#tag` and `@handle` in topic rules match.
pub fn tags(text: &str) -> impl Iterator<Item = String> + '_ {
    tokenize(text).filter_map(move |t| {
        let s = sigil(text, t.start)?;
        let mut out = String::with_capacity(t.text.len() + 1);
        out.push(s as char);
        fold_into(t.text, &mut out);
        Some(out)
    })
}

/// Returns each token of `text` as (folded form, surface form): what sentiment and
/// topic matching look up. Allocates one `String` per token.
pub fn folded_tokens(text: &str) -> Vec<(String, &str)> {
    tokenize(text).map(|t| (fold(t.text), t.text)).collect()
}

/// Returns whether a whitespace-separated word is a URL (`http://`, `https://`,
/// `www.`): noise for language detection and duplicate fingerprints.
pub fn is_url(word: &str) -> bool {
    word.starts_with("http://") || word.starts_with("https://") || word.starts_with("www.")
}

/// Returns `word` lowercased with diacritics removed: `Zürich` → `zurich`, `Straße` →
/// `strasse`, `Café` → `cafe`.
///
/// ASCII input costs one lowercase copy; other characters go through canonical
/// decomposition, keeping base characters and dropping combining marks.
pub fn fold(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    fold_into(word, &mut out);
    out
}

/// Appends the folded form of `word` to `out` (see [`fold`]).
pub fn fold_into(word: &str, out: &mut String) {
    for c in word.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            continue;
        }
        match c {
            'ß' | 'ẞ' => out.push_str("ss"),
            'æ' | 'Æ' => out.push_str("ae"),
            'ø' | 'Ø' => out.push('o'),
            'œ' | 'Œ' => out.push_str("oe"),
            'ł' | 'Ł' => out.push('l'),
            'đ' | 'Đ' => out.push('d'),
            _ => {
                for lower in c.to_lowercase() {
                    // Any other mark the tokenizer would not keep in a word (the Oriya
                    // nukta of `ଡ଼`) goes too, so a folded word tokenizes back to itself.
                    decompose_canonical(lower, |d| {
                        let split_off =
                            unicode_normalization::char::is_combining_mark(d) && !is_word_char(d);
                        if !is_combining_mark(d) && !split_off {
                            out.push(d);
                        }
                    });
                }
            }
        }
    }
}

fn is_combining_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<&str> {
        tokenize(s).map(|t| t.text).collect()
    }

    #[test]
    fn splits_on_punctuation_hashtags_and_emoji() {
        assert_eq!(
            words("RT @db_bahn: #BahnChaos!! Zug fällt aus 😡 https://t.co/x1"),
            [
                "RT",
                "db_bahn",
                "BahnChaos",
                "Zug",
                "fällt",
                "aus",
                "https",
                "t",
                "co",
                "x1"
            ]
        );
        assert!(words("  ...!!! ").is_empty());
    }

    #[test]
    fn folded_words_tokenize_back_to_themselves() {
        for w in ["ଡ଼", "Zürich", "Ǆemal", "ﬁne"] {
            let f = fold(w);
            assert_eq!(words(&f), [f.as_str()], "{w:?}");
        }
    }

    #[test]
    fn positions_and_offsets_point_back_into_the_input() {
        let t: Vec<_> = tokenize("ab, cd").collect();
        assert_eq!((t[1].start, t[1].end, t[1].position), (4, 6, 1));
    }

    #[test]
    fn finds_hashtags_and_handles_but_not_mail_addresses() {
        let t: Vec<String> = tags("#BahnChaos bei @DB_Bahn, mail@bahn.de, x#y").collect();
        assert_eq!(t, ["#bahnchaos", "@db_bahn"]);
    }

    #[test]
    fn folds_case_and_diacritics() {
        assert_eq!(fold("Zürich"), "zurich");
        assert_eq!(fold("STRASSE"), fold("Straße"));
        assert_eq!(fold("Café"), "cafe");
        assert_eq!(fold("ÄRGER"), "arger");
    }
}
