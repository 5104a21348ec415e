//! The alert store's suite on both databases: rules, firings decided once
//! per event and per interval, and the delivery outbox.

use std::sync::Arc;

mod common;

use chrono::{Duration, Utc};
use faultline_protocol::{EventId, GroupId, ProjectId};
use faultline_storage::{
    AlertStore, AttemptResult, DeliveryStatus, FireOutcome, MetaStore, NewDelivery, NewFire,
    RuleRecord, RuleStatus, StorageError,
};
use faultline_storage_sql::SqlMetaStore;
use serde_json::json;

on_every_backend!(
    rules_are_kept_per_project,
    firings_and_deliveries,
    plugins_keep_settings_and_enabled_apart,
    frequency_counts_by_window,
    the_latest_release_is_the_one_first_seen_last
);

async fn project(store: &SqlMetaStore, slug: &str) -> ProjectId {
    let org = match store.organization_by_slug("acme").await.unwrap() {
        Some(org) => org,
        None => store.create_organization("acme", "Acme").await.unwrap(),
    };
    store
        .create_project(org.id, slug, slug, None)
        .await
        .unwrap()
        .id
}

async fn rules_are_kept_per_project(store: Arc<SqlMetaStore>) {
    let web = project(&store, "web").await;
    let api = project(&store, "api").await;
    let user = store
        .create_user("a@example.com", None, false)
        .await
        .unwrap();
    let data = json!({"name": "New issues", "conditions": [], "frequency": 30});
    let first = store
        .create_rule(
            web,
            &RuleRecord {
                name: "New issues",
                status: RuleStatus::Active,
                data: &data,
            },
            Some(user.id),
        )
        .await
        .unwrap();
    let second = store
        .create_rule(
            web,
            &RuleRecord {
                name: "Spikes",
                status: RuleStatus::Disabled,
                data: &json!({"frequency": 60}),
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(first.data, data);
    assert_eq!(first.created_by, Some(user.id));
    assert_eq!(first.last_triggered, None);
    // Newest first, as Sentry lists them; another project sees none.
    let listed = store.rules(web).await.unwrap();
    assert_eq!(
        listed.iter().map(|r| r.id).collect::<Vec<_>>(),
        [second.id, first.id]
    );
    assert!(store.rules(api).await.unwrap().is_empty());
    // Alert emails are on until a member turns them off, per project.
    assert!(store.alert_email_opt_outs(web).await.unwrap().is_empty());
    store.set_alert_emails(user.id, web, false).await.unwrap();
    store.set_alert_emails(user.id, web, false).await.unwrap();
    assert_eq!(store.alert_email_opt_outs(web).await.unwrap(), [user.id]);
    assert!(store.alert_email_opt_outs(api).await.unwrap().is_empty());
    store.set_alert_emails(user.id, web, true).await.unwrap();
    assert!(store.alert_email_opt_outs(web).await.unwrap().is_empty());
    assert_eq!(store.rule(api, first.id).await.unwrap(), None);

    let changed = store
        .update_rule(
            web,
            first.id,
            &RuleRecord {
                name: "Renamed",
                status: RuleStatus::Disabled,
                data: &json!({"frequency": 5}),
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.name, "Renamed");
    assert_eq!(changed.status, RuleStatus::Disabled);
    assert_eq!(
        store.rule(web, first.id).await.unwrap(),
        Some(changed.clone())
    );
    // Through another project's URL a rule neither changes nor goes.
    let other = store
        .update_rule(
            api,
            first.id,
            &RuleRecord {
                name: "x",
                status: RuleStatus::Active,
                data: &data,
            },
        )
        .await;
    assert!(matches!(other, Err(StorageError::NotFound)));
    assert!(matches!(
        store.delete_rule(api, first.id).await,
        Err(StorageError::NotFound)
    ));
    store.delete_rule(web, first.id).await.unwrap();
    assert_eq!(store.rule(web, first.id).await.unwrap(), None);
    assert!(matches!(
        store.delete_rule(web, first.id).await,
        Err(StorageError::NotFound)
    ));
}

async fn firings_and_deliveries(store: Arc<SqlMetaStore>) {
    let web = project(&store, "web").await;
    let rule = store
        .create_rule(
            web,
            &RuleRecord {
                name: "New issues",
                status: RuleStatus::Active,
                data: &json!({}),
            },
            None,
        )
        .await
        .unwrap();
    let now = Utc::now();
    let event = EventId::new_random();
    let fire = |event_id: EventId, now, group: i64| NewFire {
        rule_id: rule.id,
        project_id: web,
        group_id: GroupId(group),
        event_id,
        now,
        interval_minutes: 30,
        deliveries: vec![
            NewDelivery {
                channel: "email".into(),
                target: "a@example.com".into(),
                payload: json!({"title": "ZeroDivisionError"}),
            },
            NewDelivery {
                channel: "webhooks".into(),
                target: String::new(),
                payload: json!({"title": "ZeroDivisionError"}),
            },
        ],
        traceparent: Some(format!("00-{}-00f067aa0ba902b7-01", event)),
    };
    let FireOutcome::Recorded(fire_id) = store.record_fire(&fire(event, now, 1)).await.unwrap()
    else {
        panic!("the first firing is recorded");
    };
    // The same event again (a redelivered message) fires nothing; another
    // event of the issue within the interval neither; another issue does.
    assert_eq!(
        store.record_fire(&fire(event, now, 1)).await.unwrap(),
        FireOutcome::Repeat
    );
    let later = now + Duration::minutes(10);
    assert_eq!(
        store
            .record_fire(&fire(EventId::new_random(), later, 1))
            .await
            .unwrap(),
        FireOutcome::TooSoon
    );
    assert!(matches!(
        store
            .record_fire(&fire(EventId::new_random(), later, 2))
            .await
            .unwrap(),
        FireOutcome::Recorded(_)
    ));
    let after_interval = now + Duration::minutes(31);
    assert!(matches!(
        store
            .record_fire(&fire(EventId::new_random(), after_interval, 1))
            .await
            .unwrap(),
        FireOutcome::Recorded(_)
    ));
    assert_eq!(
        store
            .fires_since(web, now - Duration::minutes(1))
            .await
            .unwrap(),
        3
    );
    let rule_now = store.rule(web, rule.id).await.unwrap().unwrap();
    assert!(rule_now.last_triggered.is_some());

    // Claiming: each due delivery once, until its lease runs out.
    let lease = after_interval + Duration::minutes(5);
    let claimed = store
        .claim_deliveries(after_interval, lease, 2)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(claimed.iter().all(|d| d.status == DeliveryStatus::Sending));
    assert_eq!(claimed[0].fire_id, Some(fire_id));
    assert_eq!(claimed[0].payload["title"], "ZeroDivisionError");
    // Sending joins the trace of the event the delivery is for.
    assert_eq!(
        claimed[0].traceparent,
        Some(format!("00-{}-00f067aa0ba902b7-01", event))
    );
    let rest = store
        .claim_deliveries(after_interval, lease, 100)
        .await
        .unwrap();
    assert_eq!(rest.len(), 4, "the other deliveries, not the claimed ones");
    assert!(
        store
            .claim_deliveries(after_interval, lease, 100)
            .await
            .unwrap()
            .is_empty()
    );

    store
        .finish_delivery(claimed[0].id, &AttemptResult::Sent)
        .await
        .unwrap();
    let retry_at = after_interval + Duration::minutes(1);
    store
        .finish_delivery(
            claimed[1].id,
            &AttemptResult::Retry {
                at: retry_at,
                error: "421 try later".into(),
            },
        )
        .await
        .unwrap();
    // Not due before its time; due after, with the error kept.
    assert!(
        store
            .claim_deliveries(after_interval, lease, 100)
            .await
            .unwrap()
            .is_empty()
    );
    let again = store
        .claim_deliveries(retry_at, retry_at + Duration::minutes(5), 100)
        .await
        .unwrap();
    assert_eq!(
        again.iter().map(|d| d.id).collect::<Vec<_>>(),
        [claimed[1].id]
    );
    assert_eq!(again[0].attempts, 1);
    assert_eq!(again[0].last_error.as_deref(), Some("421 try later"));
    store
        .finish_delivery(
            claimed[1].id,
            &AttemptResult::Failed {
                error: "550 no such user".into(),
            },
        )
        .await
        .unwrap();
    // A notifier that died while sending: its claims come back after the lease.
    let resumed = store
        .claim_deliveries(
            lease + Duration::seconds(1),
            lease + Duration::minutes(10),
            100,
        )
        .await
        .unwrap();
    assert_eq!(resumed.len(), 4);

    let history = store.rule_history(rule.id, 10).await.unwrap();
    assert_eq!(history.len(), 3);
    let first = history.iter().find(|f| f.id == fire_id).unwrap();
    assert_eq!(first.event_id, event);
    let statuses: Vec<_> = first.deliveries.iter().map(|d| d.status).collect();
    assert_eq!(statuses, [DeliveryStatus::Sent, DeliveryStatus::Failed]);
    assert_eq!(
        first.deliveries[1].last_error.as_deref(),
        Some("550 no such user")
    );
    assert_eq!(first.deliveries[1].attempts, 2);

    // One summary per project and window, however many ask for it.
    let summary = vec![NewDelivery {
        channel: "email".into(),
        target: "a@example.com".into(),
        payload: json!({"summary": {}}),
    }];
    let window = after_interval - Duration::minutes(1);
    assert!(
        store
            .queue_summary(web, window, after_interval, &summary)
            .await
            .unwrap()
    );
    assert!(
        !store
            .queue_summary(web, window, after_interval, &summary)
            .await
            .unwrap()
    );
    let later_window = after_interval + Duration::minutes(2);
    assert!(
        store
            .queue_summary(
                web,
                later_window,
                later_window + Duration::seconds(1),
                &summary
            )
            .await
            .unwrap()
    );
    let due = store
        .claim_deliveries(
            later_window + Duration::minutes(30),
            later_window + Duration::hours(1),
            100,
        )
        .await
        .unwrap();
    assert_eq!(due.iter().filter(|d| d.fire_id.is_none()).count(), 2);

    store.delete_rule(web, rule.id).await.unwrap();
    assert!(store.rule_history(rule.id, 10).await.unwrap().is_empty());
    let left = store
        .claim_deliveries(lease + Duration::hours(1), lease + Duration::hours(2), 100)
        .await
        .unwrap();
    assert!(
        left.iter().all(|d| d.fire_id.is_none()),
        "a rule's deliveries go with it; only the project's summaries stay"
    );
}

async fn plugins_keep_settings_and_enabled_apart(store: Arc<SqlMetaStore>) {
    let web = project(&store, "web").await;
    let api = project(&store, "api").await;
    assert!(store.plugins(web).await.unwrap().is_empty());
    // Enabling before configuring, then configuring, keeps both.
    let on = store.set_plugin_enabled(web, "slack", true).await.unwrap();
    assert_eq!((on.enabled, on.config.clone()), (true, json!({})));
    let hook = json!({"webhook": "https://hooks.slack.com/services/T/B/x"});
    let saved = store.save_plugin_config(web, "slack", &hook).await.unwrap();
    assert_eq!((saved.enabled, saved.config), (true, hook.clone()));
    // Configured but never enabled stays off; disabling keeps settings.
    let wecom = json!({"webhook": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"});
    store
        .save_plugin_config(web, "wecom", &wecom)
        .await
        .unwrap();
    let off = store.set_plugin_enabled(web, "slack", false).await.unwrap();
    assert_eq!((off.enabled, off.config), (false, hook));
    let listed = store.plugins(web).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|p| (p.slug.as_str(), p.enabled))
            .collect::<Vec<_>>(),
        [("slack", false), ("wecom", false)]
    );
    assert!(store.plugins(api).await.unwrap().is_empty(), "per project");
}

async fn frequency_counts_by_window(store: Arc<SqlMetaStore>) {
    let (a, b) = (GroupId(1), GroupId(2));
    let now = Utc::now();
    let earlier = now - Duration::minutes(10);
    let yesterday = now - Duration::hours(30);
    store
        .add_event_counts(&[(a, 3), (b, 1), (a, 2)], now)
        .await
        .unwrap();
    store.add_event_counts(&[(a, 4)], earlier).await.unwrap();
    store
        .add_event_counts(&[(a, 100)], yesterday)
        .await
        .unwrap();
    // The minute, five minutes, an hour, a day, a week.
    let windows = [1, 5, 60, 1440, 10080];
    assert_eq!(
        store.events_within(a, &windows, now).await.unwrap(),
        [5, 5, 9, 9, 109]
    );
    assert_eq!(
        store.events_within(b, &windows, now).await.unwrap(),
        [1, 1, 1, 1, 1]
    );

    let seen = |g: GroupId, u: &str| (g, u.to_owned());
    store
        .add_issue_users(&[seen(a, "id:1"), seen(a, "id:2"), seen(a, "id:1")], now)
        .await
        .unwrap();
    store
        .add_issue_users(&[seen(a, "id:3")], earlier)
        .await
        .unwrap();
    store
        .add_issue_users(&[seen(a, "id:4")], yesterday)
        .await
        .unwrap();
    assert_eq!(
        store.users_within(a, &windows, now).await.unwrap(),
        [2, 2, 3, 3, 4]
    );
    assert_eq!(store.users_within(b, &[60], now).await.unwrap(), [0]);

    // Pruning now drops only yesterday's minute bucket, which no window
    // reads (a day's window reads hours); a month on, nothing is kept.
    assert_eq!(store.prune_counts(now).await.unwrap(), 1);
    assert_eq!(
        store.events_within(a, &windows, now).await.unwrap(),
        [5, 5, 9, 9, 109]
    );
    let later = now + Duration::days(40);
    assert!(store.prune_counts(later).await.unwrap() >= 6);
    assert_eq!(
        store.events_within(a, &windows, now).await.unwrap(),
        [0, 0, 0, 0, 0]
    );
}

async fn the_latest_release_is_the_one_first_seen_last(store: Arc<SqlMetaStore>) {
    let web = project(&store, "web").await;
    let api = project(&store, "api").await;
    assert_eq!(store.latest_release(web).await.unwrap(), None);
    let now = Utc::now();
    let seen = |p: ProjectId, v: &str| (p, v.to_owned());
    store
        .add_releases(
            &[seen(web, "1.0"), seen(web, "1.0"), seen(api, "9.9")],
            now - Duration::hours(2),
        )
        .await
        .unwrap();
    store.add_releases(&[seen(web, "1.1")], now).await.unwrap();
    // Seen again later, 1.0 keeps its first sighting.
    store
        .add_releases(&[seen(web, "1.0")], now + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        store.latest_release(web).await.unwrap().as_deref(),
        Some("1.1")
    );
    assert_eq!(
        store.latest_release(api).await.unwrap().as_deref(),
        Some("9.9")
    );
}
