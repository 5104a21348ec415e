//! Where a frame's file may have been uploaded: the URLs sentry-cli's
//! `~/` convention and a release's files give, and how a source a map
//! names becomes the frame's new path.

/// The URLs a frame's file may have been uploaded under, most specific
/// first, as Sentry matches them: the URL itself (without its fragment,
/// then without its query), then `~/path`, where `~` stands for any scheme
/// and host. A plain path (`/srv/app/dist/app.min.js`, what Node reports)
/// is a URL without a host.
pub fn candidate_urls(url: &str) -> Vec<String> {
    let url = url.split('#').next().unwrap_or(url);
    let mut out = vec![url.to_owned()];
    let without_query = url.split('?').next().unwrap_or(url);
    push_new(&mut out, without_query);
    if let Some(path) = path_of(url) {
        push_new(&mut out, &format!("~{path}"));
        let path = path.split('?').next().unwrap_or(path);
        push_new(&mut out, &format!("~{path}"));
    }
    out
}

fn push_new(out: &mut Vec<String>, url: &str) {
    if !out.iter().any(|u| u == url) {
        out.push(url.to_owned());
    }
}

/// The path (and query) of `url`: after `scheme://host`, or the whole of
/// a URL that is already a path.
fn path_of(url: &str) -> Option<&str> {
    if let Some((_, rest)) = url.split_once("://") {
        let at = rest.find('/')?;
        return Some(&rest[at..]);
    }
    url.starts_with('/').then_some(url)
}

/// How much of `url`'s path the uploaded `~/…` URL `uploaded` covers, in
/// bytes, when it ends the path at a `/`: `~/dist/app.min.js` covers
/// `/srv/app/dist/app.min.js`. What matches a frame to a release's file
/// when no candidate URL is on record (Node's absolute paths against
/// files uploaded without `--url-prefix`).
pub fn suffix_match(url: &str, uploaded: &str) -> Option<usize> {
    let tail = uploaded.strip_prefix('~')?;
    if !tail.starts_with('/') || tail.len() < 2 {
        return None;
    }
    let path = path_of(url)?;
    let path = path.split('?').next().unwrap_or(path);
    path.ends_with(tail).then_some(tail.len())
}

/// `relative` resolved against the URL `base` (a file: its directory is
/// the base), with `.` and `..` segments folded; an absolute URL or path
/// is returned as it is.
pub fn join(base: &str, relative: &str) -> String {
    if relative.contains("://") || relative.starts_with('/') {
        return relative.to_owned();
    }
    let (prefix, path) = match base.split_once("://") {
        Some((scheme, rest)) => match rest.find('/') {
            Some(at) => (format!("{scheme}://{}", &rest[..at]), &rest[at..]),
            None => (format!("{scheme}://{rest}"), "/"),
        },
        None => (String::new(), base),
    };
    let dir = match path.rfind('/') {
        Some(at) => &path[..at],
        None => "",
    };
    let mut segments: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
    for segment in relative.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let rooted = path.starts_with('/') || !prefix.is_empty();
    format!(
        "{prefix}{}{}",
        if rooted { "/" } else { "" },
        segments.join("/")
    )
}

/// The file name a person reads for a source a map names: without the
/// bundler's scheme (`webpack://app/`) and the `./` and `../` that climb
/// from the output directory, as `src/math.js`.
pub fn display_name(source: &str) -> String {
    let mut name = source;
    for scheme in ["webpack://", "webpack-internal://", "file://", "app://"] {
        if let Some(rest) = name.strip_prefix(scheme) {
            // webpack://<project name>/src/x.js: the first segment is the
            // project's name, not a directory.
            name = match rest.strip_prefix('/') {
                Some(path) => path,
                None => rest.split_once('/').map_or(rest, |(_, path)| path),
            };
        }
    }
    loop {
        if let Some(rest) = name.strip_prefix("./") {
            name = rest;
        } else if let Some(rest) = name.strip_prefix("../") {
            name = rest;
        } else {
            break;
        }
    }
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_follow_sentrys_tilde_rule() {
        assert_eq!(
            candidate_urls("https://example.com/static/app.min.js?v=3#x"),
            [
                "https://example.com/static/app.min.js?v=3",
                "https://example.com/static/app.min.js",
                "~/static/app.min.js?v=3",
                "~/static/app.min.js",
            ]
        );
        assert_eq!(
            candidate_urls("app:///dist/app.min.js"),
            ["app:///dist/app.min.js", "~/dist/app.min.js"]
        );
        assert_eq!(
            candidate_urls("/srv/app/dist/app.min.js"),
            ["/srv/app/dist/app.min.js", "~/srv/app/dist/app.min.js"]
        );
        assert_eq!(candidate_urls("node:internal/x"), ["node:internal/x"]);
    }

    #[test]
    fn suffixes_match_on_a_path_boundary() {
        let url = "/srv/app/dist/app.min.js";
        assert_eq!(suffix_match(url, "~/app.min.js"), Some(11));
        assert_eq!(suffix_match(url, "~/dist/app.min.js"), Some(16));
        assert_eq!(suffix_match(url, "~/pp.min.js"), None);
        assert_eq!(suffix_match(url, "~/"), None);
        assert_eq!(suffix_match(url, "/srv/app/dist/app.min.js"), None);
        assert_eq!(
            suffix_match("https://cdn.example.com/js/app.js?v=1", "~/app.js"),
            Some(7)
        );
    }

    #[test]
    fn sources_resolve_against_the_file() {
        assert_eq!(
            join("/srv/app/dist/app.min.js", "../src/math.js"),
            "/srv/app/src/math.js"
        );
        assert_eq!(
            join("https://example.com/static/app.min.js", "app.min.js.map"),
            "https://example.com/static/app.min.js.map"
        );
        assert_eq!(join("dist/app.min.js", "../src/x.js"), "src/x.js");
        assert_eq!(join("/app.min.js", "../../../x.js"), "/x.js");
        assert_eq!(join("app:///a/b.js", "/abs.js"), "/abs.js");
        assert_eq!(
            join("app:///dist/b.js", "webpack://app/./src/x.js"),
            "webpack://app/./src/x.js"
        );
    }

    #[test]
    fn display_names_drop_bundler_prefixes() {
        assert_eq!(display_name("../src/math.js"), "src/math.js");
        assert_eq!(display_name("webpack://shop/./src/a.ts"), "src/a.ts");
        assert_eq!(display_name("webpack:///src/a.ts"), "src/a.ts");
        assert_eq!(display_name("./lib/b.js"), "lib/b.js");
    }
}
