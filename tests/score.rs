//! `lauscher score` and `lauscher eval`, and user lexicons in the config.

use std::io::Write;
use std::process::Stdio;

use serde_json::Value;

use crate::util::Dir;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn score_explains_language_sentiment_and_intent() {
    let dir = Dir::new();
    let out = dir
        .cmd(&[
            "score",
            "Toll, schon wieder 30 Minuten Verspätung. Danke für nichts!",
        ])
        .output()
        .expect("run");
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("lang      de"), "{text}");
    assert!(text.contains("sentiment negative"), "{text}");
    assert!(text.contains("intent    complaint"), "{text}");
    assert!(text.contains("danke für nichts"), "{text}");

    let out = dir
        .cmd(&["score", "--json", "--lang", "en", "Great, another delay"])
        .output()
        .expect("run");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["lang"], "en");
    assert_eq!(v["label"], "negative", "{v}");
    assert!(
        v["explanation"][0]["cue"]
            .as_str()
            .is_some_and(|c| c.starts_with("sarcasm")),
        "{v}"
    );
}

#[test]
fn score_reads_one_post_per_line_from_stdin() {
    let dir = Dir::new();
    let mut child = dir
        .cmd(&["score", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(
            "Der Service war großartig!\n\nHow do I change my seat reservation?\n".as_bytes(),
        )
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["label"], "positive");
    assert_eq!(lines[0]["intent"], "praise");
    assert_eq!(lines[1]["lang"], "en");
    assert_eq!(lines[1]["intent"], "question", "{}", lines[1]);
}

const LABELED: &str = "id\tlang\tlabel\ttext\tnote
1\tde\tnegative\tDas war leider eine Katastrophe\tx
2\tde\tpositive\tWunderbar, vielen Dank!\tx
3\tde\tneutral\tDer Zug fährt um neun\tx
4\ten\tnegative\tWorst service ever\tx
5\ten\tpositive\tI love it\tx
6\ten\tmaybe\tbad label\tx
7\ten
8\ten\tneutral\tThe train leaves at nine\tx
";

#[test]
fn eval_reports_f1_per_language_and_skips_bad_rows_by_line() {
    let dir = Dir::new();
    let file = dir.write("labeled.tsv", LABELED);
    let out = dir
        .cmd(&["eval", "--json"])
        .arg(&file)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["n"], 6);
    assert_eq!(v["accuracy"], 1.0, "{v}");
    assert_eq!(v["macro_f1"], 1.0);
    assert_eq!(v["per_lang"]["de"]["n"], 3);
    assert_eq!(v["per_lang"]["en"]["n"], 3);
    assert!(v["posts_per_sec"].as_f64().is_some_and(|p| p > 0.0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("labeled.tsv:7: skipped: unknown label"),
        "{stderr}"
    );
    assert!(
        stderr.contains("labeled.tsv:8: skipped: 2 columns"),
        "{stderr}"
    );

    let out = dir.cmd(&["eval"]).arg(&file).output().expect("run");
    let text = stdout(&out);
    assert!(text.contains("macro-F1 1.000"), "{text}");
    assert!(text.contains("lang de: n 3"), "{text}");
    assert!(text.contains("posts/s"), "{text}");

    let bad = dir.write("bad.tsv", "id\tlabel\n1\tpositive\n");
    let out = dir.cmd(&["eval"]).arg(&bad).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no \"lang\" column"));
}

#[test]
fn a_user_lexicon_changes_scores_and_a_broken_one_is_located() {
    let dir = Dir::new();
    dir.write_config("");
    let config = std::fs::read_to_string(dir.config()).expect("config");
    let with_lexicon = config.replace(
        "rules: [topics.yaml]",
        "rules: [topics.yaml]\nsentiment:\n  lexicons: [words.yaml]\n  neutral_band: {de: 0.2}\n",
    );
    std::fs::write(dir.config(), with_lexicon).expect("write");
    dir.write(
        "words.yaml",
        "version: 1\nlang: de\nwords:\n  blitzbus: -3\n",
    );
    let out = dir
        .cmd(&["score", "--json", "--lang", "de", "--config"])
        .arg(dir.config())
        .arg("Ich nehme den Blitzbus")
        .output()
        .expect("run");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["label"], "negative", "{v}");

    dir.write(
        "words.yaml",
        "version: 1\nlang: de\nwords:\n  blitzbus: -7\n",
    );
    let out = dir
        .cmd(&["check", "--config"])
        .arg(dir.config())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("words.yaml:4:3: valence -7"), "{err}");
}
