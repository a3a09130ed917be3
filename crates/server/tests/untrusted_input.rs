//! Query strings are untrusted: whatever they hold, the parameters of search, insights and
//! the report parse into a request or an error, never a panic.

use axum::extract::Query;
use axum::http::Uri;
use chrono::Utc;
use lauscher_server::{ReportParams, SearchParams};
use proptest::prelude::*;

/// Parameter names and values that get past the URL decoder often.
fn pair() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("q"),
        Just("rule"),
        Just("since"),
        Just("until"),
        Just("topic"),
        Just("lang"),
        Just("source"),
        Just("label"),
        Just("intent"),
        Just("collapse"),
        Just("limit"),
        Just("offset"),
        Just("interval"),
        Just("tz"),
        Just("n"),
        Just("weeks"),
        Just("week"),
        Just("day"),
        Just("format"),
        Just("rank"),
        Just("recur"),
        Just("x"),
    ];
    let value = prop_oneof![
        Just("7d".to_owned()),
        Just("2026-W47".to_owned()),
        Just("-1".to_owned()),
        Just("99999999999999999999".to_owned()),
        Just("%ZZ".to_owned()),
        Just("1h".to_owned()),
        Just("Mars%2FOlympus".to_owned()),
        "[a-z0-9%+:.\\-]{0,12}",
        any::<String>().prop_map(|s| s.replace(['&', '#'], "")),
    ];
    (name, value).prop_map(|(n, v)| format!("{n}={v}"))
}

proptest! {
    #![proptest_config(lauscher_testkit::fuzz_config())]

    #[test]
    fn query_strings_never_panic_the_parameters(pairs in prop::collection::vec(pair(), 0..8)) {
        let query = pairs.join("&");
        let Ok(uri) = format!("/api/v1/search?{query}").parse::<Uri>() else {
            return Ok(());
        };
        if let Ok(Query(p)) = Query::<SearchParams>::try_from_uri(&uri) {
            let _ = p.into_request();
        }
        if let Ok(Query(p)) = Query::<lauscher_insights::Params>::try_from_uri(&uri) {
            let _ = p.filters(Utc::now());
        }
        let _ = Query::<ReportParams>::try_from_uri(&uri);
    }
}
