//! Byte-level CSV checks that polars does not do for us: dialect sniffing (delimiter, header),
//! header parsing, and a validation pass that finds ragged rows and oversized fields with their
//! line numbers. (polars silently fills short rows with nulls, so without this pass a ragged
//! file would load with made-up missing values.)

use rayon::prelude::*;

/// Delimiters we sniff among, in order of preference on a tie.
pub const DELIMITERS: [u8; 4] = [b',', b'\t', b';', b'|'];
const QUOTE: u8 = b'"';

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    pub delimiter: u8,
    pub has_header: bool,
}

/// Splits one record (no line terminator) into fields, honouring double quotes.
/// Quoted fields may not contain newlines here: callers pass single physical lines, which is
/// what sniffing needs.
pub fn split_line(line: &[u8], delimiter: u8) -> Vec<String> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut fields = Vec::new();
    let mut field = Vec::new();
    let mut in_quotes = false;
    let mut i = 0;
    while i < line.len() {
        let b = line[i];
        if in_quotes {
            if b == QUOTE {
                if line.get(i + 1) == Some(&QUOTE) {
                    field.push(QUOTE);
                    i += 1;
                } else {
                    in_quotes = false;
                }
            } else {
                field.push(b);
            }
        } else if b == QUOTE && field.is_empty() {
            in_quotes = true;
        } else if b == delimiter {
            fields.push(String::from_utf8_lossy(&field).into_owned());
            field.clear();
        } else {
            field.push(b);
        }
        i += 1;
    }
    fields.push(String::from_utf8_lossy(&field).into_owned());
    fields
}

/// Complete, non-empty lines from the head of a file (the last line only if the head is the
/// whole file).
fn head_lines(head: &[u8], is_whole_file: bool, max_lines: usize) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = head.split(|&b| b == b'\n').collect();
    if !is_whole_file && lines.len() > 1 {
        lines.pop(); // possibly cut in the middle
    }
    lines
        .into_iter()
        .filter(|l| !l.iter().all(|b| b.is_ascii_whitespace()))
        .take(max_lines)
        .collect()
}

/// Guesses delimiter and header presence from the first lines of a file; explicit choices win.
pub fn sniff_dialect(
    head: &[u8],
    is_whole_file: bool,
    delimiter: Option<u8>,
    has_header: Option<bool>,
) -> Dialect {
    let lines = head_lines(head, is_whole_file, 50);
    let delimiter = delimiter.unwrap_or_else(|| sniff_delimiter(&lines));
    let has_header = has_header.unwrap_or_else(|| sniff_header(&lines, delimiter));
    Dialect {
        delimiter,
        has_header,
    }
}

fn sniff_delimiter(lines: &[&[u8]]) -> u8 {
    // Best: the same field count (> 1) on every line; then the most fields.
    let mut best: Option<(bool, usize, u8)> = None;
    for &d in &DELIMITERS {
        let counts: Vec<usize> = lines.iter().map(|l| split_line(l, d).len()).collect();
        let Some(&first) = counts.first() else {
            continue;
        };
        if first < 2 {
            continue;
        }
        let consistent = counts.iter().all(|&c| c == first);
        let candidate = (consistent, first, d);
        let better = match best {
            None => true,
            Some((bc, bn, _)) => (consistent, first) > (bc, bn),
        };
        if better {
            best = Some(candidate);
        }
    }
    best.map(|(_, _, d)| d).unwrap_or(b',')
}

fn looks_numeric(field: &str) -> bool {
    let t = field.trim();
    !t.is_empty() && t.parse::<f64>().is_ok()
}

/// A header is assumed unless the first line looks like data: some column is numeric both in the
/// first line and in the lines below it.
fn sniff_header(lines: &[&[u8]], delimiter: u8) -> bool {
    let Some(first) = lines.first() else {
        return true;
    };
    let first = split_line(first, delimiter);
    if lines.len() < 2 {
        return !first.iter().any(|f| looks_numeric(f));
    }
    let rest: Vec<Vec<String>> = lines[1..]
        .iter()
        .map(|l| split_line(l, delimiter))
        .collect();
    let column_numeric_below = |j: usize| {
        rest.iter().all(|r| {
            r.get(j)
                .is_some_and(|f| f.trim().is_empty() || looks_numeric(f))
        }) && rest
            .iter()
            .any(|r| r.get(j).is_some_and(|f| looks_numeric(f)))
    };
    let first_line_is_data =
        (0..first.len()).any(|j| looks_numeric(&first[j]) && column_numeric_below(j));
    if first_line_is_data {
        return false;
    }
    true
}

/// What the validation pass found wrong, with a 1-based physical line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanIssue {
    Ragged { line: u64, found: usize },
    FieldTooLarge { line: u64, bytes: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanReport {
    /// Non-empty records after the header.
    pub data_records: u64,
}

/// Checks every record of a CSV buffer: same field count as `expected_fields`, no field longer
/// than `max_field_bytes`. Files without any quote character are checked in parallel chunks.
pub fn validate(
    bytes: &[u8],
    delimiter: u8,
    expected_fields: usize,
    has_header: bool,
    max_field_bytes: usize,
) -> Result<ScanReport, ScanIssue> {
    let records = if memchr::memchr(QUOTE, bytes).is_none() {
        validate_unquoted_parallel(bytes, delimiter, expected_fields, max_field_bytes)?
    } else {
        validate_quoted(bytes, delimiter, expected_fields, max_field_bytes)?
    };
    Ok(ScanReport {
        data_records: records.saturating_sub(u64::from(has_header)),
    })
}

const CHUNK_BYTES: usize = 8 << 20;

fn validate_unquoted_parallel(
    bytes: &[u8],
    delimiter: u8,
    expected: usize,
    max_field: usize,
) -> Result<u64, ScanIssue> {
    // Cut at newlines so every chunk holds whole lines.
    let mut bounds = vec![0usize];
    while *bounds.last().unwrap() < bytes.len() {
        let start = *bounds.last().unwrap();
        let target = (start + CHUNK_BYTES).min(bytes.len());
        let end = if target == bytes.len() {
            target
        } else {
            memchr::memchr(b'\n', &bytes[target..])
                .map(|p| target + p + 1)
                .unwrap_or(bytes.len())
        };
        bounds.push(end);
    }
    // Each chunk: (physical lines, records, first issue with a chunk-local line number).
    let results: Vec<(u64, u64, Option<ScanIssue>)> = bounds
        .par_windows(2)
        .map(|w| scan_unquoted_chunk(&bytes[w[0]..w[1]], delimiter, expected, max_field))
        .collect();
    let mut lines_before = 0u64;
    let mut records = 0u64;
    for (lines, recs, issue) in results {
        if let Some(issue) = issue {
            return Err(match issue {
                ScanIssue::Ragged { line, found } => ScanIssue::Ragged {
                    line: line + lines_before,
                    found,
                },
                ScanIssue::FieldTooLarge { line, bytes } => ScanIssue::FieldTooLarge {
                    line: line + lines_before,
                    bytes,
                },
            });
        }
        lines_before += lines;
        records += recs;
    }
    Ok(records)
}

fn scan_unquoted_chunk(
    chunk: &[u8],
    delimiter: u8,
    expected: usize,
    max_field: usize,
) -> (u64, u64, Option<ScanIssue>) {
    let mut lines = 0u64;
    let mut records = 0u64;
    for line in chunk.split_inclusive(|&b| b == b'\n') {
        lines += 1;
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        if body.is_empty() {
            continue;
        }
        records += 1;
        let found = body.iter().filter(|&&b| b == delimiter).count() + 1;
        if found != expected {
            return (
                lines,
                records,
                Some(ScanIssue::Ragged { line: lines, found }),
            );
        }
        if body.len() > max_field {
            if let Some(big) = body
                .split(|&b| b == delimiter)
                .map(|f| f.len())
                .find(|&n| n > max_field)
            {
                return (
                    lines,
                    records,
                    Some(ScanIssue::FieldTooLarge {
                        line: lines,
                        bytes: big as u64,
                    }),
                );
            }
        }
    }
    (lines, records, None)
}

/// Sequential state machine for files with quotes (quoted fields may span lines).
fn validate_quoted(
    bytes: &[u8],
    delimiter: u8,
    expected: usize,
    max_field: usize,
) -> Result<u64, ScanIssue> {
    let mut line = 1u64; // physical line of the current position
    let mut record_line = 1u64; // line where the current record started
    let mut records = 0u64;
    let mut fields = 1usize;
    let mut field_start = 0usize;
    let mut record_empty = true;
    let mut in_quotes = false;
    let mut i = 0usize;
    let n = bytes.len();
    while i < n {
        let b = bytes[i];
        if in_quotes {
            match b {
                QUOTE if bytes.get(i + 1) == Some(&QUOTE) => i += 1,
                QUOTE => in_quotes = false,
                b'\n' => line += 1,
                _ => {}
            }
            i += 1;
            continue;
        }
        if b == delimiter {
            check_field(i - field_start, max_field, record_line)?;
            fields += 1;
            field_start = i + 1;
            record_empty = false;
        } else if b == b'\n' {
            let end = if i > 0 && bytes[i - 1] == b'\r' {
                i - 1
            } else {
                i
            };
            check_field(end.saturating_sub(field_start), max_field, record_line)?;
            if !(record_empty && fields == 1 && end <= field_start) {
                records += 1;
                if fields != expected {
                    return Err(ScanIssue::Ragged {
                        line: record_line,
                        found: fields,
                    });
                }
            }
            line += 1;
            record_line = line;
            fields = 1;
            field_start = i + 1;
            record_empty = true;
        } else if b == QUOTE {
            in_quotes = true;
            record_empty = false;
        } else if b != b'\r' {
            record_empty = false;
        }
        i += 1;
    }
    if !record_empty || fields > 1 {
        check_field(n - field_start, max_field, record_line)?;
        records += 1;
        if fields != expected {
            return Err(ScanIssue::Ragged {
                line: record_line,
                found: fields,
            });
        }
    }
    Ok(records)
}

fn check_field(len: usize, max_field: usize, line: u64) -> Result<(), ScanIssue> {
    if len > max_field {
        Err(ScanIssue::FieldTooLarge {
            line,
            bytes: len as u64,
        })
    } else {
        Ok(())
    }
}

/// 1-based line number of a byte offset.
pub fn line_of_offset(bytes: &[u8], offset: usize) -> u64 {
    memchr::memchr_iter(b'\n', &bytes[..offset.min(bytes.len())]).count() as u64 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_delimiters() {
        for d in DELIMITERS {
            let text = format!("a{0}b{0}c\n1{0}2{0}3\n4{0}5{0}6\n", d as char);
            assert_eq!(
                sniff_dialect(text.as_bytes(), true, None, None).delimiter,
                d,
                "{}",
                d as char
            );
        }
    }

    #[test]
    fn comma_inside_quotes_does_not_fool_semicolon_sniffing() {
        let text = b"name;value\n\"a, b\";1\n\"c, d\";2\n";
        assert_eq!(sniff_dialect(text, true, None, None).delimiter, b';');
    }

    #[test]
    fn sniffs_header_presence() {
        assert!(sniff_dialect(b"x,y\n1,2\n3,4\n", true, None, None).has_header);
        assert!(!sniff_dialect(b"0.5,2\n1,2\n3,4\n", true, None, None).has_header);
        assert!(!sniff_dialect(b"0.5,a\n1,b\n3,c\n", true, None, None).has_header);
    }

    #[test]
    fn splits_quoted_fields() {
        assert_eq!(
            split_line(b"\"a,\"\"b\"\"\",c\r", b','),
            vec!["a,\"b\"", "c"]
        );
    }

    #[test]
    fn finds_ragged_lines_in_both_paths() {
        let unquoted = b"a,b,c\n1,2,3\n\n4,5\n";
        assert_eq!(
            validate(unquoted, b',', 3, true, 100),
            Err(ScanIssue::Ragged { line: 4, found: 2 })
        );
        let quoted = b"a,b,c\n\"multi\nline\",2,3\n4,5,6,7\n";
        assert_eq!(
            validate(quoted, b',', 3, true, 100),
            Err(ScanIssue::Ragged { line: 4, found: 4 })
        );
        let ok = b"a,b,c\n\"x,y\",2,3\n4,5,6";
        assert_eq!(
            validate(ok, b',', 3, true, 100),
            Ok(ScanReport { data_records: 2 })
        );
    }

    #[test]
    fn finds_huge_fields() {
        let text = format!("a,b\n1,2\n3,\"{}\"\n", "x".repeat(50));
        assert_eq!(
            validate(text.as_bytes(), b',', 2, true, 20),
            Err(ScanIssue::FieldTooLarge { line: 3, bytes: 52 })
        );
        let unquoted = format!("a,b\n1,{}\n", "y".repeat(30));
        assert_eq!(
            validate(unquoted.as_bytes(), b',', 2, true, 20),
            Err(ScanIssue::FieldTooLarge { line: 2, bytes: 30 })
        );
    }

    #[test]
    fn chunked_scan_numbers_lines_globally() {
        let mut text = String::from("a,b\n");
        for i in 0..2_000_000 {
            text.push_str(&format!("{i},{i}\n"));
        }
        text.push_str("1,2,3\n");
        let lines = 2_000_002u64;
        assert_eq!(
            validate(text.as_bytes(), b',', 2, true, 100),
            Err(ScanIssue::Ragged {
                line: lines,
                found: 3
            })
        );
    }
}
