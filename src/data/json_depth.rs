//! A linear check of JSON nesting depth before polars sees the bytes: its JSON readers recurse
//! once per level, so 50,000 nested `[` overflow the stack, an abort no `catch_unwind` can stop.

/// The deepest nesting accepted. A record array is depth 2 (`[{`), so fields can still hold
/// lists and objects; anything deeper is not a table of values Pynomaly could use.
pub const MAX_JSON_DEPTH: usize = 64;

/// The byte offset of the first `[` or `{` that opens level `limit + 1`, if any.
///
/// Brackets inside strings do not count (a backslash escapes the next byte, so `\"` does not end
/// a string). With `lines` (NDJSON) every line starts afresh, as polars parses each line on its
/// own; a JSON string cannot hold a raw newline, so that never hides a real string's content.
/// Unbalanced closing brackets do not lower the depth below zero; malformed input is the
/// parser's to report.
pub fn find_too_deep(bytes: &[u8], limit: usize, lines: bool) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        if lines && b == b'\n' {
            depth = 0;
            in_string = false;
            escaped = false;
            continue;
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Some(i);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        "[".repeat(depth) + &"]".repeat(depth)
    }

    #[test]
    fn flat_records_and_nested_fields_pass() {
        let json = br#"[{"a": 1, "tags": [1, [2, {"x": []}]], "b": "t"}, {"a": 2}]"#;
        assert_eq!(find_too_deep(json, MAX_JSON_DEPTH, false), None);
        assert_eq!(find_too_deep(json, 6, false), None);
        let empty_list = json.windows(2).position(|w| w == b"[]").unwrap();
        assert_eq!(find_too_deep(json, 5, false), Some(empty_list));
    }

    #[test]
    fn exactly_the_limit_passes_one_more_fails() {
        let at = nested(MAX_JSON_DEPTH);
        assert_eq!(find_too_deep(at.as_bytes(), MAX_JSON_DEPTH, false), None);
        let over = nested(MAX_JSON_DEPTH + 1);
        assert_eq!(
            find_too_deep(over.as_bytes(), MAX_JSON_DEPTH, false),
            Some(MAX_JSON_DEPTH)
        );
        let objects = r#"{"a":"#.repeat(MAX_JSON_DEPTH + 1) + "1" + &"}".repeat(MAX_JSON_DEPTH + 1);
        assert_eq!(
            find_too_deep(objects.as_bytes(), MAX_JSON_DEPTH, false),
            Some(5 * MAX_JSON_DEPTH)
        );
    }

    #[test]
    fn brackets_in_strings_do_not_count() {
        let deep_text = format!(r#"[{{"a": "{}"}}]"#, "[{".repeat(1000));
        assert_eq!(find_too_deep(deep_text.as_bytes(), 3, false), None);
        // An escaped quote does not end the string; an escaped backslash does not escape the quote.
        let escaped_quote = format!(r#"[{{"a": "\"{}"}}]"#, "[".repeat(100));
        assert_eq!(find_too_deep(escaped_quote.as_bytes(), 3, false), None);
        let escaped_backslash = format!(
            r#"[{{"a": "\\", "b": {}1{}}}]"#,
            "[".repeat(3),
            "]".repeat(3)
        );
        assert!(find_too_deep(escaped_backslash.as_bytes(), 3, false).is_some());
        assert_eq!(find_too_deep(escaped_backslash.as_bytes(), 5, false), None);
        // A quote in a string key, and brackets right after a string.
        let key = br#"{"k\"[": [[1]], "v": "}}}"}"#;
        assert_eq!(find_too_deep(key, 3, false), None);
        assert_eq!(find_too_deep(key, 2, false), Some(10));
    }

    #[test]
    fn fifty_thousand_levels_are_rejected_at_once() {
        let start = std::time::Instant::now();
        let deep = nested(50_000);
        assert_eq!(
            find_too_deep(deep.as_bytes(), MAX_JSON_DEPTH, false),
            Some(MAX_JSON_DEPTH)
        );
        let objects = format!(
            r#"[{{"a": {}1{}}}]"#,
            r#"{"b":"#.repeat(50_000),
            "}".repeat(50_000)
        );
        assert_eq!(
            find_too_deep(objects.as_bytes(), MAX_JSON_DEPTH, false),
            Some(7 + 5 * (MAX_JSON_DEPTH - 2))
        );
        // Unbalanced closing brackets first do not buy extra depth.
        let sneaky = "]".repeat(1000) + &nested(MAX_JSON_DEPTH + 1);
        assert_eq!(
            find_too_deep(sneaky.as_bytes(), MAX_JSON_DEPTH, false),
            Some(1000 + MAX_JSON_DEPTH)
        );
        assert!(start.elapsed().as_secs() < 5);
    }

    #[test]
    fn ndjson_lines_start_afresh() {
        let line = format!(r#"{{"a": {}1{}}}"#, "[".repeat(40), "]".repeat(40));
        let ndjson = format!("{line}\n{line}\n{line}\n");
        assert_eq!(find_too_deep(ndjson.as_bytes(), MAX_JSON_DEPTH, true), None);
        // Unclosed lines do not add up when each line is parsed alone; they do in one document.
        let unclosed = format!("{}\n", "[".repeat(40)).repeat(3);
        assert_eq!(
            find_too_deep(unclosed.as_bytes(), MAX_JSON_DEPTH, true),
            None
        );
        assert_eq!(
            find_too_deep(unclosed.as_bytes(), MAX_JSON_DEPTH, false),
            Some(41 + 24)
        );
        // An unterminated string ends with its line: the next line's brackets still count.
        let deep_line = nested(50_000);
        let hidden = format!("{{\"a\": \"open\n{deep_line}\n");
        assert_eq!(
            find_too_deep(hidden.as_bytes(), MAX_JSON_DEPTH, true),
            Some(12 + MAX_JSON_DEPTH)
        );
        let deep_in_record = format!(
            "{{\"a\": 1}}\n{{\"b\": {}1{}}}\n",
            "[".repeat(50_000),
            "]".repeat(50_000)
        );
        assert_eq!(
            find_too_deep(deep_in_record.as_bytes(), MAX_JSON_DEPTH, true),
            Some(9 + 6 + MAX_JSON_DEPTH - 1)
        );
    }
}
