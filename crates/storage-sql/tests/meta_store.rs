//! The metadata store's suite, on both of its databases: embedded SQLite and
//! PostgreSQL (a real server; `FAULTLINE_TEST_POSTGRES_URL`, which
//! `cargo xtask test` provides, names one the tests may create databases on).

use std::sync::Arc;

mod common;

use common::new_postgres_database;

use chrono::{Duration, Utc};
use faultline_protocol::{EventId, GroupId, Level, OrgId, ProjectId};
use faultline_storage::{
    GroupQuery, GroupSort, GroupStatus, GroupedEvent, Invite, KeyUpdate, MetaStore, NewAttachment,
    NewUserReport, OwnerChanges, Role, Session, StorageError, UserId,
};

/// Changes a member's role as an owner may ([`OwnerChanges::Allowed`]).
async fn set_role(
    store: &dyn MetaStore,
    org: OrgId,
    user: UserId,
    role: Role,
) -> Result<(), StorageError> {
    store
        .set_member_role(org, user, role, OwnerChanges::Allowed)
        .await
}

on_every_backend!(
    accounts_and_sessions,
    organizations_projects_keys_teams,
    grouping_counts_and_searches,
    organizations_keep_an_owner,
    only_owners_touch_owners,
    invitations_are_used_once,
    releases_deploys_and_commits,
    user_reports_join_their_events_issue,
    attachments_are_kept_once_and_leave_with_retention,
    monitors_find_what_is_due_without_reading_the_rest
);

async fn releases_deploys_and_commits(store: Arc<dyn MetaStore>) {
    use faultline_storage::{Commit, NewDeploy, ReleaseChange, ReleaseStatus};
    let org = store.create_organization("rel", "Rel").await.unwrap();
    let other = store.create_organization("other", "Other").await.unwrap();
    let web = store
        .create_project(org.id, "web", "Web", None)
        .await
        .unwrap();
    let api = store
        .create_project(org.id, "api", "API", None)
        .await
        .unwrap();
    let started = chrono::Utc::now() - chrono::Duration::hours(1);
    let (created, new) = store
        .upsert_release(
            org.id,
            "shop@1.0",
            &ReleaseChange {
                date_started: Some(started),
                projects: vec![web.id],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(new);
    assert_eq!(
        (created.status, created.projects.clone()),
        (ReleaseStatus::Open, vec![web.id])
    );
    assert_eq!(created.date_released, None);
    // Again: the same release, a project added, archived; nothing unset.
    let (again, new) = store
        .upsert_release(
            org.id,
            "shop@1.0",
            &ReleaseChange {
                status: Some(ReleaseStatus::Archived),
                projects: vec![api.id, web.id],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!new);
    assert_eq!(again.id, created.id);
    assert_eq!(again.status, ReleaseStatus::Archived);
    assert_eq!(again.date_started, created.date_started);
    assert_eq!(again.projects.len(), 2);
    store
        .upsert_release(
            org.id,
            "shop@2.0",
            &ReleaseChange {
                projects: vec![api.id],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let all = store.releases(org.id, None, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.version.as_str()).collect::<Vec<_>>(),
        ["shop@2.0", "shop@1.0"]
    );
    assert_eq!(
        store
            .releases(org.id, Some(web.id), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store.releases(other.id, None, 10).await.unwrap().is_empty());
    assert_eq!(store.release(other.id, "shop@1.0").await.unwrap(), None);

    let commits = vec![
        Commit {
            id: "abc".into(),
            message: Some("second".into()),
            author_email: Some("a@b".into()),
            ..Default::default()
        },
        Commit {
            id: "def".into(),
            repository: Some("origin".into()),
            ..Default::default()
        },
    ];
    store
        .set_release_commits(created.id, &commits)
        .await
        .unwrap();
    store
        .set_release_commits(created.id, &commits)
        .await
        .unwrap();
    assert_eq!(store.release_commits(created.id).await.unwrap(), commits);
    let deploy = store
        .create_deploy(
            created.id,
            &NewDeploy {
                environment: "production".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(store.deploys(created.id).await.unwrap(), [deploy]);
    assert_eq!(
        store
            .release_issue_stats(&[web.id], "shop@1.0")
            .await
            .unwrap()
            .0,
        0
    );

    // Events name their release: it is created in the project on the fly
    // (only versions Sentry accepts), and issues carry first and last.
    let at = |release: Option<&str>, minutes_ago: i64| {
        let mut e = event(web.id, "rel-h", "ReleaseError", None, minutes_ago);
        e.release = release.map(str::to_owned);
        e
    };
    let outcomes = store
        .record_events(&[at(Some("shop@3.0"), 5), at(Some("bad/version"), 4)])
        .await
        .unwrap();
    store
        .record_events(&[at(Some("shop@3.1"), 1)])
        .await
        .unwrap();
    let issue = store.group(outcomes[0].group_id).await.unwrap().unwrap();
    assert_eq!(issue.first_release.as_deref(), Some("shop@3.0"));
    assert_eq!(issue.last_release.as_deref(), Some("shop@3.1"));
    let seen = store.release(org.id, "shop@3.0").await.unwrap().unwrap();
    assert_eq!(seen.projects, [web.id]);
    assert!(store.release(org.id, "shop@3.1").await.unwrap().is_some());
    assert_eq!(store.release(org.id, "bad/version").await.unwrap(), None);
    let (issues, first, _) = store
        .release_issue_stats(&[web.id], "shop@3.0")
        .await
        .unwrap();
    assert_eq!(issues, 1);
    assert!(first.is_some());
    let first_seen_in = store
        .groups(&faultline_storage::GroupQuery {
            project_ids: vec![web.id],
            first_release: Some("shop@3.0".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(first_seen_in.len(), 1);

    store.delete_release(org.id, "shop@1.0").await.unwrap();
    assert!(matches!(
        store.delete_release(org.id, "shop@1.0").await,
        Err(StorageError::NotFound)
    ));
    assert!(
        store.deploys(created.id).await.unwrap().is_empty(),
        "its deploys went with it"
    );
}

/// A database of the releases whose PostgreSQL schema was one version
/// (SQLite's five in one) opens as it is: versions 2 to 5 count as done,
/// and the later ones are applied.
#[tokio::test]
#[ignore = "needs PostgreSQL: run with cargo xtask test"]
async fn postgres_database_of_an_earlier_release_opens() {
    let url = new_postgres_database().await;
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::raw_sql(include_str!("../migrations/meta/postgres/0001_initial.sql"))
        .execute(&pool)
        .await
        .unwrap();
    sqlx::raw_sql(
        "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL); \
         INSERT INTO schema_migrations VALUES (1, 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let store = faultline_storage_sql::SqlMetaStore::open_postgres(&url)
        .await
        .unwrap();
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(versions, (1..=18).collect::<Vec<i64>>());
    let org = store.create_organization("old", "Old").await.unwrap();
    let team = store.create_team(org.id, "t", "T").await.unwrap();
    assert_eq!(store.teams(org.id).await.unwrap(), [team]);
}

async fn accounts_and_sessions(store: Arc<dyn MetaStore>) {
    let user = store
        .create_user("Jane@Example.com", Some("hash"), false)
        .await
        .unwrap();
    assert!(matches!(
        store.create_user("jane@example.COM", None, false).await,
        Err(StorageError::Conflict(_))
    ));
    assert_eq!(
        store
            .user_by_email("JANE@example.com")
            .await
            .unwrap()
            .unwrap()
            .id,
        user.id
    );
    assert_eq!(store.count_users().await.unwrap(), 1);
    store.set_password(user.id, "new-hash").await.unwrap();
    store.set_timezone(user.id, "Asia/Tokyo").await.unwrap();
    let reread = store.user_by_id(user.id).await.unwrap().unwrap();
    assert_eq!(
        (reread.password_hash.as_deref(), reread.timezone.as_str()),
        (Some("new-hash"), "Asia/Tokyo")
    );

    let token = store
        .create_api_token(user.id, "token-hash", &["org:read".into()], Some("ci"))
        .await
        .unwrap();
    let (found, owner) = store.token_by_hash("token-hash").await.unwrap().unwrap();
    assert_eq!(
        (found.id, owner.id, found.scopes.clone()),
        (token.id, user.id, vec!["org:read".to_owned()])
    );
    assert_eq!(store.api_tokens(user.id).await.unwrap().len(), 1);
    store.delete_api_token(user.id, token.id).await.unwrap();
    assert!(store.token_by_hash("token-hash").await.unwrap().is_none());

    let session = Session {
        user_id: user.id,
        csrf_token: "csrf".into(),
        expires: Utc::now() + Duration::days(1),
    };
    store
        .create_session(&session, "session-hash")
        .await
        .unwrap();
    assert_eq!(
        store
            .session("session-hash")
            .await
            .unwrap()
            .unwrap()
            .0
            .csrf_token,
        "csrf"
    );
    let expired = Session {
        expires: Utc::now() - Duration::seconds(1),
        ..session.clone()
    };
    store.create_session(&expired, "old-hash").await.unwrap();
    assert!(
        store.session("old-hash").await.unwrap().is_none(),
        "expired sessions do not count"
    );
    store.delete_session("session-hash").await.unwrap();
    assert!(store.session("session-hash").await.unwrap().is_none());

    // After a password change only the session that made it stays.
    let other_user = store
        .create_user("other@example.com", None, false)
        .await
        .unwrap();
    for hash in ["laptop", "phone", "stolen"] {
        store.create_session(&session, hash).await.unwrap();
    }
    let others = Session {
        user_id: other_user.id,
        ..session.clone()
    };
    store.create_session(&others, "other-user").await.unwrap();
    store
        .delete_other_sessions(user.id, "laptop")
        .await
        .unwrap();
    assert!(store.session("laptop").await.unwrap().is_some());
    assert!(store.session("phone").await.unwrap().is_none());
    assert!(store.session("stolen").await.unwrap().is_none());
    assert!(
        store.session("other-user").await.unwrap().is_some(),
        "another user's sessions stay"
    );

    store.set_setting("k", "v1").await.unwrap();
    store.set_setting("k", "v2").await.unwrap();
    assert_eq!(store.setting("k").await.unwrap().as_deref(), Some("v2"));
}

async fn organizations_projects_keys_teams(store: Arc<dyn MetaStore>) {
    let owner = store
        .create_user("owner@example.com", None, false)
        .await
        .unwrap();
    let member = store
        .create_user("member@example.com", None, false)
        .await
        .unwrap();
    let org = store.create_organization("acme", "Acme").await.unwrap();
    assert!(matches!(
        store.create_organization("acme", "Again").await,
        Err(StorageError::Conflict(_))
    ));
    store
        .add_member(org.id, owner.id, Role::Owner)
        .await
        .unwrap();
    store
        .add_member(org.id, member.id, Role::Member)
        .await
        .unwrap();
    // Adding an existing member changes nothing; set_member_role does.
    assert!(
        !store
            .add_member(org.id, member.id, Role::Owner)
            .await
            .unwrap()
    );
    assert_eq!(
        store.member_role(org.id, member.id).await.unwrap(),
        Some(Role::Member)
    );
    set_role(&*store, org.id, member.id, Role::Admin)
        .await
        .unwrap();
    assert_eq!(
        store.member_role(org.id, member.id).await.unwrap(),
        Some(Role::Admin)
    );
    assert_eq!(store.members(org.id).await.unwrap().len(), 2);
    assert_eq!(
        store.organizations_for_user(&member).await.unwrap()[0].slug,
        "acme"
    );
    store
        .remove_member(org.id, member.id, OwnerChanges::Allowed)
        .await
        .unwrap();
    assert!(
        store
            .organizations_for_user(&member)
            .await
            .unwrap()
            .is_empty()
    );

    let team = store
        .create_team(org.id, "backend", "Backend")
        .await
        .unwrap();
    let project = store
        .create_project(org.id, "api", "API", Some("python"))
        .await
        .unwrap();
    assert!(matches!(
        store.create_project(org.id, "api", "API", None).await,
        Err(StorageError::Conflict(_))
    ));
    store
        .add_project_to_team(team.id, project.id)
        .await
        .unwrap();
    store
        .add_project_to_team(team.id, project.id)
        .await
        .unwrap();
    assert_eq!(store.team_projects(team.id).await.unwrap().len(), 1);
    // Team members: added once, removed, and per team.
    assert!(store.team_members(team.id).await.unwrap().is_empty());
    store.add_team_member(team.id, member.id).await.unwrap();
    store.add_team_member(team.id, member.id).await.unwrap();
    store.add_team_member(team.id, owner.id).await.unwrap();
    assert_eq!(
        store.team_members(team.id).await.unwrap(),
        [owner.id, member.id]
    );
    store.remove_team_member(team.id, owner.id).await.unwrap();
    store.remove_team_member(team.id, owner.id).await.unwrap();
    assert_eq!(store.team_members(team.id).await.unwrap(), [member.id]);
    assert_eq!(
        store.project_teams(project.id).await.unwrap()[0].slug,
        "backend"
    );
    store
        .update_project(project.id, "Public API", Some("node"))
        .await
        .unwrap();
    let project = store.project_by_slug(org.id, "api").await.unwrap().unwrap();
    assert_eq!(
        (project.name.as_str(), project.platform.as_deref()),
        ("Public API", Some("node"))
    );

    let key = store.create_key(project.id, "Default").await.unwrap();
    assert_eq!(key.public_key.len(), 32);
    let limited = KeyUpdate {
        is_active: Some(false),
        rate_limit: Some(Some((10, 60))),
        ..KeyUpdate::default()
    };
    let key = store.update_key(key.id, &limited).await.unwrap();
    assert_eq!(
        (key.is_active, key.rate_limit_count, key.rate_limit_window),
        (false, Some(10), Some(60))
    );
    let cleared = KeyUpdate {
        rate_limit: Some(None),
        ..KeyUpdate::default()
    };
    let key = store.update_key(key.id, &cleared).await.unwrap();
    assert_eq!((key.is_active, key.rate_limit_count), (false, None));
    assert_eq!(
        store
            .key_by_public(&key.public_key)
            .await
            .unwrap()
            .unwrap()
            .id,
        key.id
    );

    let invite = Invite {
        org_id: org.id,
        email: "new@example.com".into(),
        role: Role::Member,
        invited_by: owner.id,
        expires: Utc::now() + Duration::days(7),
    };
    store.create_invite(&invite, "invite-hash").await.unwrap();
    assert_eq!(
        store.invite("invite-hash").await.unwrap().unwrap().email,
        "new@example.com"
    );
    store.delete_invite("invite-hash").await.unwrap();
    assert!(store.invite("invite-hash").await.unwrap().is_none());
}

async fn organizations_keep_an_owner(store: Arc<dyn MetaStore>) {
    let org = store.create_organization("solo", "Solo").await.unwrap();
    let a = store
        .create_user("a@example.com", None, false)
        .await
        .unwrap();
    let b = store
        .create_user("b@example.com", None, false)
        .await
        .unwrap();
    store.add_member(org.id, a.id, Role::Owner).await.unwrap();
    store.add_member(org.id, b.id, Role::Member).await.unwrap();
    assert!(matches!(
        set_role(&*store, org.id, a.id, Role::Admin).await,
        Err(StorageError::LastOwner)
    ));
    assert!(matches!(
        store
            .remove_member(org.id, a.id, OwnerChanges::Allowed)
            .await,
        Err(StorageError::LastOwner)
    ));
    let stranger = store
        .create_user("c@example.com", None, false)
        .await
        .unwrap();
    assert!(matches!(
        store
            .remove_member(org.id, stranger.id, OwnerChanges::Allowed)
            .await,
        Err(StorageError::NotFound)
    ));
    // An owner may stay an owner, and step down once another exists.
    set_role(&*store, org.id, a.id, Role::Owner).await.unwrap();
    set_role(&*store, org.id, b.id, Role::Owner).await.unwrap();
    set_role(&*store, org.id, a.id, Role::Member).await.unwrap();
    set_role(&*store, org.id, a.id, Role::Owner).await.unwrap();

    // Two owners demoting each other at the same moment: one must lose.
    for round in 0..20 {
        let (first, second) = if round % 2 == 0 {
            (a.id, b.id)
        } else {
            (b.id, a.id)
        };
        let (s1, s2) = (store.clone(), store.clone());
        let one = tokio::spawn(async move {
            s1.set_member_role(org.id, first, Role::Member, OwnerChanges::Allowed)
                .await
        });
        let two = tokio::spawn(async move {
            s2.remove_member(org.id, second, OwnerChanges::Allowed)
                .await
        });
        let (one, two) = (one.await.unwrap(), two.await.unwrap());
        let owners = store
            .members(org.id)
            .await
            .unwrap()
            .iter()
            .filter(|(_, role)| *role == Role::Owner)
            .count();
        assert_eq!(owners, 1, "round {round}: {one:?} {two:?}");
        assert!(one.is_ok() != two.is_ok(), "round {round}: {one:?} {two:?}");
        // Back to two owners for the next round.
        store.add_member(org.id, second, Role::Owner).await.unwrap();
        set_role(&*store, org.id, first, Role::Owner).await.unwrap();
        set_role(&*store, org.id, second, Role::Owner)
            .await
            .unwrap();
    }
}

/// A change refused to touch owners (an admin's) leaves an owner as they
/// are, even one promoted just before; an owner's change goes through,
/// within the last-owner rule.
async fn only_owners_touch_owners(store: Arc<dyn MetaStore>) {
    let org = store
        .create_organization("guarded", "Guarded")
        .await
        .unwrap();
    let owner = store
        .create_user("owner@example.com", None, false)
        .await
        .unwrap();
    let other = store
        .create_user("other@example.com", None, false)
        .await
        .unwrap();
    store
        .add_member(org.id, owner.id, Role::Owner)
        .await
        .unwrap();
    store
        .add_member(org.id, other.id, Role::Member)
        .await
        .unwrap();

    // Anyone not an owner is changed as before, refused or not.
    store
        .set_member_role(org.id, other.id, Role::Admin, OwnerChanges::Refused)
        .await
        .unwrap();
    assert_eq!(
        store.member_role(org.id, other.id).await.unwrap(),
        Some(Role::Admin)
    );

    // Promoted meanwhile: the refused change no longer applies to them.
    set_role(&*store, org.id, other.id, Role::Owner)
        .await
        .unwrap();
    for role in [Role::Member, Role::Admin, Role::Owner] {
        assert!(
            matches!(
                store
                    .set_member_role(org.id, other.id, role, OwnerChanges::Refused)
                    .await,
                Err(StorageError::OwnerOnly)
            ),
            "{role:?}"
        );
    }
    assert!(matches!(
        store
            .remove_member(org.id, other.id, OwnerChanges::Refused)
            .await,
        Err(StorageError::OwnerOnly)
    ));
    assert_eq!(
        store.member_role(org.id, other.id).await.unwrap(),
        Some(Role::Owner)
    );
    // Refused wins over the last-owner rule, and a non-member is still 404.
    set_role(&*store, org.id, other.id, Role::Member)
        .await
        .unwrap();
    assert!(matches!(
        store
            .set_member_role(org.id, owner.id, Role::Member, OwnerChanges::Refused)
            .await,
        Err(StorageError::OwnerOnly)
    ));
    let stranger = store
        .create_user("stranger@example.com", None, false)
        .await
        .unwrap();
    assert!(matches!(
        store
            .remove_member(org.id, stranger.id, OwnerChanges::Refused)
            .await,
        Err(StorageError::NotFound)
    ));

    // An owner may change owners, but not the last one away.
    assert!(matches!(
        set_role(&*store, org.id, owner.id, Role::Admin).await,
        Err(StorageError::LastOwner)
    ));
    assert!(matches!(
        store
            .remove_member(org.id, owner.id, OwnerChanges::Allowed)
            .await,
        Err(StorageError::LastOwner)
    ));
    set_role(&*store, org.id, other.id, Role::Owner)
        .await
        .unwrap();
    set_role(&*store, org.id, other.id, Role::Admin)
        .await
        .unwrap();
    set_role(&*store, org.id, other.id, Role::Owner)
        .await
        .unwrap();
    store
        .remove_member(org.id, other.id, OwnerChanges::Allowed)
        .await
        .unwrap();
    assert_eq!(store.member_role(org.id, other.id).await.unwrap(), None);
    assert_eq!(
        store.member_role(org.id, owner.id).await.unwrap(),
        Some(Role::Owner)
    );
}

async fn invitations_are_used_once(store: Arc<dyn MetaStore>) {
    let org = store.create_organization("club", "Club").await.unwrap();
    let owner = store
        .create_user("owner@example.com", None, false)
        .await
        .unwrap();
    store
        .add_member(org.id, owner.id, Role::Owner)
        .await
        .unwrap();
    let invite = |role| Invite {
        org_id: org.id,
        email: "owner@example.com".into(),
        role,
        invited_by: owner.id,
        expires: Utc::now() + Duration::days(7),
    };
    // Accepting an invitation never changes an existing member's role.
    store
        .create_invite(&invite(Role::Member), "demote")
        .await
        .unwrap();
    assert!(
        store
            .accept_invite("demote", owner.id)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store.member_role(org.id, owner.id).await.unwrap(),
        Some(Role::Owner)
    );
    assert!(
        store
            .accept_invite("demote", owner.id)
            .await
            .unwrap()
            .is_none()
    );

    // Concurrent accepts of one link: exactly one wins.
    let guest = store
        .create_user("guest@example.com", None, false)
        .await
        .unwrap();
    store
        .create_invite(&invite(Role::Admin), "race")
        .await
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.accept_invite("race", guest.id).await.unwrap() })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        winners += usize::from(task.await.unwrap().is_some());
    }
    assert_eq!(winners, 1);
    assert_eq!(
        store.member_role(org.id, guest.id).await.unwrap(),
        Some(Role::Admin)
    );

    // Expired invitations cannot be used.
    let mut old = invite(Role::Member);
    old.expires = Utc::now() - Duration::seconds(1);
    store.create_invite(&old, "old").await.unwrap();
    assert!(store.invite("old").await.unwrap().is_none());
    assert!(
        store
            .accept_invite("old", guest.id)
            .await
            .unwrap()
            .is_none()
    );
}

fn event(
    project: ProjectId,
    hash: &str,
    title: &str,
    user: Option<&str>,
    minutes_ago: i64,
) -> GroupedEvent {
    GroupedEvent {
        project_id: project,
        event_id: EventId::new_random(),
        hash: hash.into(),
        title: title.into(),
        culprit: "app in handler".into(),
        level: Level::Error,
        event_type: "error".into(),
        platform: "python".into(),
        metadata: serde_json::json!({"type": "E"}),
        timestamp: Utc::now() - Duration::minutes(minutes_ago),
        release: Some("app@1".into()),
        user: user.map(str::to_owned),
    }
}

async fn grouping_counts_and_searches(store: Arc<dyn MetaStore>) {
    let org = store.create_organization("org", "Org").await.unwrap();
    let project = store
        .create_project(org.id, "p", "P", None)
        .await
        .unwrap()
        .id;
    let first = event(project, "h1", "KeyError: 'a'", Some("id:1"), 10);
    let replay = first.clone();
    let batch = vec![
        first.clone(),
        replay.clone(),
        event(project, "h1", "KeyError: 'b'", Some("id:1"), 5),
        event(project, "h1", "KeyError: 'c'", Some("id:2"), 1),
        event(project, "h2", "ValueError: bad", None, 2),
    ];
    let outcomes = store.record_events(&batch).await.unwrap();
    assert!(outcomes[0].new_group && !outcomes[0].duplicate);
    assert!(
        outcomes[1].duplicate,
        "the same event id twice in a batch counts once"
    );
    assert!(!outcomes[2].new_group && outcomes[2].group_id == outcomes[0].group_id);
    let group = store.group(outcomes[0].group_id).await.unwrap().unwrap();
    assert_eq!((group.count, group.user_count), (3, 2));
    assert_eq!(
        group.title, "KeyError: 'c'",
        "the newest event names the issue"
    );
    assert_eq!(group.short_id, 1);

    // Redelivery in a later batch: nothing counted, the first outcome reported.
    let again = store.record_events(&[replay]).await.unwrap();
    assert!(again[0].duplicate && again[0].new_group);
    assert_eq!(
        store
            .group(outcomes[0].group_id)
            .await
            .unwrap()
            .unwrap()
            .count,
        3
    );

    // Regression: a resolved issue reopens on a new event.
    store
        .set_group_status(&[group.id], GroupStatus::Resolved)
        .await
        .unwrap();
    assert!(
        store
            .group(group.id)
            .await
            .unwrap()
            .unwrap()
            .resolved_at
            .is_some()
    );
    let reopened = store
        .record_events(&[event(project, "h1", "KeyError: 'd'", None, 0)])
        .await
        .unwrap();
    assert!(reopened[0].regression);
    let group = store.group(group.id).await.unwrap().unwrap();
    assert_eq!(
        (group.status, group.substatus.as_deref(), group.count),
        (GroupStatus::Unresolved, Some("regressed"), 4)
    );

    // Ignored until two more events: the second brings it back, once.
    let snooze = faultline_storage::Snooze {
        count: Some(2),
        ..Default::default()
    };
    store.snooze_groups(&[group.id], &snooze).await.unwrap();
    let next = || event(project, "h1", "KeyError: 'd'", None, 0);
    let first = store.record_events(&[next()]).await.unwrap();
    assert!(!first[0].reappeared);
    let stored = store.group(group.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.substatus.as_deref()),
        (GroupStatus::Ignored, Some("archived_until_condition_met"))
    );
    let back = next();
    let second = store
        .record_events(std::slice::from_ref(&back))
        .await
        .unwrap();
    assert!(second[0].reappeared && !second[0].regression);
    let stored = store.group(group.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.substatus.as_deref()),
        (GroupStatus::Unresolved, Some("ongoing"))
    );
    // A redelivery reports what the first delivery did.
    assert!(store.record_events(&[back]).await.unwrap()[0].reappeared);
    assert!(!store.record_events(&[next()]).await.unwrap()[0].reappeared);
    // Ignored until a time that has passed; ignored forever stays so.
    let past = faultline_storage::Snooze {
        until: Some(chrono::Utc::now() - chrono::Duration::seconds(1)),
        ..Default::default()
    };
    store.snooze_groups(&[group.id], &past).await.unwrap();
    assert!(store.record_events(&[next()]).await.unwrap()[0].reappeared);
    store
        .set_group_status(&[group.id], GroupStatus::Ignored)
        .await
        .unwrap();
    assert!(!store.record_events(&[next()]).await.unwrap()[0].reappeared);
    store
        .set_group_status(&[group.id], GroupStatus::Unresolved)
        .await
        .unwrap();
    let group = store.group(group.id).await.unwrap().unwrap();

    let query = |text: &[&str], statuses: &[GroupStatus], sort: GroupSort| GroupQuery {
        project_ids: vec![project],
        statuses: statuses.to_vec(),
        text: text.iter().map(|t| t.to_string()).collect(),
        sort,
        limit: 10,
        ..GroupQuery::default()
    };
    let by_events = store
        .groups(&query(&[], &[], GroupSort::Events))
        .await
        .unwrap();
    assert_eq!(
        by_events.iter().map(|g| g.count).collect::<Vec<_>>(),
        vec![9, 1]
    );
    assert_eq!(
        store
            .groups(&query(&["valueerror"], &[], GroupSort::LastSeen))
            .await
            .unwrap()
            .len(),
        1,
        "text search ignores case"
    );
    assert_eq!(
        store
            .groups(&query(&["50%_"], &[], GroupSort::LastSeen))
            .await
            .unwrap()
            .len(),
        0,
        "LIKE wildcards are literal"
    );
    store
        .set_group_status(&[by_events[1].id], GroupStatus::Ignored)
        .await
        .unwrap();
    assert_eq!(
        store
            .groups(&query(&[], &[GroupStatus::Unresolved], GroupSort::LastSeen))
            .await
            .unwrap()
            .len(),
        1
    );
    let mut assigned = query(&[], &[], GroupSort::LastSeen);
    assigned.assigned = Some(true);
    assert!(store.groups(&assigned).await.unwrap().is_empty());
    let owner = store
        .create_user("o@example.com", None, false)
        .await
        .unwrap();
    store
        .set_assignee(&[group.id], Some(owner.id))
        .await
        .unwrap();
    assert_eq!(
        store.groups(&assigned).await.unwrap()[0].assignee,
        Some(owner.id)
    );
    let mut paged = query(&[], &[], GroupSort::FirstSeen);
    paged.limit = 1;
    paged.offset = 1;
    assert_eq!(store.groups(&paged).await.unwrap().len(), 1);
    // Counting is the same filter and page, without the rows.
    assert_eq!(store.count_groups(&paged).await.unwrap(), 1);
    paged.limit = 100;
    paged.offset = 0;
    let all = store.groups(&paged).await.unwrap().len();
    assert!(all >= 2);
    assert_eq!(store.count_groups(&paged).await.unwrap(), all);
    assert_eq!(store.count_groups(&assigned).await.unwrap(), 1);
    paged.group_ids = Some(Vec::new());
    assert_eq!(store.count_groups(&paged).await.unwrap(), 0);
    assert!(
        store
            .project_by_id(project)
            .await
            .unwrap()
            .unwrap()
            .first_event
            .is_some()
    );

    // Retention: issues last seen before the cutoff go, with their event ids.
    let old = event(project, "h3", "OldError", None, 60 * 24 * 10);
    store
        .record_events(std::slice::from_ref(&old))
        .await
        .unwrap();
    assert_eq!(
        store
            .delete_issues_before(Utc::now() - Duration::days(5))
            .await
            .unwrap(),
        1
    );
    let again = store.record_events(&[old]).await.unwrap();
    assert!(!again[0].duplicate, "its event ids were forgotten with it");

    // An issue that lives on forgets the ids of its events retention
    // deleted, and keeps the others: per-event rows do not pile up.
    let (old, recent) = (
        event(project, "h4", "LongLived", None, 60 * 24 * 10),
        event(project, "h4", "LongLived", None, 1),
    );
    store
        .record_events(&[old.clone(), recent.clone()])
        .await
        .unwrap();
    let bytes = store.disk_bytes().await.unwrap();
    assert!(bytes > 0);
    store
        .delete_issues_before(Utc::now() - Duration::days(5))
        .await
        .unwrap();
    let again = store.record_events(&[old, recent]).await.unwrap();
    assert!(!again[0].duplicate, "the deleted event's id is forgotten");
    assert!(again[1].duplicate, "the kept event's id is remembered");
}

async fn user_reports_join_their_events_issue(store: Arc<dyn MetaStore>) {
    let org = store.create_organization("fb", "Feedback").await.unwrap();
    let project = store
        .create_project(org.id, "p", "P", None)
        .await
        .unwrap()
        .id;
    let other = store
        .create_project(org.id, "q", "Q", None)
        .await
        .unwrap()
        .id;
    let grouped = event(project, "h1", "KeyError: 'a'", None, 3);
    let group = store
        .record_events(std::slice::from_ref(&grouped))
        .await
        .unwrap()[0]
        .group_id;
    let report = |event_id: EventId, comments: &str, minutes_ago: i64| NewUserReport {
        project_id: project,
        event_id,
        name: "Jane".into(),
        email: "jane@example.com".into(),
        comments: comments.into(),
        url: Some("https://shop.example.com/cart".into()),
        date_created: Utc::now() - Duration::minutes(minutes_ago),
    };
    let lone = EventId::new_random();
    store
        .record_user_reports(&[
            report(grouped.event_id, "It broke.", 2),
            report(lone, "No event of ours.", 1),
        ])
        .await
        .unwrap();
    // A second report about the event replaces the first; a redelivered
    // batch changes nothing.
    let second = [report(grouped.event_id, "It broke again.", 0)];
    store.record_user_reports(&second).await.unwrap();
    store.record_user_reports(&second).await.unwrap();

    let reports = store.user_reports(project, None, 100).await.unwrap();
    assert_eq!(reports.len(), 2, "{reports:#?}");
    assert_eq!(reports[0].event_id, grouped.event_id, "newest first");
    assert_eq!(reports[0].comments, "It broke again.");
    assert_eq!(reports[0].group_id, Some(group), "the issue is its event's");
    assert_eq!(reports[1].group_id, None, "an event not (yet) grouped");
    assert_eq!(
        reports[1].url.as_deref(),
        Some("https://shop.example.com/cart")
    );
    assert_eq!(store.user_reports(project, None, 1).await.unwrap().len(), 1);
    let of_issue = store.user_reports(project, Some(group), 100).await.unwrap();
    assert_eq!(of_issue.len(), 1, "only the issue's: {of_issue:#?}");
    assert_eq!(of_issue[0].event_id, grouped.event_id);
    assert!(
        store
            .user_reports(other, None, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .user_report_counts(&[group, GroupId(i64::MAX)])
            .await
            .unwrap(),
        [(group, 1)]
    );

    // Retention takes old reports with the issues.
    store
        .delete_issues_before(Utc::now() + Duration::minutes(1))
        .await
        .unwrap();
    assert!(
        store
            .user_reports(project, None, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn attachments_are_kept_once_and_leave_with_retention(store: Arc<dyn MetaStore>) {
    let project = ProjectId(41);
    let event = EventId::new_random();
    let attachment = |name: &str, sha1: &str, minutes_ago: i64| NewAttachment {
        project_id: project,
        event_id: event,
        name: name.into(),
        attachment_type: "event.attachment".into(),
        content_type: "text/plain".into(),
        size: 12,
        sha1: sha1.into(),
        date_created: Utc::now() - Duration::minutes(minutes_ago),
    };
    let log = attachment("app.log", "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3", 10);
    let shot = attachment("screen.png", "0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33", 1);
    store
        .record_attachments(&[log.clone(), shot.clone()])
        .await
        .unwrap();
    // A redelivered item is kept once.
    store
        .record_attachments(std::slice::from_ref(&log))
        .await
        .unwrap();
    let kept = store.attachments(project, event).await.unwrap();
    assert_eq!(kept.len(), 2, "{kept:#?}");
    assert_eq!((kept[0].name.as_str(), kept[0].size), ("app.log", 12));
    assert_eq!(
        kept[0].blob_key(),
        format!("attachments/41/{event}/a94a8fe5ccb19ba61c4c0873d391e987982fbbd3")
    );
    assert!(
        store
            .attachments(project, EventId::new_random())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .attachments(ProjectId(42), event)
            .await
            .unwrap()
            .is_empty()
    );

    // Retention takes the older one and says which, for its blob.
    let gone = store
        .delete_attachments_before(Utc::now() - Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].name, "app.log");
    let left = store.attachments(project, event).await.unwrap();
    assert_eq!(
        left.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        ["screen.png"]
    );
}

async fn monitors_find_what_is_due_without_reading_the_rest(store: Arc<dyn MetaStore>) {
    use faultline_storage::{
        CheckIn, CheckInStatus, EnvironmentStatus, IntervalUnit, MonitorConfig, MonitorStatus,
        Schedule,
    };
    let org = store.create_organization("crons", "Crons").await.unwrap();
    let project = store
        .create_project(org.id, "jobs", "Jobs", None)
        .await
        .unwrap();
    let config = MonitorConfig {
        schedule: Schedule::Interval(5, IntervalUnit::Minute),
        checkin_margin: Some(2),
        max_runtime: None,
        timezone: Some("Europe/Vienna".into()),
        failure_issue_threshold: None,
        recovery_threshold: Some(2),
    };
    let monitor = store
        .create_monitor(project.id, "backup", &config)
        .await
        .unwrap();
    assert_eq!(
        (monitor.name.as_str(), monitor.status),
        ("backup", MonitorStatus::Active)
    );
    assert_eq!(monitor.config, config);
    // A second create of the slug (two consumers racing) gives the same one.
    let again = store
        .create_monitor(project.id, "backup", &config)
        .await
        .unwrap();
    assert_eq!(again.id, monitor.id);
    let other = store
        .create_monitor(project.id, "report", &config)
        .await
        .unwrap();

    // Environments come into being on first use, once.
    let env = store
        .monitor_environment(monitor.id, "production")
        .await
        .unwrap();
    assert_eq!(env.status, EnvironmentStatus::Active);
    let same = store
        .monitor_environment(monitor.id, "production")
        .await
        .unwrap();
    assert_eq!(same.id, env.id);

    // Saves are optimistic: the second writer of one version loses.
    // (Times are kept to the millisecond.)
    let now = chrono::DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap();
    let mut due = env.clone();
    due.next_checkin = Some(now - Duration::minutes(10));
    due.next_checkin_latest = Some(now - Duration::minutes(8));
    due.last_checkin = Some(now - Duration::minutes(15));
    assert!(store.save_monitor_environment(&due).await.unwrap());
    assert!(!store.save_monitor_environment(&due).await.unwrap());
    let mut later = store
        .monitor_environment(other.id, "production")
        .await
        .unwrap();
    later.next_checkin_latest = Some(now + Duration::minutes(8));
    assert!(store.save_monitor_environment(&later).await.unwrap());

    let found = store.due_monitor_environments(now, 10).await.unwrap();
    assert_eq!(found.iter().map(|e| e.id).collect::<Vec<_>>(), [env.id]);
    assert_eq!(found[0].version, env.version + 1);
    assert_eq!(found[0].next_checkin, due.next_checkin);
    // A disabled monitor is not swept.
    let mut disabled = monitor.clone();
    disabled.status = MonitorStatus::Disabled;
    store.update_monitor(&disabled).await.unwrap();
    assert!(
        store
            .due_monitor_environments(now, 10)
            .await
            .unwrap()
            .is_empty()
    );
    store.update_monitor(&monitor).await.unwrap();

    // Check-ins: in progress ones past their timeout are found by the
    // index, finished ones are not.
    let checkin = |guid: &str, status, minutes_ago: i64, timeout: Option<i64>| CheckIn {
        id: 0,
        guid: guid.into(),
        monitor_id: monitor.id,
        environment_id: env.id,
        environment: "production".into(),
        status,
        duration_ms: None,
        date_created: now - Duration::minutes(minutes_ago),
        date_updated: now - Duration::minutes(minutes_ago),
        expected_time: None,
        timeout_at: timeout.map(|m| now - Duration::minutes(m)),
        config: config.clone(),
    };
    let stuck = store
        .insert_checkin(&checkin("a1", CheckInStatus::InProgress, 40, Some(10)))
        .await
        .unwrap();
    store
        .insert_checkin(&checkin("a2", CheckInStatus::InProgress, 5, Some(-25)))
        .await
        .unwrap();
    store
        .insert_checkin(&checkin("a3", CheckInStatus::Ok, 60, None))
        .await
        .unwrap();
    let late = store.timed_out_checkins(now, 10).await.unwrap();
    assert_eq!(
        late.iter().map(|c| c.guid.as_str()).collect::<Vec<_>>(),
        ["a1"]
    );
    assert_eq!(
        store
            .latest_in_progress(env.id)
            .await
            .unwrap()
            .map(|c| c.guid),
        Some("a2".into())
    );
    let mut done = stuck.clone();
    done.status = CheckInStatus::Timeout;
    done.timeout_at = None;
    store.update_checkin(&done).await.unwrap();
    assert!(store.timed_out_checkins(now, 10).await.unwrap().is_empty());
    assert_eq!(
        store
            .checkin(monitor.id, "a1")
            .await
            .unwrap()
            .map(|c| c.status),
        Some(CheckInStatus::Timeout)
    );
    let listed = store
        .checkins(monitor.id, Some("production"), 2, 0)
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|c| c.guid.as_str()).collect::<Vec<_>>(),
        ["a2", "a1"]
    );
    assert!(
        store
            .checkins(monitor.id, Some("staging"), 10, 0)
            .await
            .unwrap()
            .is_empty()
    );

    // Retention takes old check-ins; deleting a monitor takes the rest.
    assert_eq!(
        store
            .delete_checkins_before(now - Duration::minutes(30))
            .await
            .unwrap(),
        2
    );
    let names: Vec<String> = store
        .monitors(&[project.id])
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.slug)
        .collect();
    assert_eq!(names, ["backup", "report"]);
    store.delete_monitor(monitor.id).await.unwrap();
    assert!(store.monitor(project.id, "backup").await.unwrap().is_none());
    assert!(store.checkin(monitor.id, "a2").await.unwrap().is_none());
    assert!(
        store
            .monitor_environments(&[monitor.id])
            .await
            .unwrap()
            .is_empty()
    );
}
