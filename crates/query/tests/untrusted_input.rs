//! Whatever a user types, the parser and matcher answer with a result, never a panic.

use lauscher_model::Lang;
use lauscher_query::{MentionFields, RuleSet, parse};
use proptest::prelude::*;

/// Fragments of the query language, so generated queries get past the lexer often.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("AND".to_owned()),
        Just("OR".to_owned()),
        Just("NOT".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("\"".to_owned()),
        Just("-".to_owned()),
        Just("NEAR/2".to_owned()),
        Just("ONEAR/0".to_owned()),
        Just("~3".to_owned()),
        Just("{x}".to_owned()),
        Just("raw:".to_owned()),
        Just("title:".to_owned()),
        Just("~stem:".to_owned()),
        Just("lang:de".to_owned()),
        Just("site:a.b".to_owned()),
        Just("verspät*".to_owned()),
        Just("#bahn".to_owned()),
        "[a-zäöüß?*@#:/ ]{0,8}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(lauscher_testkit::fuzz_config())]

    #[test]
    fn the_parser_never_panics(parts in prop::collection::vec(fragment(), 0..24), sep in "[ ]{0,2}") {
        let q = parts.join(&sep);
        for stem in [false, true] {
            if let Err(e) = parse(&q, stem) {
                prop_assert!(e.offset <= q.len());
            }
        }
    }

    #[test]
    fn parsed_queries_print_back_to_themselves(parts in prop::collection::vec(fragment(), 1..12)) {
        let q = parts.join(" ");
        if let Ok(e) = parse(&q, false) {
            let printed = e.to_string();
            let again = parse(&printed, false).map(|x| x.to_string());
            prop_assert_eq!(again, Ok(printed));
        }
    }

    #[test]
    fn matching_never_panics(parts in prop::collection::vec(fragment(), 1..12), text in any::<String>(), title in any::<String>()) {
        let q = parts.join(" ").replace('\'', "");
        let file = format!("version: 1\nrules:\n  - id: r\n    kind: brand\n    name: R\n    query: '{q}'\n");
        if let Ok(set) = RuleSet::from_texts(&[("p.yaml".into(), file)], &[Lang::De, Lang::En]) {
            let m = MentionFields { text: &text, title: Some(&title), lang: "de", source: "s", author: Some(&title), url: Some(&text) };
            let _ = set.topics(&m);
            let _ = set.explain(0, &m);
        }
    }

    #[test]
    fn rule_files_never_panic(text in any::<String>()) {
        let _ = RuleSet::from_texts(&[("p.yaml".into(), text)], &[Lang::De]);
    }
}
