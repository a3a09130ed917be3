//! Lines of an import file are untrusted: whatever they hold, a line is a mention or a
//! reason to reject it, never a panic.

use chrono::Utc;
use lauscher_pipeline::import::parse_record;
use proptest::prelude::*;

const GOOD: &str = r#"{"id":"p1","source":"forum","url":"https://forum.example/t/1?utm_source=x","author":"@anna","followers":1200,"published_at":"2026-11-20T10:00:00Z","title":"Acme","text":"Acme Bahn &amp; <b>wieder</b> verspätet \u00e4","lang":"de"}"#;

proptest! {
    #![proptest_config(lauscher_testkit::fuzz_config())]

    #[test]
    fn arbitrary_lines_never_panic_the_import(line in any::<String>()) {
        let _ = parse_record(&line, "import", Utc::now());
    }

    #[test]
    fn mangled_records_never_panic_the_import(
        at in 0.0f64..1.0,
        insert in "[{}\\[\\]:,\"\\\\ 0-9a-z.\\-+eE\u{e4}\u{1F600}]{0,10}",
    ) {
        let mut cut = (at * GOOD.len() as f64) as usize;
        while !GOOD.is_char_boundary(cut) {
            cut -= 1;
        }
        let line = format!("{}{insert}{}", &GOOD[..cut], &GOOD[cut..]);
        let _ = parse_record(&line, "import", Utc::now());
    }
}

#[test]
fn the_seed_record_is_a_mention() {
    let m = parse_record(GOOD, "import", Utc::now()).expect("valid");
    assert_eq!(m.source, "forum");
    assert!(m.text.contains("& wieder verspätet"), "{}", m.text);
}
