//! Turning the lines of a followed source into records: CSV with a header (delimiter sniffed
//! from it: comma, tab, semicolon or pipe) or NDJSON (one object per line). The features are
//! the named columns, or else every column whose first value is a number, leaving out the time
//! column and a column named like a label (`label`, `is_anomaly`, …); the time column is the one named, or else the first called like a time
//! (`timestamp`, `time`, `date`, `datetime`, `ts`).

use serde_json::Value;

/// The longest list of features accepted (the shingled vector grows with it).
pub const MAX_FEATURES: usize = 1024;

const TIME_NAMES: &[&str] = &["timestamp", "time", "date", "datetime", "ts"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    Csv { delimiter: u8, columns: Vec<String> },
    Ndjson,
}

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub features: Option<Vec<String>>,
    pub time: Option<String>,
}

/// How records are read, fixed by the header (CSV) or the first record (NDJSON).
#[derive(Debug, Clone)]
pub struct RecordReader {
    layout: Layout,
    /// Feature names, in the order of the vector.
    pub features: Vec<String>,
    pub time: Option<String>,
    /// CSV: the column index of each feature and of the time.
    feature_at: Vec<usize>,
    time_at: Option<usize>,
    /// The header line, to skip it when a rotated or truncated file starts again.
    header: Option<String>,
}

/// One record: its feature values (NaN where missing or not a number) and its time text.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub values: Vec<f64>,
    pub time: Option<String>,
}

impl RecordReader {
    /// Fixes the layout from the first line (a CSV header, or an NDJSON object) and the second
    /// (the first data row, to see which columns are numbers). `first_row` may be `None` when
    /// the features are named.
    pub fn from_lines(
        first: &str,
        first_row: Option<&str>,
        selection: &Selection,
    ) -> Result<RecordReader, String> {
        if first.trim_start().starts_with('{') {
            let object = parse_object(first)?;
            return RecordReader::for_ndjson(&object, selection);
        }
        let delimiter = sniff_delimiter(first, first_row);
        let columns: Vec<String> = split_fields(first, delimiter)
            .into_iter()
            .map(|c| c.trim().to_string())
            .collect();
        if columns.iter().all(|c| c.parse::<f64>().is_ok()) {
            return Err(
                "the first line looks like data, not a header: a followed CSV needs a header"
                    .into(),
            );
        }
        let find = |name: &str| columns.iter().position(|c| c == name);
        let time_at = match &selection.time {
            Some(t) => Some(find(t).ok_or_else(|| format!("no column {t:?} for --time"))?),
            None => columns
                .iter()
                .position(|c| TIME_NAMES.contains(&c.to_ascii_lowercase().as_str())),
        };
        let feature_at: Vec<usize> = match &selection.features {
            Some(names) => names
                .iter()
                .map(|n| find(n).ok_or_else(|| format!("no column {n:?} for --features")))
                .collect::<Result<_, _>>()?,
            None => {
                let row = first_row
                    .map(|r| split_fields(r, delimiter))
                    .unwrap_or_default();
                (0..columns.len())
                    .filter(|&i| Some(i) != time_at)
                    .filter(|&i| !crate::data::label::name_suggests_label(&columns[i]))
                    .filter(|&i| row.get(i).is_some_and(|v| v.trim().parse::<f64>().is_ok()))
                    .collect()
            }
        };
        check_features(feature_at.len())?;
        Ok(RecordReader {
            features: feature_at.iter().map(|&i| columns[i].clone()).collect(),
            time: time_at.map(|i| columns[i].clone()),
            layout: Layout::Csv { delimiter, columns },
            feature_at,
            time_at,
            header: Some(first.to_string()),
        })
    }

    fn for_ndjson(
        object: &serde_json::Map<String, Value>,
        selection: &Selection,
    ) -> Result<RecordReader, String> {
        let time = match &selection.time {
            Some(t) => Some(t.clone()),
            None => object
                .keys()
                .find(|k| TIME_NAMES.contains(&k.to_ascii_lowercase().as_str()))
                .cloned(),
        };
        let features: Vec<String> = match &selection.features {
            Some(names) => names.clone(),
            None => object
                .iter()
                .filter(|(k, v)| Some(*k) != time.as_ref() && v.is_number())
                .filter(|(k, _)| !crate::data::label::name_suggests_label(k))
                .map(|(k, _)| k.clone())
                .collect(),
        };
        check_features(features.len())?;
        Ok(RecordReader {
            layout: Layout::Ndjson,
            features,
            time,
            feature_at: Vec::new(),
            time_at: None,
            header: None,
        })
    }

    /// Whether the first line was a header (consumed, not a record).
    pub fn has_header(&self) -> bool {
        self.header.is_some()
    }

    /// Whether `line` is the header again (a rotated or truncated file starting over).
    pub fn is_header(&self, line: &str) -> bool {
        self.header.as_deref() == Some(line)
    }

    /// Reads one line; `None` for a blank line.
    pub fn parse(&self, line: &str) -> Result<Option<Record>, String> {
        if line.trim().is_empty() {
            return Ok(None);
        }
        match &self.layout {
            Layout::Csv { delimiter, .. } => {
                let fields = split_fields(line, *delimiter);
                let number = |i: usize| {
                    fields
                        .get(i)
                        .and_then(|v| v.trim().parse::<f64>().ok())
                        .filter(|v| v.is_finite())
                        .unwrap_or(f64::NAN)
                };
                Ok(Some(Record {
                    values: self.feature_at.iter().map(|&i| number(i)).collect(),
                    time: self
                        .time_at
                        .and_then(|i| fields.get(i).map(|t| t.trim().to_string())),
                }))
            }
            Layout::Ndjson => {
                let object = parse_object(line)?;
                let number = |k: &String| {
                    object
                        .get(k)
                        .and_then(|v| match v {
                            Value::Number(n) => n.as_f64(),
                            Value::String(s) => s.trim().parse::<f64>().ok(),
                            _ => None,
                        })
                        .filter(|v| v.is_finite())
                        .unwrap_or(f64::NAN)
                };
                Ok(Some(Record {
                    values: self.features.iter().map(number).collect(),
                    time: self.time.as_ref().and_then(|t| match object.get(t) {
                        Some(Value::String(s)) => Some(s.clone()),
                        Some(Value::Number(n)) => Some(n.to_string()),
                        _ => None,
                    }),
                }))
            }
        }
    }
}

fn check_features(n: usize) -> Result<(), String> {
    if n == 0 {
        return Err("no numeric column to watch (name them with --features)".into());
    }
    if n > MAX_FEATURES {
        return Err(format!(
            "{n} features; at most {MAX_FEATURES} can be watched"
        ));
    }
    Ok(())
}

fn parse_object(line: &str) -> Result<serde_json::Map<String, Value>, String> {
    // serde_json limits nesting depth itself (128), so a hostile line cannot overflow the stack.
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("an NDJSON record must be a JSON object".into()),
        Err(e) => Err(format!("not a JSON object: {e}")),
    }
}

/// The delimiter that splits the header into the most fields, among those that split the
/// first row (when there is one) into as many: a `;` inside a column name is not a delimiter.
fn sniff_delimiter(header: &str, first_row: Option<&str>) -> u8 {
    let fits =
        |d: u8| first_row.is_none_or(|r| split_fields(r, d).len() == split_fields(header, d).len());
    [b',', b'\t', b';', b'|']
        .into_iter()
        .max_by_key(|&d| (fits(d), split_fields(header, d).len(), d == b','))
        .unwrap_or(b',')
}

/// Splits one CSV line; double quotes group a field and `""` inside them is a quote.
pub fn split_fields(line: &str, delimiter: u8) -> Vec<String> {
    let delimiter = delimiter as char;
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            c if c == delimiter && !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_features_are_the_numeric_columns_without_the_time() {
        let r = RecordReader::from_lines(
            "timestamp,host,value,load",
            Some("2026-01-01 00:00:00,web-1,3.5,0.2"),
            &Selection::default(),
        )
        .unwrap();
        assert_eq!(r.features, ["value", "load"]);
        assert_eq!(r.time.as_deref(), Some("timestamp"));
        let rec = r.parse("2026-01-01 00:05:00,web-2,,0.4").unwrap().unwrap();
        assert!(rec.values[0].is_nan());
        assert_eq!(rec.values[1], 0.4);
        assert_eq!(rec.time.as_deref(), Some("2026-01-01 00:05:00"));
    }

    #[test]
    fn quoted_fields_and_other_delimiters() {
        assert_eq!(
            split_fields(r#"a,"b,c","d""e""#, b','),
            ["a", "b,c", "d\"e"]
        );
        let r = RecordReader::from_lines("p;q", Some("1;2"), &Selection::default()).unwrap();
        assert_eq!(r.parse("3;4").unwrap().unwrap().values, [3.0, 4.0]);
        // A `;` inside a name: the first row says the delimiter is `,`.
        let r =
            RecordReader::from_lines("time,a;b;c", Some("t0,5"), &Selection::default()).unwrap();
        assert_eq!(r.features, ["a;b;c"]);
    }

    #[test]
    fn ndjson_records() {
        let r = RecordReader::from_lines(
            r#"{"time": "t0", "a": 1, "b": 2.5, "name": "x"}"#,
            None,
            &Selection::default(),
        )
        .unwrap();
        assert_eq!(r.features, ["a", "b"]);
        let rec = r
            .parse(r#"{"time": "t1", "a": "7", "b": null}"#)
            .unwrap()
            .unwrap();
        assert_eq!(rec.values[0], 7.0);
        assert!(rec.values[1].is_nan());
        assert!(r.parse("[1,2]").is_err());
    }

    #[test]
    fn a_header_is_required_and_named_columns_must_exist() {
        assert!(RecordReader::from_lines("1,2", Some("3,4"), &Selection::default()).is_err());
        let named = Selection {
            features: Some(vec!["nope".into()]),
            time: None,
        };
        assert!(RecordReader::from_lines("a,b", Some("1,2"), &named).is_err());
    }
}
