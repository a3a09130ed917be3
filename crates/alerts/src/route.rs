//! The routing tree, silences and mute intervals: who hears of an incident, and when.
//!
//! Alertmanager's semantics: the root catches everything; children are tried in order
//! and the first that matches wins unless it says `continue: true`; a matching node's
//! matching children take over from it; a node without receivers uses its parent's.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{Datelike, TimeZone, Timelike};
use chrono_tz::Tz;
use lauscher_config::{Escalation, MatchOp, Matcher, MuteInterval, Route};

/// Labels an incident is matched on.
pub type Labels = BTreeMap<String, String>;

/// Whether `m` holds for `labels` (a missing label is the empty string).
pub fn matches(m: &Matcher, labels: &Labels) -> bool {
    let value = labels.get(&m.name).map_or("", String::as_str);
    match m.op {
        MatchOp::Eq => value == m.value,
        MatchOp::Ne => value != m.value,
        MatchOp::Re | MatchOp::NotRe => {
            let re = regex::Regex::new(&format!("^(?:{})$", m.value));
            let hit = re.is_ok_and(|re| re.is_match(value));
            hit == (m.op == MatchOp::Re)
        }
    }
}

/// One route an incident reached, with what it inherited.
#[derive(Clone, Debug)]
pub struct Routed<'a> {
    /// Receivers, the route's own or inherited.
    pub receivers: Vec<String>,
    /// Escalation, the route's own or inherited.
    pub escalation: Option<&'a Escalation>,
    /// Whether resolutions are sent.
    pub send_resolved: bool,
    /// Mute intervals of the route.
    pub mute: &'a [MuteInterval],
    /// Grouping, the route's own or inherited.
    pub group: Grouping<'a>,
    /// Where the route sits in the tree (`0.2.1`), naming its groups.
    pub path: String,
}

/// Alertmanager's grouping settings of a route.
#[derive(Clone, Copy, Debug)]
pub struct Grouping<'a> {
    /// Labels whose values make a group; `None`: `[topic]`.
    pub by: Option<&'a [String]>,
    /// Wait of a new group before its first message.
    pub wait: Duration,
    /// Wait of a group that notified before news of other incidents.
    pub interval: Duration,
    /// Re-send pace of unacknowledged incidents without an escalation policy.
    pub repeat: Duration,
}

impl<'a> Grouping<'a> {
    fn of(route: &'a Route, parent: Option<&Grouping<'a>>) -> Grouping<'a> {
        let d = |v: Option<lauscher_config::HumanDuration>,
                 inherited: Option<Duration>,
                 default| { v.map(|d| d.0).or(inherited).unwrap_or(default) };
        Grouping {
            by: route.group_by.as_deref().or(parent.and_then(|p| p.by)),
            wait: d(route.group_wait, parent.map(|p| p.wait), Duration::ZERO),
            interval: d(
                route.group_interval,
                parent.map(|p| p.interval),
                Duration::from_secs(300),
            ),
            repeat: d(
                route.repeat_interval,
                parent.map(|p| p.repeat),
                Duration::from_secs(4 * 3600),
            ),
        }
    }

    /// The group `labels` fall in on the route at `path`: the path and the values of
    /// the grouping labels (`topic` when the root sets none).
    pub fn key(&self, path: &str, labels: &Labels) -> String {
        let mut key = path.to_owned();
        let value = |name: &str| labels.get(name).map_or("", String::as_str).to_owned();
        let values: Vec<String> = match self.by {
            Some(by) => by.iter().map(|n| value(n)).collect(),
            None => vec![value("topic")],
        };
        for v in values {
            key.push('|');
            key.push_str(&v);
        }
        key
    }
}

/// Routes `labels` through the tree at `root`; returns every route it reached.
pub fn route<'a>(root: &'a Route, labels: &Labels) -> Vec<Routed<'a>> {
    let mut out = Vec::new();
    let inherited = Routed {
        receivers: root.receivers.clone(),
        escalation: root.escalation.as_ref(),
        send_resolved: root.send_resolved,
        mute: &root.mute,
        group: Grouping::of(root, None),
        path: "0".into(),
    };
    walk(root, labels, inherited, &mut out);
    out
}

fn walk<'a>(node: &'a Route, labels: &Labels, here: Routed<'a>, out: &mut Vec<Routed<'a>>) {
    let mut matched_child = false;
    for (i, child) in node.routes.iter().enumerate() {
        if !child.matchers.iter().all(|m| matches(m, labels)) {
            continue;
        }
        matched_child = true;
        let inherited = Routed {
            receivers: if child.receivers.is_empty() {
                here.receivers.clone()
            } else {
                child.receivers.clone()
            },
            escalation: child.escalation.as_ref().or(here.escalation),
            send_resolved: child.send_resolved,
            mute: &child.mute,
            group: Grouping::of(child, Some(&here.group)),
            path: format!("{}.{i}", here.path),
        };
        walk(child, labels, inherited, out);
        if !child.continue_ {
            break;
        }
    }
    if !matched_child {
        out.push(here);
    }
}

/// When a mute interval covering `at` (unix seconds) ends for an incident of `level`;
/// `None` when none covers it.
pub fn muted_until(mutes: &[MuteInterval], level: u8, tz: Tz, at: i64) -> Option<i64> {
    let local = tz.timestamp_opt(at, 0).single()?;
    let minute = local.hour() * 60 + local.minute();
    let weekday = local.weekday().num_days_from_monday();
    let mut until: Option<i64> = None;
    for m in mutes {
        if !m.levels.is_empty() && !m.levels.contains(&level) {
            continue;
        }
        let (start, end) = (m.times.start.minute, m.times.end.minute);
        let days = m.weekday_numbers();
        // Minutes from now to the end of the interval, if now is inside it.
        let (inside, day_of_start) = if start <= end {
            (minute >= start && minute < end, weekday)
        } else if minute >= start {
            (true, weekday)
        } else {
            (minute < end, (weekday + 6) % 7)
        };
        if !inside || !(days.is_empty() || days.contains(&day_of_start)) {
            continue;
        }
        let left = if minute < end {
            end - minute
        } else {
            1440 - minute + end
        };
        let end_at = at - local.second() as i64 + left as i64 * 60;
        until = Some(until.map_or(end_at, |u| u.max(end_at)));
    }
    until
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> Route {
        let text = r#"
receivers: [ops]
routes:
  - matchers: ['intent="complaint"']
    receivers: [service]
    continue: true
  - matchers: ['level=~"2|3"']
    receivers: [comms]
  - matchers: ['kind="spike"']
    receivers: [chat]
"#;
        serde_norway::from_str(text).expect("route")
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn first_match_wins_unless_continue() {
        let t = tree();
        let r = route(
            &t,
            &labels(&[("intent", "complaint"), ("level", "2"), ("kind", "spike")]),
        );
        let names: Vec<_> = r.iter().flat_map(|r| r.receivers.clone()).collect();
        assert_eq!(names, ["service", "comms"]);
        let r = route(&t, &labels(&[("level", "1"), ("kind", "influencer")]));
        assert_eq!(r[0].receivers, ["ops"]);
    }

    #[test]
    fn night_mute_wraps_midnight() {
        let m: MuteInterval =
            serde_norway::from_str("times: \"22:00-07:00\"\nlevels: [1]").expect("mute");
        // 2026-01-05 23:30 UTC (Monday).
        let at = 1_767_655_800;
        let until = muted_until(std::slice::from_ref(&m), 1, chrono_tz::UTC, at).expect("muted");
        assert_eq!(until - at, 7 * 3600 + 30 * 60);
        assert_eq!(
            muted_until(std::slice::from_ref(&m), 2, chrono_tz::UTC, at),
            None
        );
        assert_eq!(muted_until(&[m], 1, chrono_tz::UTC, at + 9 * 3600), None);
    }
}
