//! The desk through its public interface on a real state store: intake, actions, the SLA
//! clock and KPIs whose every formula is pinned by a hand-computed fixture.

use std::collections::BTreeMap;
use std::sync::Arc;

use lauscher_config::AlertingConfig;
use lauscher_desk::{
    Action, Actor, Desk, DeskError, DismissReason, ItemFilter, ItemState, KpiRequest,
};
use lauscher_model::{Intent, MentionSummary};
use lauscher_state::StateStore;

/// Monday 2026-11-30 10:00 UTC.
const T: i64 = 1_796_032_800;

const ALERTS: &str = r#"
version: 1
receivers:
  - {id: service-slack, kind: slack, url: "http://127.0.0.1:9/hook"}
desk:
  own_accounts:
    acme: [AcmeBahn, acmebot]
  bots: [acmebot]
  sla:
    - name: standard
      first_response: 1h
      next_response: 4h
      resolution: 3d
      receivers: [service-slack]
"#;

fn desk() -> (Desk, Arc<StateStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = Arc::new(StateStore::open(&dir.path().join("state.db")).expect("state"));
    let alerting = AlertingConfig::parse(ALERTS, "alerts.yaml", &[], &|_| None).expect("alerting");
    let kinds = BTreeMap::from([("acme".to_owned(), "brand".to_owned())]);
    let desk = Desk::new(&alerting, state.clone(), kinds).expect("desk section");
    (desk, state, dir)
}

/// Post `n` by `author` at `T + t`, fetched a minute later, replying to `reply_to`.
fn post(n: u64, author: &str, t: i64, intent: Intent, reply_to: Option<u64>) -> MentionSummary {
    let mut m = lauscher_testkit::summary(n, T + t);
    m.author_key = author.into();
    m.intent = intent;
    m.fetched_at = lauscher_testkit::at(T + t + 60);
    m.url = Some(format!("https://social.example/{n}"));
    m.reply_to = reply_to.map(|p| format!("https://social.example/{p}"));
    m.topics = vec!["acme".into()];
    m
}

fn user(name: &str) -> Actor {
    Actor::User(name.into())
}

fn id_of(desk: &Desk, author: &str) -> i64 {
    let all = desk
        .list(
            &ItemFilter {
                states: ItemState::ALL.to_vec(),
                ..ItemFilter::default()
            },
            T + 100_000,
        )
        .expect("list");
    all.iter()
        .find(|v| v.item.post.author == author)
        .map(|v| v.item.id)
        .expect("item of author")
}

#[test]
fn complaints_and_questions_become_items_own_posts_and_praise_do_not() {
    let (desk, _state, _dir) = desk();
    let got = desk
        .intake(
            &[
                post(1, "kim", 0, Intent::Complaint, None),
                post(2, "lea", 10, Intent::Question, None),
                post(3, "max", 20, Intent::Praise, None),
                post(4, "acmebahn", 30, Intent::Complaint, None),
            ],
            T + 100,
        )
        .expect("intake");
    assert_eq!(got.created, 2);
    // The same mentions again (a replay after a restart) change nothing.
    let again = desk
        .intake(&[post(1, "kim", 0, Intent::Complaint, None)], T + 200)
        .expect("intake");
    assert_eq!(again.created, 0);
    // Archive posts are no queue.
    let old = desk
        .intake(&[post(9, "old", -10 * 86_400, Intent::Complaint, None)], T)
        .expect("intake");
    assert_eq!(old.created, 0);
}

#[test]
fn stale_writes_and_impossible_transitions_are_refused() {
    let (desk, _state, _dir) = desk();
    desk.intake(&[post(1, "kim", 0, Intent::Complaint, None)], T + 60)
        .expect("intake");
    let id = id_of(&desk, "kim");
    let claimed = desk
        .act(id, Action::Claim, user("anna"), Some(1), T + 120)
        .expect("claim");
    assert_eq!(claimed.state, ItemState::Open);
    assert_eq!(claimed.version, 2);
    let stale = desk.act(id, Action::Resolve, user("bob"), Some(1), T + 130);
    assert!(
        matches!(
            stale,
            Err(DeskError::Stale {
                expected: 1,
                current: 2,
                ..
            })
        ),
        "{stale:?}"
    );
    let taken = desk.act(id, Action::Claim, user("bob"), None, T + 130);
    assert!(taken.is_err(), "anna's item is not bob's to claim");
    desk.act(
        id,
        Action::Dismiss(DismissReason::Spam),
        user("anna"),
        None,
        T + 140,
    )
    .expect("dismiss");
    let after = desk.act(id, Action::Pending, user("anna"), None, T + 150);
    assert!(matches!(after, Err(DeskError::Refused(_))), "{after:?}");
}

#[test]
fn sla_warns_at_three_quarters_and_breaches_once_each() {
    let (desk, state, _dir) = desk();
    desk.intake(&[post(1, "kim", 0, Intent::Complaint, None)], T + 60)
        .expect("intake");
    assert_eq!(desk.tick(T + 44 * 60).expect("tick"), 0);
    assert_eq!(
        desk.tick(T + 45 * 60).expect("tick"),
        1,
        "warning at 45 of 60 minutes"
    );
    assert_eq!(
        desk.tick(T + 50 * 60).expect("tick"),
        0,
        "one warning per clock run"
    );
    assert_eq!(
        desk.tick(T + 60 * 60).expect("tick"),
        1,
        "breach at 60 minutes"
    );
    assert_eq!(desk.tick(T + 70 * 60).expect("tick"), 0);
    // Both queued for the receiver; delivered in order, the warning first.
    assert_eq!(
        state.pending_per_receiver().expect("outbox"),
        [("service-slack".to_owned(), 2)]
    );
    let first = state.due_notifications(T + 100 * 60, 10).expect("outbox");
    assert_eq!(first[0].event, "sla_warning");
    assert!(
        first[0].body.contains("SLA warning: item 1"),
        "{}",
        first[0].body
    );
}

#[test]
fn pending_stops_the_resolution_clock_but_not_the_first_response() {
    let (desk, state, _dir) = desk();
    desk.intake(&[post(1, "kim", 0, Intent::Complaint, None)], T + 60)
        .expect("intake");
    let id = id_of(&desk, "kim");
    desk.act(id, Action::Pending, user("anna"), None, T + 600)
        .expect("pending");
    assert_eq!(
        desk.tick(T + 3600).expect("tick"),
        1,
        "first response breaches while pending"
    );
    // Three days later the resolution clock has not run: it stopped at pending.
    assert_eq!(desk.tick(T + 4 * 86_400).expect("tick"), 0);
    let events: Vec<String> = state
        .due_notifications(T + 5 * 86_400, 10)
        .expect("outbox")
        .into_iter()
        .map(|o| o.body)
        .collect();
    assert_eq!(events.len(), 1);
    assert!(events[0].contains("first response"), "{}", events[0]);
}

#[test]
fn kpis_follow_the_written_formulas() {
    let (desk, _state, _dir) = desk();
    let h = 3600;
    let now = T + 3 * h;
    let c = Intent::Complaint;
    // A: claimed by anna at 10 min, receipt at 20 min, resolved at 1 h.
    desk.intake(&[post(1, "a", 0, c, None)], T + 60)
        .expect("intake");
    // B: answered by the brand account in the thread at 2 h, never assigned.
    desk.intake(&[post(2, "b", 300, c, None)], T + 360)
        .expect("intake");
    // C: bob's receipt before anyone owned it, then carol takes it over and resolves.
    desk.intake(&[post(3, "c", 600, c, None)], T + 660)
        .expect("intake");
    // D: only a bot answered: unanswered.
    desk.intake(&[post(4, "d", 900, c, None)], T + 960)
        .expect("intake");
    // F: answered, resolved, then the author writes again: reopened.
    desk.intake(&[post(6, "f", 1200, c, None)], T + 1260)
        .expect("intake");
    // G: spam.
    desk.intake(&[post(7, "g", 1500, c, None)], T + 1560)
        .expect("intake");
    // E: posted ten minutes before the report: too young to count as late.
    desk.intake(&[post(5, "e", 3 * h - 600, c, None)], T + 3 * h - 540)
        .expect("intake");
    let (a, b, cc, d, f, g) = (
        id_of(&desk, "a"),
        id_of(&desk, "b"),
        id_of(&desk, "c"),
        id_of(&desk, "d"),
        id_of(&desk, "f"),
        id_of(&desk, "g"),
    );
    let act = |id, action, who: &str, t| {
        desk.act(id, action, user(who), None, T + t).expect("act");
    };
    act(a, Action::Claim, "anna", 600);
    act(a, Action::Ack(Some("4711".into())), "anna", 1200);
    act(a, Action::Resolve, "anna", 3600);
    let brand = desk
        .intake(
            &[post(20, "acmebahn", 7200, Intent::Other, Some(2))],
            T + 7260,
        )
        .expect("intake");
    assert_eq!(brand.responses, 1);
    act(cc, Action::Ack(None), "bob", 2400);
    act(cc, Action::Assign("carol".into()), "carol", 3000);
    act(cc, Action::Resolve, "carol", 4200);
    let bot = desk
        .intake(
            &[post(21, "acmebot", 960, Intent::Other, Some(4))],
            T + 1000,
        )
        .expect("intake");
    assert_eq!(bot.responses, 1, "recorded, but never counted");
    act(f, Action::Claim, "anna", 1500);
    act(f, Action::Ack(None), "anna", 1800);
    act(f, Action::Resolve, "anna", 2400);
    let follow = desk
        .intake(&[post(22, "f", 3000, c, Some(6))], T + 3060)
        .expect("intake");
    assert_eq!(follow.follow_ups, 1);
    act(g, Action::Dismiss(DismissReason::Spam), "anna", 1600);
    let _ = d;
    assert_eq!(desk.item(b).expect("b").0.item.state, ItemState::New);

    let req = KpiRequest {
        since: T,
        until: T + 4 * h,
        now,
        targets: vec![h, 6 * h],
        by: Some("agent".parse().expect("dimension")),
        step: h,
    };
    let r = desk.kpi(&req).expect("kpi");
    let k = &r.total;
    assert_eq!(k.volume, 7);
    assert_eq!(k.dismissed, 1);
    assert_eq!(
        k.answered, 4,
        "A, B, C, F; the bot's reply to D does not count"
    );
    // FRT: F 600, A 1200, C 1800, B 6900.
    assert_eq!(k.first_response.median, Some(1500.0));
    assert_eq!(k.first_response.p90, Some(6900.0));
    assert_eq!(k.first_response.mean, Some(2625.0));
    // SL@1h: 3 met of 4 answered + D (unanswered, 2h45 old); E (10 min) left out.
    assert_eq!(k.service_levels[0].met, 3);
    assert_eq!(k.service_levels[0].counted, 5);
    // SL@6h: every answered item; D is younger than 6h: left out.
    assert_eq!(k.service_levels[1].met, 4);
    assert_eq!(k.service_levels[1].counted, 4);
    // TTR (first resolution): A 3600, C 3600, F 1200.
    assert_eq!(k.resolution.n, 3);
    assert_eq!(k.resolution.median, Some(3600.0));
    assert_eq!(k.resolved, 2, "F was reopened");
    assert_eq!(k.resolved_share, Some(2.0 / 6.0));
    assert_eq!(k.reopened, 1);
    // Handle time: A 3000 (anna), C 600 (bob) + 1200 (carol).
    assert_eq!(k.handle_time.n, 2);
    assert_eq!(k.handle_time.mean, Some(2400.0));
    assert_eq!(k.detection_lag.median, Some(60.0));
    // Backlog now: B, D, E new, F open; D past its first-response due time.
    assert_eq!(
        (k.backlog.new, k.backlog.open, k.backlog.breached),
        (3, 1, 1)
    );
    assert_eq!(k.backlog.oldest_age_s, Some(3 * h - 300));
    // First-response SLA: A, C, F in time; B late, D past due.
    assert_eq!((k.sla_met, k.sla_breached), (3, 2));
    // By agent: C is bob's (his receipt came first), though carol closed it.
    assert_eq!(r.groups.get("bob").map(|g| g.volume), Some(1));
    assert_eq!(r.groups.get("carol").map(|g| g.volume), None);
    assert_eq!(r.groups.get("anna").map(|g| g.volume), Some(3));
    // Backlog over time (new + open as queued, sampled hourly): at T nothing was queued
    // yet; at 1h B and D new, C (carol's) and F (reopened by its follow-up) open.
    assert_eq!(r.backlog_series[..2], [(T, 0), (T + h, 4)]);
}

fn saying(n: u64, author: &str, t: i64, text: &str) -> MentionSummary {
    let mut m = post(n, author, t, Intent::Complaint, None);
    m.snippet = text.into();
    m
}

#[test]
fn abuse_is_counted_apart_a_threat_escalates_and_swearing_stays_a_complaint() {
    let (desk, state, _dir) = desk();
    desk.intake(
        &[
            saying(
                1,
                "kim",
                0,
                "Scheiß Netz seit Tagen, Acme, wann wird das repariert?",
            ),
            saying(2, "troll", 10, "Ihr seid doch alle Idioten bei Acme"),
            saying(3, "rage", 20, "Ich weiß, wo du wohnst, Acme-Schaffner."),
        ],
        T + 60,
    )
    .expect("intake");
    let threat = desk.item(id_of(&desk, "rage")).expect("item").0;
    assert_eq!(threat.item.priority, lauscher_model::Priority::Urgent);
    let queued = state.due_notifications(T + 120, 10).expect("outbox");
    assert_eq!(queued.len(), 1, "the threat is announced at once");
    assert_eq!(queued[0].event, "threat");
    assert!(queued[0].body.contains("wohnst"), "{}", queued[0].body);
    let kim = desk.item(id_of(&desk, "kim")).expect("item").0;
    assert_eq!(
        kim.item.abuse.map(|a| a.kind),
        Some(lauscher_desk::abuse::AbuseKind::Profanity)
    );
    let r = desk
        .kpi(&KpiRequest {
            since: T,
            until: T + 3600,
            now: T + 3600,
            targets: vec![3600],
            by: None,
            step: 0,
        })
        .expect("kpi");
    assert_eq!(r.total.volume, 1, "only kim's complaint is a complaint");
    assert_eq!(r.total.abusive, 2);
    assert_eq!(r.total.service_levels[0].counted, 1);
}

#[test]
fn the_digest_section_states_the_service_figures() {
    let (desk, _state, _dir) = desk();
    desk.intake(&[post(1, "kim", 0, Intent::Complaint, None)], T + 60)
        .expect("intake");
    desk.act(
        id_of(&desk, "kim"),
        Action::Ack(None),
        user("anna"),
        None,
        T + 600,
    )
    .expect("ack");
    let r = desk
        .kpi(&KpiRequest {
            since: T - 3600,
            until: T + 3600,
            now: T + 7200,
            targets: vec![3600, 6 * 3600],
            by: None,
            step: 0,
        })
        .expect("kpi");
    let (md, html, summary) = lauscher_desk::kpi::digest_section(&r.total, true);
    assert!(md.contains("## Service-Desk"), "{md}");
    assert!(md.contains("Erste Antwort: Median 10 min"), "{md}");
    assert!(md.contains("Service-Level in 1 h: 100 % (1/1)"), "{md}");
    assert!(html.starts_with("<h2>Service-Desk</h2><ul><li>"), "{html}");
    assert_eq!(
        summary,
        "Service-Desk: 1 · erste Antwort 10 min · SL 1h 100 %"
    );
}

#[test]
fn author_flags_set_priority_and_keep_trolls_out_of_the_kpis() {
    let (desk, _state, _dir) = desk();
    let anna = user("anna");
    desk.flag_author(
        "@Troll",
        Some(lauscher_desk::AuthorFlag::Troll),
        "provokes",
        &anna,
        T,
    )
    .expect("flag");
    desk.flag_author(
        "vip",
        Some(lauscher_desk::AuthorFlag::Vip),
        "press",
        &anna,
        T,
    )
    .expect("flag");
    desk.intake(
        &[
            post(1, "troll", 0, Intent::Complaint, None),
            post(2, "vip", 10, Intent::Complaint, None),
            post(3, "kim", 20, Intent::Complaint, None),
        ],
        T + 60,
    )
    .expect("intake");
    let priority = |a: &str| desk.item(id_of(&desk, a)).expect("item").0.item.priority;
    use lauscher_model::Priority;
    assert_eq!(priority("troll"), Priority::Low);
    assert_eq!(priority("vip"), Priority::High);
    assert_eq!(priority("kim"), Priority::Normal);
    let r = desk
        .kpi(&KpiRequest {
            since: T,
            until: T + 3600,
            now: T + 3600,
            targets: vec![3600],
            by: None,
            step: 0,
        })
        .expect("kpi");
    assert_eq!((r.total.volume, r.total.abusive), (2, 1));
    // Cleared, the troll's next post is an ordinary item again.
    desk.flag_author("troll", None, "", &anna, T + 100)
        .expect("clear");
    desk.intake(&[post(4, "troll", 200, Intent::Complaint, None)], T + 260)
        .expect("intake");
    let items = desk.list(&ItemFilter::default(), T + 300).expect("list");
    let newest = items
        .iter()
        .find(|v| v.item.post.mention.0 == 4)
        .expect("item");
    assert_eq!(newest.item.priority, Priority::Normal);
}

#[test]
fn round_robin_hands_the_longest_waiting_items_out_within_capacity() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = Arc::new(StateStore::open(&dir.path().join("state.db")).expect("state"));
    let text = format!(
        "{ALERTS}  teams:\n    - {{id: service, agents: [anna, bob], auto_assign: true, capacity: 1}}\n"
    );
    let alerting = AlertingConfig::parse(&text, "alerts.yaml", &[], &|_| None).expect("alerting");
    let desk = Desk::new(&alerting, state, BTreeMap::new()).expect("desk");
    desk.intake(
        &[
            post(1, "kim", 0, Intent::Complaint, None),
            post(2, "lea", 10, Intent::Complaint, None),
            post(3, "max", 20, Intent::Complaint, None),
        ],
        T + 60,
    )
    .expect("intake");
    desk.tick(T + 70).expect("tick");
    let owner = |a: &str| desk.item(id_of(&desk, a)).expect("item").0.item.assignee;
    assert_eq!(owner("kim").as_deref(), Some("anna"));
    assert_eq!(owner("lea").as_deref(), Some("bob"));
    assert_eq!(owner("max"), None, "both agents are at capacity");
    desk.act(
        id_of(&desk, "kim"),
        Action::Resolve,
        user("anna"),
        None,
        T + 80,
    )
    .expect("resolve");
    desk.tick(T + 90).expect("tick");
    assert_eq!(owner("max").as_deref(), Some("anna"), "anna has room again");
}

#[test]
fn an_agent_who_is_away_gets_nothing_new_until_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = Arc::new(StateStore::open(&dir.path().join("state.db")).expect("state"));
    let text = format!(
        "{ALERTS}  teams:\n    - {{id: service, agents: [anna, bob], auto_assign: true, capacity: 1}}\n"
    );
    let alerting = AlertingConfig::parse(&text, "alerts.yaml", &[], &|_| None).expect("alerting");
    let desk = Desk::new(&alerting, state, BTreeMap::new()).expect("desk");
    desk.set_away("anna", true, &user("lead"), T).expect("away");
    assert_eq!(desk.agents_away().expect("away")[0].0, "anna");
    desk.intake(
        &[
            post(1, "kim", 0, Intent::Complaint, None),
            post(2, "lea", 10, Intent::Complaint, None),
        ],
        T + 60,
    )
    .expect("intake");
    desk.tick(T + 70).expect("tick");
    let owner = |a: &str| desk.item(id_of(&desk, a)).expect("item").0.item.assignee;
    assert_eq!(owner("kim").as_deref(), Some("bob"));
    assert_eq!(owner("lea"), None, "anna is away and bob is full");
    desk.set_away("anna", false, &user("anna"), T + 80)
        .expect("back");
    desk.tick(T + 90).expect("tick");
    assert_eq!(owner("lea").as_deref(), Some("anna"), "anna is back");
    assert!(desk.agents_away().expect("away").is_empty());
}

#[test]
fn a_correction_survives_the_event_log() {
    let e = lauscher_desk::Event {
        item: 1,
        seq: 2,
        at: T,
        actor: user("anna"),
        change: lauscher_desk::Change::Corrected {
            label: Some(lauscher_model::Label::Negative),
            intent: Some(Intent::Complaint),
        },
    };
    let json = serde_json::to_string(&e).expect("json");
    let back: lauscher_desk::Event = serde_json::from_str(&json).expect(&json);
    assert_eq!(back, e, "{json}");
}

#[test]
fn a_brand_reply_seen_before_its_post_still_answers_it() {
    let (desk, _state, _dir) = desk();
    // The brand's account is polled first: its reply comes in before the complaint.
    let got = desk
        .intake(
            &[post(20, "acmebahn", 600, Intent::Other, Some(1))],
            T + 660,
        )
        .expect("intake");
    assert_eq!(got.responses, 0);
    let got = desk
        .intake(&[post(1, "kim", 0, Intent::Complaint, None)], T + 700)
        .expect("intake");
    assert_eq!((got.created, got.responses), (1, 1));
    let item = desk.item(id_of(&desk, "kim")).expect("item").0.item;
    let r = item.first_response.expect("answered");
    assert_eq!((r.at, r.by.as_str()), (T + 600, "acmebahn"));
}

#[test]
fn item_links_keep_the_base_path_of_desk_link() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = Arc::new(StateStore::open(&dir.path().join("state.db")).expect("state"));
    let text = format!("{ALERTS}  link: https://intra.example/lauscher\n");
    let alerting = AlertingConfig::parse(&text, "alerts.yaml", &[], &|_| None).expect("alerting");
    let desk = Desk::new(&alerting, state.clone(), BTreeMap::new()).expect("desk");
    desk.intake(&[post(1, "kim", 0, Intent::Complaint, None)], T + 60)
        .expect("intake");
    assert_eq!(desk.tick(T + 45 * 60).expect("tick"), 1);
    let queued = state.due_notifications(T + 46 * 60, 10).expect("outbox");
    assert!(
        queued[0]
            .body
            .contains("https://intra.example/lauscher/api/v1/desk/items/1"),
        "{}",
        queued[0].body
    );
}

#[test]
fn only_replies_and_queue_intents_of_recent_posts_concern_the_desk() {
    let alerting = AlertingConfig::parse(ALERTS, "alerts.yaml", &[], &|_| None).expect("alerting");
    let config = alerting.desk.expect("desk");
    let now = T + 60;
    assert!(lauscher_desk::concerns(
        &config,
        &post(1, "kim", 0, Intent::Complaint, None),
        now
    ));
    assert!(lauscher_desk::concerns(
        &config,
        &post(2, "acmebahn", 0, Intent::Other, Some(1)),
        now
    ));
    assert!(!lauscher_desk::concerns(
        &config,
        &post(3, "max", 0, Intent::Praise, None),
        now
    ));
    assert!(!lauscher_desk::concerns(
        &config,
        &post(4, "old", -10 * 86_400, Intent::Complaint, None),
        now
    ));
}
