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

/// Most matching issues counted for `X-Hits`, as Sentry's search counts
/// (it answers `X-Max-Hits: 1000` beside them): past that, a total costs a
/// scan and tells nobody anything a page does not.
pub const MAX_HITS: usize = 1000;

/// The store's query for a page of `search` among `projects`, one issue
/// longer than the page to tell whether another follows. Tag filters are
/// answered by the event store, the rest by the metadata store.
async fn page_query(
    state: &WebState,
    projects: &[ProjectId],
    search: &IssueSearch,
) -> ApiResult<GroupQuery> {
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
    Ok(GroupQuery {
        project_ids: projects.to_vec(),
        statuses: parsed.statuses,
        levels: parsed.levels,
        text: parsed.text,
        group_ids,
        assigned: parsed.assigned,
        first_release: parsed.first_release,
        last_seen_after: search.last_seen_after,
        sort: search.sort,
        offset: search.offset,
        limit: search.limit + 1,
    })
}

async fn run_page(
    state: &WebState,
    query: &GroupQuery,
    search: &IssueSearch,
) -> ApiResult<(Vec<Group>, bool)> {
    let mut groups = state.meta.groups(query).await?;
    let has_next = groups.len() > search.limit;
    groups.truncate(search.limit);
    Ok((groups, has_next))
}

/// One page of issues among `projects` matching the search, and whether a
/// further page exists.
pub async fn search_issues(
    state: &WebState,
    projects: &[ProjectId],
    search: &IssueSearch,
) -> ApiResult<(Vec<Group>, bool)> {
    let query = page_query(state, projects, search).await?;
    run_page(state, &query, search).await
}

/// [`search_issues`], and how many issues match in all, up to
/// [`MAX_HITS`] (Sentry's `X-Hits`). The page usually tells; otherwise one
/// more query counts the rest.
pub async fn search_issues_with_hits(
    state: &WebState,
    projects: &[ProjectId],
    search: &IssueSearch,
) -> ApiResult<(Vec<Group>, bool, usize)> {
    let query = page_query(state, projects, search).await?;
    let (groups, has_next) = run_page(state, &query, search).await?;
    let hits = match hits(search.offset, search.limit, groups.len(), has_next) {
        Hits::Known(hits) => hits,
        Hits::CountFrom(from) => {
            let rest = GroupQuery {
                offset: from,
                limit: MAX_HITS - from,
                ..query
            };
            from + state.meta.count_groups(&rest).await?
        }
    };
    Ok((groups, has_next, hits.min(MAX_HITS)))
}

#[derive(Debug, PartialEq, Eq)]
enum Hits {
    Known(usize),
    /// Count the matching issues from this offset on (below [`MAX_HITS`]).
    CountFrom(usize),
}

/// What a page of `shown` issues at `offset` (of at most `limit`) tells of
/// the total.
fn hits(offset: usize, limit: usize, shown: usize, has_next: bool) -> Hits {
    let past_page = offset.saturating_add(limit);
    match (has_next, shown) {
        // The last page: everything before it and what it shows.
        (false, 1..) => Hits::Known(offset + shown),
        (false, 0) if offset == 0 => Hits::Known(0),
        // A cursor past the end shows nothing, which tells nothing.
        (false, 0) => Hits::CountFrom(0),
        (true, _) if past_page >= MAX_HITS => Hits::Known(MAX_HITS),
        (true, _) => Hits::CountFrom(past_page),
    }
}

/// Longest `statsPeriod` / `groupStatsPeriod`, as Sentry's: 90 days.
pub const MAX_PERIOD: Duration = Duration::days(90);

/// Sentry's periods: a whole number of seconds, minutes, hours, days or
/// weeks (`90d`; no unit means seconds), at most [`MAX_PERIOD`]. `""` is no
/// period. `param` names the parameter in the error.
pub fn parse_period(param: &str, value: &str) -> ApiResult<Option<Duration>> {
    if value.is_empty() {
        return Ok(None);
    }
    let max_days = MAX_PERIOD.num_days();
    let invalid = || {
        ApiError::BadRequest(format!(
            "invalid {param} {value}: expected a whole number and s, m, h, d or w, at most {max_days}d"
        ))
    };
    // Split at the first non-digit, a character boundary (digits are ASCII).
    let digits = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(digits);
    let unit_seconds: i64 = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(invalid()),
    };
    let n: u64 = number.parse().map_err(|_| invalid())?;
    // Bounded before a Duration is made: chrono panics on huge ones.
    i64::try_from(n)
        .ok()
        .and_then(|n| n.checked_mul(unit_seconds))
        .filter(|seconds| *seconds <= MAX_PERIOD.num_seconds())
        .map(|seconds| Some(Duration::seconds(seconds)))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "{param} {value} is longer than the maximum of {max_days}d"
            ))
        })
}

/// Events per bucket for each issue over `span` (up to 48 hours: hourly
/// points, longer: daily points; `None`: no stats), zeros included, oldest
/// first. `span` is at most [`MAX_PERIOD`], as [`parse_period`] gives it.
pub async fn stats_series(
    state: &WebState,
    groups: &[Group],
    span: Option<Duration>,
) -> ApiResult<Option<HashMap<GroupId, Vec<[i64; 2]>>>> {
    let Some(span) = span else {
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
        // A bucket the store returns outside the window is skipped.
        let index = start.checked_sub(first).map(|d| d / bucket);
        if let Some(point) = series
            .get_mut(&group)
            .zip(index.and_then(|i| usize::try_from(i).ok()))
            .and_then(|(s, i)| s.get_mut(i))
        {
            point[1] += count as i64;
        }
    }
    Ok(Some(series))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period(value: &str) -> Result<Option<i64>, String> {
        parse_period("statsPeriod", value)
            .map(|p| p.map(|d| d.num_seconds()))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn hits_are_counted_only_when_the_page_does_not_tell() {
        assert_eq!(hits(0, 100, 7, false), Hits::Known(7));
        assert_eq!(hits(200, 100, 3, false), Hits::Known(203));
        assert_eq!(hits(0, 100, 0, false), Hits::Known(0));
        // More follow, and the cap is reached: nothing to count.
        assert_eq!(hits(900, 100, 100, true), Hits::Known(MAX_HITS));
        assert_eq!(hits(999_000, 100, 100, true), Hits::Known(MAX_HITS));
        // More follow below the cap: count past the page.
        assert_eq!(hits(0, 100, 100, true), Hits::CountFrom(100));
        assert_eq!(hits(875, 25, 25, true), Hits::CountFrom(900));
        // A page past the end: count from the start.
        assert_eq!(hits(5000, 100, 0, false), Hits::CountFrom(0));
    }

    #[test]
    fn periods_are_sentrys_and_bounded() {
        assert_eq!(period(""), Ok(None));
        assert_eq!(period("24h"), Ok(Some(86_400)));
        assert_eq!(period("90d"), Ok(Some(90 * 86_400)));
        assert_eq!(period("12w"), Ok(Some(84 * 86_400)));
        assert_eq!(period("30m"), Ok(Some(1800)));
        assert_eq!(period("3600"), Ok(Some(3600)));
        assert_eq!(period("7776000s"), Ok(Some(7_776_000)));
        for too_long in [
            "91d",
            "13w",
            "7776001",
            "999999999999999d",
            "9223372036854775807s",
            "9223372036854775808s",
            "18446744073709551615w",
        ] {
            let err = period(too_long).unwrap_err();
            assert!(err.contains("maximum of 90d"), "{too_long}: {err}");
        }
        for invalid in [
            "1é",
            "é",
            "d",
            "-1d",
            "+1d",
            "1.5h",
            "1 d",
            "1dd",
            "1D",
            "١d",
            "99999999999999999999999d",
        ] {
            let err = period(invalid).unwrap_err();
            assert!(err.starts_with("invalid statsPeriod"), "{invalid}: {err}");
        }
        assert!(
            parse_period("groupStatsPeriod", "x")
                .unwrap_err()
                .to_string()
                .contains("groupStatsPeriod")
        );
    }
}
