//! The original name of the function a frame is in, read from the
//! minified file: walking back from the frame's position through the
//! map's tokens to the one where the minified function name follows the
//! `function` keyword; that token's original name is the function's.
//! Columns are UTF-16 units, as JavaScript counts them; lines of plain
//! ASCII (almost every minified line) are indexed directly, so a frame on
//! a megabyte-long line costs no scan of it.

use sourcemap::{SourceMap, Token};

/// How far back the walk goes, in tokens: far enough for a function's
/// own body, not a scan of the whole bundle.
const MAX_TOKENS_BACK: usize = 128;

/// A minified file with its lines indexed.
pub struct MinifiedSource {
    text: String,
    /// Byte range of each line, and whether it is ASCII.
    lines: Vec<(usize, usize, bool)>,
}

impl MinifiedSource {
    pub fn new(text: String) -> Self {
        let mut lines = Vec::new();
        let mut start = 0;
        for line in text.split_inclusive('\n') {
            let content = line.trim_end_matches(['\n', '\r']);
            lines.push((start, start + content.len(), content.is_ascii()));
            start += line.len();
        }
        MinifiedSource { text, lines }
    }

    pub fn len(&self) -> usize {
        self.text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The identifier starting at `line`, UTF-16 column `col`.
    fn identifier_at(&self, line: u32, col: u32) -> Option<&str> {
        let &(start, end, ascii) = self.lines.get(line as usize)?;
        let text = &self.text[start..end];
        let from = if ascii {
            (col as usize <= text.len()).then_some(col as usize)?
        } else {
            let mut units = 0;
            text.char_indices()
                .find(|(_, c)| {
                    let here = units;
                    units += c.len_utf16() as u32;
                    here >= col
                })
                .map(|(at, _)| at)?
        };
        let rest = &text[from..];
        let len = rest
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '$'))
            .map_or(rest.len(), |(at, _)| at);
        (len > 0).then(|| &rest[..len])
    }
}

/// The token before `token` in the map.
fn previous<'m>(map: &'m SourceMap, token: &Token<'m>) -> Option<Token<'m>> {
    let (line, col) = (token.get_dst_line(), token.get_dst_col());
    match col.checked_sub(1) {
        Some(col) => map.lookup_token(line, col),
        None => map.lookup_token(line.checked_sub(1)?, u32::MAX),
    }
}

/// The original name of the function `minified_name` the frame at
/// `token` is in, when the minified file says where it was declared.
pub fn original_function_name<'m>(
    map: &'m SourceMap,
    source: &MinifiedSource,
    token: Token<'m>,
    minified_name: &str,
) -> Option<&'m str> {
    let mut current = Some(token);
    for _ in 0..MAX_TOKENS_BACK {
        let here = current?;
        let before = previous(map, &here);
        if source.identifier_at(here.get_dst_line(), here.get_dst_col()) == Some(minified_name)
            && let Some(before) = &before
            && source.identifier_at(before.get_dst_line(), before.get_dst_col()) == Some("function")
        {
            return here.get_name();
        }
        current = before;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_read_at_utf16_columns() {
        let source = MinifiedSource::new("var a=1;function bé(x){}\n\"𝒳\";function c(){}".into());
        assert_eq!(source.identifier_at(0, 8), Some("function"));
        assert_eq!(source.identifier_at(0, 17), Some("bé"));
        // 𝒳 is two UTF-16 units: `function` starts at column 5.
        assert_eq!(source.identifier_at(1, 5), Some("function"));
        assert_eq!(source.identifier_at(1, 14), Some("c"));
        assert_eq!(source.identifier_at(0, 7), None, "`;` is no identifier");
        assert_eq!(source.identifier_at(0, 9_999), None);
        assert_eq!(source.identifier_at(7, 0), None);
    }
}
