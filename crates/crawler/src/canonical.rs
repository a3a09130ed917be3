//! Canonical URLs and deterministic mention ids.
//!
//! Both are frozen behaviour: a mention's id is the hash of its canonical URL, so any
//! change here re-indexes every mention as new. The golden tests below pin it.

use lauscher_model::MentionId;
use url::Url;

/// Query parameters that only track clicks; removing them never changes the page.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "mc_cid",
    "mc_eid",
    "igshid",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "ref_src",
    "ref_url",
    "s_cid",
    "twclid",
    "li_fat_id",
    "oly_anon_id",
    "oly_enc_id",
    "vero_id",
    "_ga",
    "_gl",
    "spm",
    "cmpid",
    "wt_mc",
    "wt_zmc",
    "xtor",
];

/// Returns the canonical form of `raw`, resolved against `base` when relative.
///
/// Lowercases scheme and host (the `url` crate does), drops the default port, the
/// fragment, every `utm_*` parameter and the known click trackers, sorts the remaining
/// query parameters, and removes an empty query. Paths keep their case and trailing
/// slash: servers may treat them differently. Returns `None` for anything but http(s).
pub fn canonical_url(raw: &str, base: Option<&Url>) -> Option<Url> {
    let raw = raw.trim();
    let mut url = match base {
        Some(base) => base.join(raw).ok()?,
        None => Url::parse(raw).ok()?,
    };
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    url.set_fragment(None);
    if url.query().is_some() {
        let mut pairs: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| {
                let k = k.to_ascii_lowercase();
                !(k.starts_with("utm_") || TRACKING_PARAMS.contains(&k.as_str()))
            })
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if pairs.is_empty() {
            url.set_query(None);
        } else {
            pairs.sort();
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
    }
    Some(url)
}

/// Returns the id of a mention from the most stable key it has: its canonical URL, else
/// the source's native id (scoped by source), else its content hash (scoped by source).
/// `content_hash` is called only when needed: most mentions have a URL or native id.
pub fn mention_id(
    source: &str,
    canonical: Option<&Url>,
    native_id: Option<&str>,
    content_hash: impl FnOnce() -> u128,
) -> MentionId {
    if let Some(url) = canonical {
        return MentionId::from_key(&format!("url:{url}"));
    }
    if let Some(native) = native_id.map(str::trim).filter(|n| !n.is_empty()) {
        return MentionId::from_key(&format!("native:{source}:{native}"));
    }
    MentionId::from_key(&format!("content:{source}:{:032x}", content_hash()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        canonical_url(s, None)
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn drops_trackers_fragment_and_default_port() {
        assert_eq!(
            canon("HTTPS://News.Example.ORG:443/a/B?utm_source=x&b=2&fbclid=y&a=1#top"),
            "https://news.example.org/a/B?a=1&b=2"
        );
        assert_eq!(
            canon("http://example.org/x?utm_medium=social"),
            "http://example.org/x"
        );
    }

    #[test]
    fn resolves_relative_links_and_rejects_other_schemes() {
        let base = Url::parse("https://example.org/feed/rss.xml").ok();
        assert_eq!(
            canonical_url("../posts/1", base.as_ref())
                .map(|u| u.to_string())
                .as_deref(),
            Some("https://example.org/posts/1")
        );
        assert_eq!(canon("mailto:a@example.org"), "");
        assert_eq!(canon("not a url"), "");
    }

    #[test]
    fn mention_ids_are_frozen() {
        let url = canonical_url("https://example.org/a?utm_source=x", None);
        assert_eq!(
            mention_id("s", url.as_ref(), Some("g1"), || 0).to_string(),
            MentionId::from_key("url:https://example.org/a").to_string()
        );
        // Golden value: xxh3-128 of "url:https://example.org/a". If this changes, every
        // stored mention gets a new id.
        assert_eq!(
            MentionId::from_key("url:https://example.org/a").to_string(),
            GOLDEN
        );
        assert_ne!(
            mention_id("s1", None, Some("g1"), || 0),
            mention_id("s2", None, Some("g1"), || 0)
        );
        assert_eq!(
            mention_id("s", None, Some("  "), || 7),
            mention_id("s", None, None, || 7)
        );
    }

    const GOLDEN: &str = "b7e8b93359117e7b75e433b61fd35d13";
}
