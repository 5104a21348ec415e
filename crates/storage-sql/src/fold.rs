//! How a batch of grouped events folds into issue changes, without I/O:
//! which events were recorded before (in an earlier batch or earlier in
//! this one), which issues the rest need, and then what each issue gains
//! (events, first and last seen, the newest event's title, users), which
//! event ids to remember, and what to report for every event.
//!
//! [`plan`] runs on the batch and its earlier deliveries; the store then
//! finds or creates the issues the plan names ([`Plan::issues`]), and
//! [`fold`] turns that into the [`Batch`] the store writes.

use std::collections::{HashMap, HashSet};

use faultline_protocol::{EventId, GroupId, ProjectId};

use faultline_storage::to_millis;
use faultline_storage::{GroupedEvent, RecordOutcome};

/// Earlier batches' outcomes by (project, event id), as stored.
pub(crate) type Earlier = HashMap<(ProjectId, EventId), RecordOutcome>;

/// What happens to one event of the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// Recorded by an earlier batch: report what that one did.
    Earlier(RecordOutcome),
    /// The same event id as the event at this index of the batch.
    Repeat(usize),
    /// New: it counts towards the issue at this index of [`Plan::issues`].
    Fresh(usize),
}

/// Step one: the batch sorted into earlier, repeated and new events.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    slots: Vec<Slot>,
    /// For each issue the new events belong to, the first of its events in
    /// the batch (what a new issue is created from), in batch order, which
    /// is also the order new issues get their short ids in.
    pub(crate) issues: Vec<&'a GroupedEvent>,
}

/// The issue a [`Plan::issues`] entry belongs to, as the store found or
/// created it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IssueState {
    pub(crate) group_id: GroupId,
    /// Resolved before this batch: its first new event reopens it.
    pub(crate) was_resolved: bool,
    /// Ignored until something that has happened: its first new event
    /// brings it back.
    pub(crate) reappears: bool,
    /// Created for this batch: its first new event reports a new issue.
    pub(crate) created: bool,
}

/// What one issue gains from the batch (one UPDATE).
#[derive(Debug, Clone)]
pub(crate) struct IssueDelta<'a> {
    pub(crate) group_id: GroupId,
    pub(crate) count: i64,
    pub(crate) first_seen: i64,
    pub(crate) last_seen: i64,
    /// The issue comes back from its snooze with this batch.
    pub(crate) reappears: bool,
    /// The newest event (the latest of equal times): the issue's title,
    /// culprit, level and metadata follow it, as in Sentry.
    pub(crate) latest: &'a GroupedEvent,
}

/// Step two: everything the store writes for the batch.
#[derive(Debug)]
pub(crate) struct Batch<'a> {
    /// One per event, in batch order.
    pub(crate) outcomes: Vec<RecordOutcome>,
    /// The event ids to remember, with the outcome a redelivery reports.
    pub(crate) seen: Vec<(&'a GroupedEvent, RecordOutcome)>,
    /// One per issue, in the order of [`Plan::issues`].
    pub(crate) deltas: Vec<IssueDelta<'a>>,
    /// Distinct (issue, user) pairs; the store counts those it did not
    /// know yet.
    pub(crate) users: Vec<(GroupId, &'a str)>,
    /// Each project's earliest new event, by project.
    pub(crate) first_events: Vec<(ProjectId, i64)>,
}

pub(crate) fn plan<'a>(events: &'a [GroupedEvent], earlier: &Earlier) -> Plan<'a> {
    let mut slots = Vec::with_capacity(events.len());
    let mut issues = Vec::new();
    let mut first_delivery: HashMap<(ProjectId, EventId), usize> = HashMap::new();
    let mut issue_of_hash: HashMap<(ProjectId, &str), usize> = HashMap::new();
    for (index, event) in events.iter().enumerate() {
        let id = (event.project_id, event.event_id);
        if let Some(&outcome) = earlier.get(&id) {
            slots.push(Slot::Earlier(outcome));
            continue;
        }
        if let Some(&first) = first_delivery.get(&id) {
            slots.push(Slot::Repeat(first));
            continue;
        }
        first_delivery.insert(id, index);
        let issue = *issue_of_hash
            .entry((event.project_id, event.hash.as_str()))
            .or_insert_with(|| {
                issues.push(event);
                issues.len() - 1
            });
        slots.push(Slot::Fresh(issue));
    }
    Plan { slots, issues }
}

/// Folds the batch; `states[i]` is the issue of `plan.issues[i]`.
pub(crate) fn fold<'a>(
    events: &'a [GroupedEvent],
    plan: &Plan<'a>,
    states: &[IssueState],
) -> Batch<'a> {
    debug_assert_eq!(plan.issues.len(), states.len());
    let mut outcomes: Vec<RecordOutcome> = Vec::with_capacity(events.len());
    let mut seen = Vec::new();
    let mut deltas: Vec<Option<IssueDelta<'a>>> = vec![None; states.len()];
    let mut users = Vec::new();
    let mut known_users: HashSet<(GroupId, &str)> = HashSet::new();
    let mut first_events: HashMap<ProjectId, i64> = HashMap::new();
    for (event, slot) in events.iter().zip(&plan.slots) {
        let outcome = match *slot {
            Slot::Earlier(outcome) => RecordOutcome {
                duplicate: true,
                ..outcome
            },
            Slot::Repeat(first) => RecordOutcome {
                duplicate: true,
                ..outcomes[first]
            },
            Slot::Fresh(issue) => {
                let state = states[issue];
                let ts = to_millis(event.timestamp);
                let delta = deltas[issue].get_or_insert(IssueDelta {
                    group_id: state.group_id,
                    count: 0,
                    first_seen: ts,
                    last_seen: ts,
                    reappears: state.reappears,
                    latest: event,
                });
                // Only the issue's first new event creates or reopens it.
                let first = delta.count == 0;
                delta.count += 1;
                delta.first_seen = delta.first_seen.min(ts);
                if ts >= delta.last_seen {
                    delta.last_seen = ts;
                    delta.latest = event;
                }
                if let Some(user) = event.user.as_deref()
                    && known_users.insert((state.group_id, user))
                {
                    users.push((state.group_id, user));
                }
                let earliest = first_events.entry(event.project_id).or_insert(ts);
                *earliest = (*earliest).min(ts);
                let outcome = RecordOutcome {
                    group_id: state.group_id,
                    duplicate: false,
                    new_group: first && state.created,
                    regression: first && state.was_resolved,
                    reappeared: first && state.reappears,
                };
                seen.push((event, outcome));
                outcome
            }
        };
        outcomes.push(outcome);
    }
    let mut first_events: Vec<_> = first_events.into_iter().collect();
    first_events.sort_unstable();
    Batch {
        outcomes,
        seen,
        deltas: deltas.into_iter().flatten().collect(),
        users,
        first_events,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};
    use faultline_protocol::Level;

    use super::*;

    const P: ProjectId = ProjectId(1);

    fn event(hash: &str, title: &str, user: Option<&str>, minute: i64) -> GroupedEvent {
        GroupedEvent {
            project_id: P,
            event_id: EventId::new_random(),
            hash: hash.into(),
            title: title.into(),
            culprit: String::new(),
            level: Level::Error,
            event_type: "error".into(),
            platform: "python".into(),
            metadata: serde_json::Value::Null,
            timestamp: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
                + Duration::minutes(minute),
            release: None,
            user: user.map(str::to_owned),
        }
    }

    fn issue(id: i64, was_resolved: bool, created: bool) -> IssueState {
        IssueState {
            group_id: GroupId(id),
            was_resolved,
            reappears: false,
            created,
        }
    }

    #[test]
    fn one_issue_counts_its_events_and_follows_the_newest() {
        let events = [
            event("h", "second", Some("id:1"), 5),
            event("h", "newest", Some("id:1"), 9),
            event("h", "oldest", Some("id:2"), 1),
        ];
        let plan = plan(&events, &Earlier::new());
        assert_eq!(plan.issues.len(), 1);
        assert_eq!(
            plan.issues[0].title, "second",
            "created from its first event"
        );
        let batch = fold(&events, &plan, &[issue(7, false, true)]);
        let delta = &batch.deltas[0];
        assert_eq!((delta.group_id, delta.count), (GroupId(7), 3));
        assert_eq!(delta.latest.title, "newest");
        assert_eq!(
            (delta.first_seen, delta.last_seen),
            (
                to_millis(events[2].timestamp),
                to_millis(events[1].timestamp)
            )
        );
        assert_eq!(
            batch
                .outcomes
                .iter()
                .map(|o| o.new_group)
                .collect::<Vec<_>>(),
            [true, false, false],
            "only the first event reports the new issue"
        );
        assert_eq!(
            batch.users,
            [(GroupId(7), "id:1"), (GroupId(7), "id:2")],
            "each user once"
        );
        assert_eq!(batch.first_events, [(P, to_millis(events[2].timestamp))]);
        assert_eq!(batch.seen.len(), 3);
    }

    #[test]
    fn equal_times_keep_the_later_event_of_the_batch() {
        let events = [event("h", "a", None, 3), event("h", "b", None, 3)];
        let plan = plan(&events, &Earlier::new());
        let batch = fold(&events, &plan, &[issue(1, false, false)]);
        assert_eq!(batch.deltas[0].latest.title, "b");
    }

    #[test]
    fn a_repeated_event_id_counts_once_and_reports_the_first_outcome() {
        let first = event("h", "a", Some("id:1"), 0);
        let events = [first.clone(), event("h", "b", None, 1), first];
        let plan = plan(&events, &Earlier::new());
        let batch = fold(&events, &plan, &[issue(3, false, true)]);
        assert_eq!(batch.deltas[0].count, 2);
        assert_eq!(
            batch.outcomes[2],
            RecordOutcome {
                duplicate: true,
                ..batch.outcomes[0]
            }
        );
        assert!(batch.outcomes[2].new_group);
        assert_eq!(batch.seen.len(), 2, "the event id is remembered once");
    }

    #[test]
    fn an_earlier_delivery_counts_nothing_and_reports_what_it_did() {
        let old = event("h", "a", Some("id:1"), 0);
        let stored = RecordOutcome {
            group_id: GroupId(9),
            duplicate: false,
            new_group: true,
            regression: false,
            reappeared: false,
        };
        let earlier = Earlier::from([((old.project_id, old.event_id), stored)]);
        let events = [old];
        let plan = plan(&events, &earlier);
        assert!(plan.issues.is_empty(), "no issue to look up");
        let batch = fold(&events, &plan, &[]);
        assert_eq!(
            batch.outcomes,
            [RecordOutcome {
                duplicate: true,
                ..stored
            }]
        );
        assert!(batch.deltas.is_empty() && batch.seen.is_empty() && batch.users.is_empty());
        assert!(batch.first_events.is_empty());
    }

    #[test]
    fn a_resolved_issue_regresses_on_its_first_new_event_only() {
        let events = [event("h", "a", None, 0), event("h", "b", None, 1)];
        let plan = plan(&events, &Earlier::new());
        let batch = fold(&events, &plan, &[issue(4, true, false)]);
        assert_eq!(
            batch
                .outcomes
                .iter()
                .map(|o| o.regression)
                .collect::<Vec<_>>(),
            [true, false]
        );
        assert!(batch.outcomes.iter().all(|o| !o.new_group));
    }

    #[test]
    fn issues_are_planned_in_batch_order_per_project_and_hash() {
        let mut other_project = event("h1", "elsewhere", None, 0);
        other_project.project_id = ProjectId(2);
        let events = [
            event("h2", "x", None, 4),
            event("h1", "y", None, 2),
            event("h2", "z", None, 3),
            other_project,
        ];
        let plan = plan(&events, &Earlier::new());
        let titles: Vec<_> = plan.issues.iter().map(|e| e.title.as_str()).collect();
        assert_eq!(titles, ["x", "y", "elsewhere"]);
        let states = [
            issue(1, false, true),
            issue(2, false, true),
            issue(3, false, true),
        ];
        let batch = fold(&events, &plan, &states);
        assert_eq!(
            batch
                .outcomes
                .iter()
                .map(|o| o.group_id.0)
                .collect::<Vec<_>>(),
            [1, 2, 1, 3]
        );
        assert_eq!(
            batch.deltas.iter().map(|d| d.count).collect::<Vec<_>>(),
            [2, 1, 1]
        );
        assert_eq!(
            batch.first_events,
            [
                (P, to_millis(events[1].timestamp)),
                (ProjectId(2), to_millis(events[3].timestamp))
            ]
        );
    }
}
