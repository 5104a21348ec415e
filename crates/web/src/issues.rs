//! Issue search and statistics shared by the REST API and the dashboard.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use faultline_protocol::{GroupId, ProjectId};
use faultline_storage::{Group, GroupQuery, GroupSort};

use crate::WebState;
use crate::error::{ApiError, ApiResult};
use crate::search::parse_search;

/// What Sentry searches when no query is given.
pub const DEFAULT_QUERY: &str = "is:unresolved";

pub struct IssueSearch {
    pub query: String,
    pub sort: GroupSort,
    pub last_seen_after: Option<DateTime<Utc>>,
    pub offset: usize,
    pub limit: usize,
}

/// Sentry's `sort` values.
pub fn parse_sort(value: Option<&str>) -> ApiResult<GroupSort> {
    Ok(match value {
        None | Some("" | "date") => GroupSort::LastSeen,
        Some("new") => GroupSort::FirstSeen,
        Some("freq") => GroupSort::Events,
        Some("user") => GroupSort::Users,
        Some(other) => return Err(ApiError::BadRequest(format!("invalid sort {other}"))),
    })
}

/// One page of issues among `projects` matching the search, and whether a
/// further page exists. Tag filters are answered by the event store, the
/// rest by the metadata store.
pub async fn search_issues(
    state: &WebState,
    projects: &[ProjectId],
    search: &IssueSearch,
) -> ApiResult<(Vec<Group>, bool)> {
    let parsed = parse_search(&search.query)?;
    let group_ids = if parsed.tags.is_empty() {
        None
    } else {
        Some(
            state
                .events
                .groups_matching_tags(projects, &parsed.tags)
                .await?,
        )
    };
    let query = GroupQuery {
        project_ids: projects.to_vec(),
        statuses: parsed.statuses,
        levels: parsed.levels,
        text: parsed.text,
        group_ids,
        assigned: parsed.assigned,
        last_seen_after: search.last_seen_after,
        sort: search.sort,
        offset: search.offset,
        limit: search.limit + 1,
    };
    let mut groups = state.meta.groups(&query).await?;
    let has_next = groups.len() > search.limit;
    groups.truncate(search.limit);
    Ok((groups, has_next))
}

pub fn parse_period(value: &str) -> ApiResult<Option<Duration>> {
    if value.is_empty() {
        return Ok(None);
    }
    let (number, unit) = value.split_at(value.len() - 1);
    let n: i64 = number
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("invalid statsPeriod {value}")))?;
    Ok(Some(match unit {
        "s" => Duration::seconds(n),
        "m" => Duration::minutes(n),
        "h" => Duration::hours(n),
        "d" => Duration::days(n),
        "w" => Duration::weeks(n),
        _ => return Err(ApiError::BadRequest(format!("invalid statsPeriod {value}"))),
    }))
}

/// Events per bucket for each issue over `period` (`24h`: hourly points,
/// longer: daily points, `""`: none), zeros included, oldest first.
pub async fn stats_series(
    state: &WebState,
    groups: &[Group],
    period: &str,
) -> ApiResult<Option<HashMap<GroupId, Vec<[i64; 2]>>>> {
    let Some(span) = parse_period(period)? else {
        return Ok(None);
    };
    let bucket: i64 = if span <= Duration::hours(48) {
        3600
    } else {
        86_400
    };
    let points = (span.num_seconds() / bucket).clamp(1, 400);
    let current = Utc::now().timestamp() / bucket * bucket;
    let first = current - (points - 1) * bucket;
    let since = chrono::DateTime::from_timestamp(first, 0).unwrap_or_default();
    let ids: Vec<GroupId> = groups.iter().map(|g| g.id).collect();
    let counts = state.events.group_stats(&ids, since, bucket).await?;
    let mut series: HashMap<GroupId, Vec<[i64; 2]>> = ids
        .iter()
        .map(|id| (*id, (0..points).map(|i| [first + i * bucket, 0]).collect()))
        .collect();
    for (group, start, count) in counts {
        let index = (start - first) / bucket;
        if let Some(point) = series
            .get_mut(&group)
            .and_then(|s| s.get_mut(index as usize))
        {
            point[1] += count as i64;
        }
    }
    Ok(Some(series))
}
