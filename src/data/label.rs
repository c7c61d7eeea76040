//! Recognising and reading a binary anomaly label (1 = anomaly, PyOD's convention).

use polars::prelude::*;

use super::column::{f64_values, kind_of, ColumnKind};

/// Column names that suggest a ground-truth label (compared after lower-casing and turning
/// spaces and dashes into underscores).
const LABEL_NAMES: [&str; 16] = [
    "label",
    "labels",
    "class",
    "target",
    "outlier",
    "outliers",
    "anomaly",
    "anomalies",
    "is_anomaly",
    "is_outlier",
    "is_anomalous",
    "anomalous",
    "y",
    "ground_truth",
    "is_fraud",
    "fraud",
];
const POSITIVE_WORDS: [&str; 9] = [
    "1",
    "true",
    "yes",
    "anomaly",
    "anomalous",
    "outlier",
    "abnormal",
    "attack",
    "fraud",
];
const NEGATIVE_WORDS: [&str; 8] = [
    "0", "false", "no", "normal", "inlier", "benign", "nominal", "regular",
];
/// Words that on their own mark a column as a label, whatever its name.
const LABEL_VALUE_WORDS: [&str; 7] = [
    "anomaly",
    "anomalous",
    "outlier",
    "inlier",
    "abnormal",
    "normal",
    "benign",
];

fn normalise(name: &str) -> String {
    name.trim().to_lowercase().replace([' ', '-'], "_")
}

pub fn name_suggests_label(name: &str) -> bool {
    LABEL_NAMES.contains(&normalise(name).as_str())
}

/// Reads a column as 0/1 labels, or says why it is not a binary label.
pub fn read_label(column: &Column) -> Result<Vec<u8>, String> {
    let missing = column.null_count();
    if missing > 0 {
        return Err(format!("{missing} missing values; every row needs a label"));
    }
    match kind_of(column.dtype()) {
        ColumnKind::Boolean | ColumnKind::Numeric => {
            let values = f64_values(column).map_err(|e| e.to_string())?;
            let mut out = Vec::with_capacity(values.len());
            for v in values {
                match v {
                    Some(0.0) => out.push(0),
                    Some(1.0) => out.push(1),
                    Some(x) => {
                        return Err(format!(
                            "found the value {x}; expected only 0 (normal) and 1 (anomaly)"
                        ))
                    }
                    None => return Err("missing values; every row needs a label".to_string()),
                }
            }
            Ok(out)
        }
        ColumnKind::Text => {
            let cast = column.cast(&DataType::String).map_err(|e| e.to_string())?;
            let mut out = Vec::with_capacity(column.len());
            for v in cast.str().map_err(|e| e.to_string())?.iter() {
                let word = v.unwrap_or("").trim().to_lowercase();
                if POSITIVE_WORDS.contains(&word.as_str()) {
                    out.push(1);
                } else if NEGATIVE_WORDS.contains(&word.as_str()) {
                    out.push(0);
                } else {
                    return Err(format!(
                        "found the value \"{}\"; expected two classes such as 0/1, false/true or normal/anomaly",
                        crate::text::truncate(&word, 40)
                    ));
                }
            }
            Ok(out)
        }
        _ => Err(format!(
            "its type is {}; expected 0/1, booleans or normal/anomaly",
            column.dtype()
        )),
    }
}

/// True when a column's values (not its name) say it is a label: text made of words like
/// normal/anomaly or inlier/outlier only.
pub fn values_suggest_label(column: &Column) -> bool {
    if kind_of(column.dtype()) != ColumnKind::Text {
        return false;
    }
    let Ok(cast) = column.cast(&DataType::String) else {
        return false;
    };
    let Ok(strings) = cast.str() else {
        return false;
    };
    let mut saw_word = false;
    for v in strings.iter().take(10_000) {
        let Some(v) = v else { return false };
        let w = v.trim().to_lowercase();
        if LABEL_VALUE_WORDS.contains(&w.as_str()) {
            saw_word = true;
        } else if !(POSITIVE_WORDS.contains(&w.as_str()) || NEGATIVE_WORDS.contains(&w.as_str())) {
            return false;
        }
    }
    saw_word && read_label(column).is_ok()
}

/// The label column a user most likely means: a binary column with a label-like name, else a
/// column whose values read normal/anomaly.
pub fn label_candidate(df: &DataFrame) -> Option<String> {
    let by_name = df
        .columns()
        .iter()
        .find(|c| name_suggests_label(c.name()) && read_label(c).is_ok());
    by_name
        .or_else(|| df.columns().iter().find(|c| values_suggest_label(c)))
        .map(|c| c.name().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_numeric_boolean_and_word_labels() {
        let df = df![
            "y" => [0i64, 1, 0],
            "flag" => [true, false, true],
            "status" => ["normal", "Anomaly", "normal"],
            "bad" => [0i64, 1, 2],
        ]
        .unwrap();
        assert_eq!(read_label(df.column("y").unwrap()).unwrap(), vec![0, 1, 0]);
        assert_eq!(
            read_label(df.column("flag").unwrap()).unwrap(),
            vec![1, 0, 1]
        );
        assert_eq!(
            read_label(df.column("status").unwrap()).unwrap(),
            vec![0, 1, 0]
        );
        assert!(read_label(df.column("bad").unwrap())
            .unwrap_err()
            .contains("the value 2"));
        assert_eq!(label_candidate(&df).as_deref(), Some("y"));
    }

    #[test]
    fn finds_word_labels_by_value() {
        let df = df!["x" => [1.0, 2.0], "kind" => ["inlier", "outlier"]].unwrap();
        assert_eq!(label_candidate(&df).as_deref(), Some("kind"));
        let df = df!["x" => [1.0, 2.0], "answer" => ["yes", "no"]].unwrap();
        assert_eq!(label_candidate(&df), None);
    }
}
