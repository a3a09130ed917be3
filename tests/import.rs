//! `lauscher import` of JSON Lines.

use crate::util::Dir;

#[test]
fn import_indexes_valid_lines_and_reports_bad_ones_by_line_number() {
    let dir = Dir::new();
    dir.write_config("");
    let file = dir.write(
        "posts.jsonl",
        concat!(
            "{\"id\":\"1\",\"text\":\"Acme Bahn app crashes at login\",\"published_at\":\"2026-11-20T10:00:00Z\",\"author\":\"@a\",\"followers\":1200,\"lang\":\"en\"}\n",
            "not json at all\n",
            "\n",
            "{\"url\":\"https://x.example/p/2?utm_source=a\",\"text\":\"Blitzbus war pünktlich und freundlich\",\"published_at\":1763632800}\n",
            "{\"id\":\"3\",\"published_at\":\"2026-11-20T10:00:00Z\"}\n",
            "{\"id\":\"4\",\"text\":\"Acme Bahn app crashes at login\",\"published_at\":\"2026-11-20T10:05:00Z\"}\n",
            "{\"id\":\"5\",\"text\":\"Nothing to see here about weather\",\"published_at\":\"2026-11-20T10:05:00Z\"}\n",
            "{\"id\":\"6\",\"text\":\"Acme\",\"published_at\":\"tomorrow\"}\n",
        ),
    );
    let s = dir.import(&file);
    assert_eq!(s["read"], 7);
    assert_eq!(s["indexed"], 2);
    assert_eq!(s["duplicates"], 1, "{s}");
    assert_eq!(s["unmatched"], 1);
    assert_eq!(s["rejected"], 3);
    let lines: Vec<u64> = s["rejected_lines"]
        .as_array()
        .expect("lines")
        .iter()
        .filter_map(|r| r["line"].as_u64())
        .collect();
    assert_eq!(lines, [2, 5, 8]);
    let page = dir.search(&["crash"]);
    assert_eq!(page["hits"][0]["author"], "@a");
    assert_eq!(page["hits"][0]["author_reach"], 1200);
    assert_eq!(
        dir.search(&["blitzbus"])["hits"][0]["url"],
        "https://x.example/p/2"
    );
    // Importing again adds nothing.
    let s = dir.import(&file);
    assert_eq!(s["indexed"], 0);
    assert_eq!(dir.total(&[]), 2);
}
