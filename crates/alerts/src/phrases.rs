//! Frequent words and word pairs of an alert's posts: what people complain about, at a
//! glance. Counted per post (a word repeated in one post counts once); stop words,
//! handles, links and words under 4 letters are left out.

use std::collections::{HashMap, HashSet};

use lauscher_model::Lang;
use lauscher_text::stopwords::is_stopword;
use lauscher_text::{fold, tokenize};

/// The `n` words or word pairs found in the most of `texts` (at least two), most
/// frequent first; a pair wins over its words when equally frequent.
pub fn top<'a>(texts: impl Iterator<Item = &'a str>, n: usize) -> Vec<String> {
    let mut counts: HashMap<String, u32> = HashMap::new();
    for text in texts {
        let words: Vec<String> = tokenize(text)
            .map(|t| fold(t.text))
            .filter(|w| {
                w.chars().count() >= 4
                    && !w.chars().all(|c| c.is_ascii_digit())
                    && !is_stopword(Lang::De, w)
                    && !is_stopword(Lang::En, w)
                    && !w.starts_with("http")
            })
            .collect();
        let mut seen = HashSet::new();
        for w in &words {
            seen.insert(w.clone());
        }
        for pair in words.windows(2) {
            seen.insert(format!("{} {}", pair[0], pair[1]));
        }
        for k in seen {
            *counts.entry(k).or_default() += 1;
        }
    }
    let mut ranked: Vec<(String, u32)> = counts.into_iter().filter(|(_, c)| *c >= 2).collect();
    ranked.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then_with(|| b.0.contains(' ').cmp(&a.0.contains(' ')))
            .then_with(|| a.0.cmp(&b.0))
    });
    let mut out: Vec<String> = Vec::new();
    for (k, _) in ranked {
        // A word already covered by a chosen pair adds nothing.
        if out.iter().any(|o| o.split(' ').any(|w| w == k)) {
            continue;
        }
        out.push(k);
        if out.len() == n {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn pairs_win_and_stopwords_go() {
        let texts = [
            "Die App stürzt beim Login ab",
            "wieder: App stürzt beim Login ab!!",
            "Login kaputt, die App stürzt",
        ];
        let top = super::top(texts.iter().copied(), 3);
        assert_eq!(top[0], "login", "{top:?}");
        assert!(
            top.contains(&"sturzt".to_string()) || top.iter().any(|t| t.contains("sturzt")),
            "{top:?}"
        );
    }
}
