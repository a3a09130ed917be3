//! Live matching and retro-search agree, for every operator of the query language.

use chrono::{TimeZone, Utc};
use lauscher_index::{MentionIndex, SearchRequest};
use lauscher_model::Lang;
use lauscher_model::{Intent, Label, ScoredMention, TopicKind};
use lauscher_query::{MentionFields, RuleSet};

/// (lang, source, author, url, title, text)
const CORPUS: &[(&str, &str, &str, &str, &str, &str)] = &[
    (
        "de",
        "social",
        "@Anna",
        "https://social.example/@anna/1",
        "",
        "Die Deutsche Bahn ist wieder zu spät #Bahnchaos",
    ),
    (
        "de",
        "social",
        "Bernd",
        "https://social.example/@bernd/2",
        "",
        "deutsche und bahn, aber nicht zusammen",
    ),
    (
        "de",
        "news",
        "Redaktion",
        "https://www.zeitung.example/wirtschaft/bahn-streik",
        "DB streikt wieder",
        "Der Streik bei der DB trifft Pendler in Zürich.",
    ),
    (
        "en",
        "news",
        "Desk",
        "https://news.example.com/tech/db",
        "Database news",
        "Our db migration failed again, said the team.",
    ),
    (
        "de",
        "forum",
        "carla",
        "https://forum.example.org/t/9",
        "",
        "Zug fällt aus, Zugausfall in Zurich, Verspätungen ohne Ende",
    ),
    (
        "de",
        "forum",
        "dieter",
        "https://forum.example.org/t/10",
        "",
        "Verspätung: der Zug ist heute verspätet angekommen",
    ),
    (
        "de",
        "forum",
        "emil",
        "https://forum.example.org/t/11",
        "",
        "Der verspätete Zug fährt nicht",
    ),
    (
        "en",
        "social",
        "@fiona",
        "https://social.example/@fiona/3",
        "",
        "The train was late again, thanks for nothing @DB_Bahn",
    ),
    (
        "en",
        "social",
        "gustav",
        "https://social.example/@gustav/4",
        "",
        "Late train, very late, train late",
    ),
    (
        "de",
        "social",
        "Hanna",
        "https://m.social.example/@hanna/5",
        "",
        "Stellenangebot: Azubi (m/w/d) bei der Bahn gesucht",
    ),
    (
        "de",
        "social",
        "ines",
        "https://social.example/@ines/6",
        "",
        "mail an info@bahn.example: #bahn hilft nicht",
    ),
    (
        "en",
        "blog",
        "jan",
        "https://blog.example.net/2026/db-review",
        "Review: the DB app",
        "The DB Navigator app crashes at login, crashing every time.",
    ),
    (
        "und",
        "social",
        "kim",
        "https://social.example/@kim/7",
        "",
        "DB DB DB!!!",
    ),
    (
        "en",
        "blog",
        "lena",
        "https://blog.example.net/2026/other",
        "Crashes",
        "An app that crashed is not a crash report.",
    ),
    (
        "de",
        "news",
        "Redaktion",
        "https://zeitung.example/regional/s-bahn",
        "S-Bahn Chaos",
        "Die S-Bahn in München: Verspätungen, Ausfälle, Ärger.",
    ),
    (
        "de",
        "forum",
        "otto",
        "https://forum.example.org/x/16",
        "",
        "Mein Zug verspätet sich schon wieder",
    ),
];

const RULES: &str = r#"version: 1
rules:
  - {id: word, kind: brand, name: w, query: 'bahn'}
  - {id: phrase, kind: brand, name: w, query: '"deutsche bahn"'}
  - {id: inner-punct, kind: brand, name: w, query: 's-bahn'}
  - {id: wildcard, kind: brand, name: w, query: 'verspät*'}
  - {id: single-char, kind: brand, name: w, query: 'crash??'}
  - {id: phrase-wildcard, kind: brand, name: w, query: '"zug verspät*"'}
  - {id: proximity, kind: brand, name: w, query: '"zug verspätet"~3'}
  - {id: near, kind: brand, name: w, query: 'train NEAR/1 late'}
  - {id: onear, kind: brand, name: w, query: 'late ONEAR/0 train'}
  - {id: near-group, kind: brand, name: w, query: '(zug OR zugausfall) NEAR/4 (zurich OR zürich)'}
  - {id: stem, kind: brand, name: w, query: '~stem:verspätung'}
  - {id: stem-en, kind: brand, name: w, query: '~stem:crashing'}
  - {id: stem-rule, kind: brand, name: w, query: 'crash', stem: true}
  - {id: hashtag, kind: brand, name: w, query: '#bahn OR #bahnchaos'}
  - {id: handle, kind: brand, name: w, query: '@db_bahn'}
  - {id: raw, kind: brand, name: w, query: 'raw:"DB"'}
  - {id: lang, kind: brand, name: w, query: 'lang:en AND app'}
  - {id: source, kind: brand, name: w, query: 'source:forum AND NOT emil'}
  - {id: author, kind: brand, name: w, query: 'author:anna OR author:"@Fiona"'}
  - {id: site, kind: brand, name: w, query: 'site:social.example'}
  - {id: url, kind: brand, name: w, query: 'url:forum.example.org/t/1'}
  - {id: url-host, kind: brand, name: w, query: 'url:blog.example'}
  - {id: title, kind: brand, name: w, query: 'title:db OR title:"s bahn"'}
  - {id: boolean, kind: brand, name: w, query: '(bahn OR zug) AND NOT (azubi OR "m/w/d")'}
  - {id: not-near, kind: brand, name: w, query: 'train AND NOT (train NEAR/0 late)'}
  - {id: refs, kind: brand, name: w, query: '{word} AND -{hashtag}', exclude: ['{noise}']}
  - {id: noise, kind: pack, query: 'stellenangebot OR azubi*'}
"#;

fn mentions() -> Vec<ScoredMention> {
    CORPUS
        .iter()
        .enumerate()
        .map(|(i, (lang, source, author, url, title, text))| {
            let at = Utc
                .with_ymd_and_hms(2026, 11, 1, 0, i as u32, 0)
                .single()
                .unwrap_or_default();
            let mut m = lauscher_testkit::scored(i as u128 + 1, text)
                .lang(lang)
                .source(source)
                .url(Some(url))
                .author(author, None)
                .at(at)
                .sentiment(0.0, Label::Neutral)
                .intent(Intent::Other)
                .topics(&[], TopicKind::Brand);
            if !title.is_empty() {
                m = m.title(title);
            }
            m.build()
        })
        .collect()
}

/// The ids of the corpus mentions rule `pos` matches live.
fn live_hits(set: &RuleSet, corpus: &[ScoredMention], pos: usize) -> Vec<u128> {
    corpus
        .iter()
        .filter(|s| {
            set.matches(
                pos,
                &MentionFields::of(&s.mention, lauscher_model::lang::code::of(s.lang)),
            )
        })
        .map(|s| s.mention.id.0)
        .collect()
}

#[test]
fn live_matching_and_retro_search_agree_for_every_operator() {
    let langs = [Lang::De, Lang::En];
    let set =
        RuleSet::from_texts(&[("retro.yaml".into(), RULES.into())], &langs).expect("rules load");
    let corpus = mentions();
    let dir = tempfile::tempdir().expect("tempdir");
    let index = MentionIndex::open(dir.path(), &langs).expect("index");
    let mut w = index.writer(32 << 20, 1).expect("writer");
    for m in &corpus {
        w.add(m, false).expect("add");
    }
    w.commit(0).expect("commit");
    w.close().expect("close");
    index.reload().expect("reload");

    let mut empty = Vec::new();
    for (pos, rule) in set.rules().iter().enumerate() {
        let mut live: Vec<u128> = live_hits(&set, &corpus, pos);
        let page = index
            .search(
                &SearchRequest {
                    rule: Some(rule.id.clone()),
                    limit: 100,
                    ..Default::default()
                },
                Some(&set),
            )
            .expect("retro-search");
        let mut retro: Vec<u128> = page.hits.iter().map(|h| h.id.0).collect();
        live.sort_unstable();
        retro.sort_unstable();
        assert_eq!(live, retro, "rule {} ({})", rule.id, rule.expr);
        assert_eq!(page.total, retro.len(), "rule {}", rule.id);
        if live.is_empty() {
            empty.push(rule.id.clone());
        }
    }
    // Every operator is exercised by at least one matching mention.
    assert!(empty.is_empty(), "rules matching nothing: {empty:?}");
}

#[test]
fn expected_matches_for_the_tricky_operators() {
    let langs = [Lang::De, Lang::En];
    let set =
        RuleSet::from_texts(&[("retro.yaml".into(), RULES.into())], &langs).expect("rules load");
    let corpus = mentions();
    let hits = |id: &str| -> Vec<u128> {
        let pos = set.position(id).expect("rule");
        live_hits(&set, &corpus, pos)
    };
    assert_eq!(hits("phrase"), [1]);
    assert_eq!(hits("raw"), [3, 12, 13]);
    assert_eq!(hits("hashtag"), [1, 11]);
    assert_eq!(hits("stem"), [5, 6, 15]);
    assert_eq!(hits("phrase-wildcard"), [16]);
    assert_eq!(hits("onear"), [9]);
    assert_eq!(hits("url"), [6, 7]);
    assert_eq!(hits("author"), [1, 8]);
    assert_eq!(hits("refs"), [2, 15]);
}
