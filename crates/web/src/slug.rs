//! Slugs for organizations and projects, as Sentry makes them: lowercase
//! ASCII letters and digits joined by single dashes.

pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').chars().take(50).collect()
}

#[cfg(test)]
mod tests {
    use super::slugify;

    #[test]
    fn slugs() {
        assert_eq!(slugify("Checkout API"), "checkout-api");
        assert_eq!(slugify("  Ünïcode & Co!! "), "n-code-co");
        assert_eq!(slugify("!!!"), "");
    }
}
