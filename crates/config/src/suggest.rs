//! "Did you mean …?" for a misspelt key: the candidate fewest edits away,
//! or else the one with the same name in another section.

/// Edits (insert, delete, replace, swap two neighbours) from `a` to `b`:
/// the optimal string alignment distance, so `hots` is one edit from
/// `host`, as a typist would count it.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows of the dynamic-programming table: two back, one back, this.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            current[j] = best;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// The candidate `unknown` most likely meant: the nearest within a third
/// of its length (at least two edits), else the only one with the same
/// last dotted part (`web.url-prefix` → `system.url-prefix`); none when
/// nothing is that close.
pub fn closest<'a>(unknown: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let candidates: Vec<&str> = candidates.collect();
    let within = (unknown.chars().count() / 3).max(2);
    let nearest = candidates
        .iter()
        .map(|c| (distance(unknown, c), *c))
        .filter(|(d, _)| *d <= within)
        .min_by_key(|(d, _)| *d);
    if let Some((_, c)) = nearest {
        return Some(c);
    }
    let tail = |s: &'a str| s.rsplit_once('.').map(|(_, t)| t);
    let same_tail: Vec<&str> = candidates
        .iter()
        .copied()
        .filter(|c| tail(c).is_some() && tail(c) == unknown.rsplit_once('.').map(|(_, t)| t))
        .collect();
    match same_tail.as_slice() {
        [only] => Some(only),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("host", "host"), 0);
        assert_eq!(distance("hots", "host"), 1, "a swap is one edit");
        assert_eq!(distance("hst", "host"), 1);
        assert_eq!(distance("hoost", "host"), 1);
        assert_eq!(distance("post", "host"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn nearest_then_same_name_elsewhere() {
        let keys = ["mail.host", "mail.port", "system.url-prefix", "web.bind"];
        let pick = |u: &str| closest(u, keys.iter().copied());
        assert_eq!(pick("mail.hots"), Some("mail.host"));
        assert_eq!(pick("mail.prot"), Some("mail.port"));
        assert_eq!(pick("url-prefix.system"), None);
        assert_eq!(pick("server.url-prefix"), Some("system.url-prefix"));
        assert_eq!(pick("relay.bind"), Some("web.bind"));
        assert_eq!(pick("something"), None);
    }
}
