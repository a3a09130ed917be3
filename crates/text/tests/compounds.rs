//! The German compound splitter against a list of compounds and look-alikes we wrote
//! (`compounds.tsv`): each compound splits where written, each other word stays whole.

use lauscher_text::compound::Compounds;

#[test]
fn compounds_split_and_look_alikes_stay_whole() {
    let data = include_str!("compounds.tsv");
    let mut failures = Vec::new();
    let mut n = 0;
    for (line_no, line) in data.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((word, want)) = line.split_once('\t') else {
            panic!("compounds.tsv:{}: expected word<TAB>split", line_no + 1);
        };
        n += 1;
        let got = Compounds::german()
            .split(word)
            .map_or_else(|| "-".to_owned(), |s| s.to_string());
        if got != want {
            failures.push(format!("{}: {word}: want {want}, got {got}", line_no + 1));
        }
    }
    assert!(n >= 200, "only {n} words");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
