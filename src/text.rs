//! Untrusted text (column names, cell values, file names) on its way to a terminal.
//!
//! Data files can carry ANSI/OSC escape sequences that would recolour, retitle or clear the
//! user's terminal, and bidi overrides that reorder what is shown. Everything printed from data
//! goes through [`sanitize`] first.

use std::borrow::Cow;

/// Removes escape sequences (CSI, OSC, DCS and two-byte ESC forms), C0 and C1 control
/// characters, DEL and Unicode bidi controls. Tabs and newlines become a single space so that a
/// value stays on one table line.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_care) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape(&mut chars),
            // C1 CSI / OSC / DCS introducers: swallow the sequence they start.
            '\u{9b}' => skip_until_final(&mut chars),
            '\u{9d}' | '\u{90}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            '\t' | '\n' | '\r' => out.push(' '),
            c if needs_care(c) => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_care(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

fn skip_escape(chars: &mut Chars<'_>) {
    match chars.peek().copied() {
        Some('[') => {
            chars.next();
            skip_until_final(chars);
        }
        Some(']') | Some('P') | Some('X') | Some('^') | Some('_') => {
            chars.next();
            skip_string(chars);
        }
        // Two-character sequences such as ESC c (reset) or ESC ( B (charset: one more byte).
        Some('(') | Some(')') | Some('*') | Some('+') | Some('#') | Some('%') => {
            chars.next();
            chars.next();
        }
        Some(_) => {
            chars.next();
        }
        None => {}
    }
}

/// CSI parameters and intermediates run until a final byte in `@`..=`~`.
fn skip_until_final(chars: &mut Chars<'_>) {
    for c in chars.by_ref() {
        if ('@'..='~').contains(&c) {
            break;
        }
    }
}

/// OSC/DCS strings run until BEL or String Terminator (ESC \ or C1 ST).
fn skip_string(chars: &mut Chars<'_>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{07}' | '\u{9c}' => break,
            '\u{1b}' => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                break;
            }
            _ => {}
        }
    }
}

/// Shortens `text` to at most `max` characters, marking the cut with an ellipsis.
pub fn truncate(text: &str, max: usize) -> Cow<'_, str> {
    if text.chars().count() <= max {
        return Cow::Borrowed(text);
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    Cow::Owned(out)
}

/// Sanitises the string contents of a JSON document that serde already escaped: serde escapes
/// C0 controls, but C1 controls and bidi overrides pass through as raw UTF-8.
pub fn sanitize_json_text(json: &str) -> Cow<'_, str> {
    if !json
        .chars()
        .any(|c| ('\u{80}'..='\u{9f}').contains(&c) || is_bidi_control(c))
    {
        return Cow::Borrowed(json);
    }
    Cow::Owned(
        json.chars()
            .filter(|&c| !(('\u{80}'..='\u{9f}').contains(&c) || is_bidi_control(c)))
            .collect(),
    )
}

/// Eight-level block sparkline of a histogram.
pub fn sparkline(counts: &[u64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = counts.iter().copied().max().unwrap_or(0);
    counts
        .iter()
        .map(|&c| {
            if c == 0 {
                ' '
            } else {
                BARS[((c as f64 / max as f64) * 7.0).round() as usize]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        assert!(matches!(sanitize("cpu_pct"), Cow::Borrowed("cpu_pct")));
    }

    #[test]
    fn strips_csi_osc_and_controls() {
        assert_eq!(sanitize("\u{1b}[31mred\u{1b}[0m"), "red");
        assert_eq!(sanitize("a\u{1b}]0;pwned\u{07}b"), "ab");
        assert_eq!(
            sanitize("a\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\"),
            "alink"
        );
        assert_eq!(sanitize("x\u{1b}[2Jy"), "xy");
        assert_eq!(sanitize("bell\u{07}del\u{7f}nul\u{0}"), "belldelnul");
        assert_eq!(sanitize("c1\u{9b}31mcsi"), "c1csi");
        assert_eq!(sanitize("tab\there\nnl"), "tab here nl");
        assert_eq!(sanitize("rtl\u{202e}txt"), "rtltxt");
        assert_eq!(sanitize("dangling\u{1b}"), "dangling");
        assert_eq!(sanitize("ünïcödé ✓"), "ünïcödé ✓");
    }

    #[test]
    fn truncates_with_ellipsis() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }

    #[test]
    fn json_text_loses_c1_controls() {
        assert_eq!(sanitize_json_text("{\"a\u{9b}b\":1}"), "{\"ab\":1}");
    }
}
