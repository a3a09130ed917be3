//! Whatever a user writes in a config, alerting or lexicon file, loading it answers with
//! a result or an error at its place, never a panic.

use lauscher_config::{AlertingConfig, Config, UserLexicon};
use lauscher_model::Lang;
use lauscher_query::RuleSet;
use proptest::prelude::*;

proptest! {
    #![proptest_config(lauscher_testkit::fuzz_config())]

    #[test]
    fn config_files_never_panic(text in any::<String>()) {
        let _ = Config::from_str_named(&text, "lauscher.yaml", &|_| None);
        let _ = AlertingConfig::parse(&text, "alerts.yaml", &[], &|_| None);
        let _ = UserLexicon::parse(&text, "words.yaml", &[Lang::De, Lang::En]);
    }

    #[test]
    fn mangled_config_files_never_panic(
        which in 0usize..EXAMPLES.len(),
        at in 0.0f64..1.0,
        insert in "[-:{}\\[\\],\"'#&*!|>?%@` \n\ta-z0-9\u{e4}]{0,12}",
    ) {
        let example = EXAMPLES[which];
        let mut cut = (at * example.len() as f64) as usize;
        while !example.is_char_boundary(cut) {
            cut -= 1;
        }
        let text = format!("{}{insert}{}", &example[..cut], &example[cut..]);
        let env = |_: &str| Some("https://hooks.example.org/x".to_owned());
        let _ = Config::from_str_named(&text, "lauscher.yaml", &env);
        let _ = AlertingConfig::parse(&text, "alerts.yaml", &[], &env);
        let _ = UserLexicon::parse(&text, "words.yaml", &[Lang::De, Lang::En]);
        let _ = RuleSet::from_texts(&[("topics.yaml".into(), text)], &[Lang::De, Lang::En]);
    }
}

/// The files a user starts from, to mangle.
const EXAMPLES: [&str; 4] = [
    include_str!("../../../rules/lauscher.yaml"),
    include_str!("../../../rules/alerts.yaml"),
    include_str!("../../../rules/lexicon.yaml"),
    include_str!("../../../rules/topics/railway.yaml"),
];
