//! Sentry's API token scopes: which exist, which each role may use, and
//! whether a set of granted scopes satisfies what an endpoint needs.
//!
//! A token acts with the scopes it was created with, capped by the role
//! its user holds in the organization at the time of the request (as in
//! Sentry), so a token outlives no demotion.

use faultline_storage::Role;

/// Every scope a token may carry, in the order the dashboard lists them.
pub const ALL: &[&str] = &[
    "org:read",
    "org:write",
    "org:admin",
    "project:read",
    "project:write",
    "project:admin",
    "project:releases",
    "team:read",
    "team:write",
    "team:admin",
    "member:read",
    "member:write",
    "member:admin",
    "event:read",
    "event:write",
    "event:admin",
    "alerts:read",
    "alerts:write",
];

/// Scopes a new dashboard token starts with: what sentry-cli needs to list
/// and triage issues and to upload releases.
pub const DEFAULT_TOKEN: &[&str] = &[
    "org:read",
    "project:read",
    "project:write",
    "project:releases",
    "event:read",
    "event:write",
];

/// Scopes of a token made by `faultline token create` without `--scope`:
/// administering projects and events, and uploading releases.
pub const CLI_DEFAULT_TOKEN: &[&str] = &[
    "org:admin",
    "project:admin",
    "project:releases",
    "event:admin",
];

/// Sentry's default role scopes (owner: everything; admin: projects and
/// teams; member: reading, triage and releases).
pub fn for_role(role: Role) -> &'static [&'static str] {
    match role {
        Role::Owner => ALL,
        Role::Admin => &[
            "org:read",
            "member:read",
            "team:read",
            "team:write",
            "team:admin",
            "project:read",
            "project:write",
            "project:admin",
            "project:releases",
            "event:read",
            "event:write",
            "event:admin",
            "alerts:read",
            "alerts:write",
        ],
        Role::Member => &[
            "org:read",
            "member:read",
            "team:read",
            "project:read",
            "project:releases",
            "event:read",
            "event:write",
            "event:admin",
            "alerts:read",
            "alerts:write",
        ],
    }
}

/// What an endpoint accepts: any one of these scopes (or a stronger scope
/// of the same resource, see [`grants`]).
pub type Need = &'static [&'static str];

pub const ORG_READ: Need = &["org:read"];
pub const ORG_WRITE: Need = &["org:write"];
pub const PROJECT_READ: Need = &["project:read"];
pub const PROJECT_WRITE: Need = &["project:write"];
pub const PROJECT_ADMIN: Need = &["project:admin"];
pub const EVENT_READ: Need = &["event:read"];
pub const EVENT_WRITE: Need = &["event:write"];
/// Reading alert rules, as Sentry's rule endpoints accept it.
pub const ALERTS_READ: Need = &["project:read", "alerts:read"];
/// Creating, changing and deleting alert rules.
pub const ALERTS_WRITE: Need = &["project:write", "alerts:write"];
/// Reading releases, their commits and deploys.
pub const RELEASES_READ: Need = &["project:read", "project:releases"];
/// Creating, changing and deleting releases and deploys (what sentry-cli's
/// default token scope `project:releases` is for).
pub const RELEASES_WRITE: Need = &["project:write", "project:releases"];
/// Creating a team: Sentry accepts `team:write` as well as `org:write`.
pub const TEAM_CREATE: Need = &["org:write", "team:write"];
/// Putting someone else on a team or taking them off it (Sentry's
/// member-team endpoint takes any of these).
pub const TEAM_WRITE: Need = &["team:write", "org:write", "member:write"];
/// Seeing a team's members, and joining or leaving a team oneself
/// (Sentry's open membership).
pub const TEAM_READ: Need = &["team:read", "org:read"];
/// Inviting, changing and removing members, for a token (the role rule is
/// Faultline's own: admins manage members, see `ops::access`).
pub const MEMBER_WRITE: Need = &["member:write"];

/// Whether holding `granted` satisfies `need`: `x:admin` implies `x:write`,
/// which implies `x:read`, as Sentry's endpoints accept every stronger
/// scope of the resource. Other scopes (`project:releases`) stand alone.
pub fn grants(granted: &str, need: &str) -> bool {
    if granted == need {
        return true;
    }
    let (Some((resource, level)), Some((need_resource, need_level))) =
        (granted.split_once(':'), need.split_once(':'))
    else {
        return false;
    };
    let rank = |level: &str| match level {
        "read" => Some(0),
        "write" => Some(1),
        "admin" => Some(2),
        _ => None,
    };
    resource == need_resource
        && matches!((rank(level), rank(need_level)), (Some(have), Some(want)) if have >= want)
}

/// Whether any of `granted` satisfies any scope of `need`.
pub fn satisfies<S: AsRef<str>>(granted: &[S], need: Need) -> bool {
    need.iter()
        .any(|n| granted.iter().any(|g| grants(g.as_ref(), n)))
}

/// Whether a token with `token_scopes`, used by someone with `role`, may
/// do what needs `need`: both the token and the role must allow it.
pub fn allowed<S: AsRef<str>>(token_scopes: &[S], role: Role, need: Need) -> bool {
    need.iter().any(|n| {
        satisfies(token_scopes, std::slice::from_ref(n))
            && satisfies(for_role(role), std::slice::from_ref(n))
    })
}

/// The known scope `s`, or `None` (tokens are created with known scopes only).
pub fn known(s: &str) -> Option<&'static str> {
    ALL.iter().copied().find(|k| *k == s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stronger_scopes_of_a_resource_imply_weaker_ones() {
        assert!(grants("event:admin", "event:read"));
        assert!(grants("event:write", "event:write"));
        assert!(!grants("event:read", "event:write"));
        assert!(!grants("project:admin", "event:read"));
        assert!(!grants("project:admin", "project:releases"));
        assert!(!grants("project:releases", "project:read"));
        assert!(!grants("event", "event:read"));
    }

    #[test]
    fn tokens_are_capped_by_the_role() {
        let read_only = ["event:read"];
        assert!(allowed(&read_only, Role::Owner, EVENT_READ));
        assert!(!allowed(&read_only, Role::Owner, EVENT_WRITE));
        assert!(!allowed(&read_only, Role::Owner, PROJECT_WRITE));
        let everything = ALL;
        assert!(allowed(everything, Role::Member, EVENT_WRITE));
        assert!(!allowed(everything, Role::Member, PROJECT_WRITE));
        assert!(allowed(everything, Role::Admin, PROJECT_WRITE));
        assert!(!allowed(everything, Role::Admin, ORG_WRITE));
        // Creating a team: team:write is enough for an admin.
        assert!(allowed(&["team:write"], Role::Admin, TEAM_CREATE));
        assert!(!allowed(&["team:write"], Role::Member, TEAM_CREATE));
        // Every role scope exists.
        for role in [Role::Owner, Role::Admin, Role::Member] {
            assert!(for_role(role).iter().all(|s| known(s).is_some()));
        }
    }
}
