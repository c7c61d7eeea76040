//! Hand-edited and damaged model files. Every detector's saved model (and an ensemble) is put
//! through a battery of generic mutations of its JSON — arrays emptied, shortened, lengthened,
//! integers set to 0, −1, off by one, huge or the leaf sentinel, floats to null (NaN), 0, −1,
//! extremes, subnormals, flipped signs, enum strings and detector labels swapped, several arrays
//! emptied at once — and each result must either be refused when read, or score new rows
//! without panicking and in bounded time. No case is written per detector: a new field or a new
//! detector is covered without changing this file.

mod common;

use common::models::{envelope_for, planted, D, N};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ndarray::Array2;
use pynomaly::detectors::registry;
use pynomaly::saved_model::{ModelEnvelope, ModelFileError};
use serde_json::Value;

/// Single mutations tried per model: every (field, kind of mutation) pair once, the rest drawn
/// at random up to this many. Keeps the whole test to seconds in a debug build.
const MUTATIONS_PER_MODEL: usize = 300;
/// Cases per model that empty several arrays at once.
const MULTI_EMPTY: usize = 20;
const SCORE_LIMIT: Duration = Duration::from_secs(10);

fn all_envelopes() -> Vec<(String, ModelEnvelope)> {
    let x = planted(N, D);
    registry()
        .iter()
        .map(|info| info.name)
        .chain(["ensemble"])
        .map(|name| (name.to_string(), envelope_for(name, &x)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Mutations of a JSON document

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

#[derive(Clone, Debug)]
enum Edit {
    Empty,
    DropLast,
    Duplicate,
    Set(Value),
}

#[derive(Clone, Debug)]
struct Mutation {
    edits: Vec<(Vec<Step>, Edit)>,
    /// The field (array indices elided) and the kind of change: each class is tried once.
    class: String,
    text: String,
}

fn path_text(path: &[Step], indices: bool) -> String {
    let mut s = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Step::Index(i) if indices => s.push_str(&format!("[{i}]")),
            Step::Index(_) => s.push_str("[]"),
        }
    }
    s
}

fn at<'a>(doc: &'a mut Value, path: &[Step]) -> &'a mut Value {
    let mut v = doc;
    for step in path {
        v = match step {
            Step::Key(k) => v.get_mut(k.as_str()),
            Step::Index(i) => v.get_mut(*i),
        }
        .expect("the path exists in the document");
    }
    v
}

fn apply(doc: &mut Value, edits: &[(Vec<Step>, Edit)]) {
    for (path, edit) in edits {
        let v = at(doc, path);
        match edit {
            Edit::Set(new) => *v = new.clone(),
            Edit::Empty => *v = Value::Array(Vec::new()),
            Edit::DropLast => {
                if let Value::Array(items) = v {
                    items.pop();
                }
            }
            Edit::Duplicate => {
                if let Value::Array(items) = v {
                    if !items.is_empty() {
                        let mid = items.len() / 2;
                        let copy = items[mid].clone();
                        items.insert(mid, copy);
                    }
                }
            }
        }
    }
}

/// Strings that name variants of the same choice: each is swapped for the others.
const FAMILIES: &[&[&str]] = &[
    &["full", "tied", "diag", "spherical"],
    &["largest", "mean", "median"],
    &["counted", "pyod"],
    &[
        "ecod", "copod", "hbos", "knn", "lof", "kde", "sod", "abod", "cof", "iforest", "loda",
        "inne", "gmm", "pca", "ocsvm", "mcd", "cblof", "ensemble",
    ],
];

fn single(out: &mut Vec<Mutation>, path: &[Step], edit: Edit, label: &str) {
    out.push(Mutation {
        class: format!("{} {label}", path_text(path, false)),
        text: format!("{} {label}", path_text(path, true)),
        edits: vec![(path.to_vec(), edit)],
    });
}

/// Every single mutation of `v` and below; `arrays` receives the path of every array.
fn collect(v: &Value, path: &mut Vec<Step>, out: &mut Vec<Mutation>, arrays: &mut Vec<Vec<Step>>) {
    match v {
        Value::Array(items) => {
            arrays.push(path.clone());
            if !items.is_empty() {
                single(out, path, Edit::Empty, "emptied");
                single(out, path, Edit::DropLast, "without its last element");
                single(out, path, Edit::Duplicate, "with an element duplicated");
            }
            for (i, item) in items.iter().enumerate() {
                path.push(Step::Index(i));
                collect(item, path, out, arrays);
                path.pop();
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                path.push(Step::Key(k.clone()));
                collect(item, path, out, arrays);
                path.pop();
            }
        }
        Value::Number(n) => {
            let here: &[Step] = path;
            let set = |out: &mut Vec<Mutation>, new: Value, label: &str| {
                single(out, here, Edit::Set(new), label)
            };
            if let Some(i) = n.as_i64().or_else(|| n.as_u64().map(|u| u as i64)) {
                set(out, Value::from(0i64), "= 0");
                set(out, Value::from(-1i64), "= -1");
                set(out, Value::from(1_000_000_000u64), "= 1e9");
                set(out, Value::from(u64::from(u32::MAX)), "= u32::MAX");
                set(out, Value::from(i.saturating_add(1)), "+ 1");
                set(out, Value::from(i.saturating_sub(1)), "- 1");
            } else if let Some(x) = n.as_f64() {
                set(out, Value::Null, "= null (NaN)");
                set(out, Value::from(0.0f64), "= 0.0");
                set(out, Value::from(-1.0f64), "= -1.0");
                set(out, Value::from(1e300f64), "= 1e300");
                set(out, Value::from(-1e300f64), "= -1e300");
                set(out, Value::from(5e-324f64), "= 5e-324");
                set(out, Value::from(-x), "negated");
            }
        }
        Value::Bool(b) => single(out, path, Edit::Set(Value::Bool(!b)), "flipped"),
        Value::String(s) => {
            if let Some(family) = FAMILIES.iter().find(|f| f.contains(&s.as_str())) {
                for other in family.iter().filter(|o| **o != s.as_str()) {
                    single(
                        out,
                        path,
                        Edit::Set(Value::from(*other)),
                        &format!("= {other:?}"),
                    );
                }
            }
        }
        Value::Null => {}
    }
}

/// splitmix64: a fixed sequence, so every run tries the same cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One mutation of every class, then random others up to the cap, then some cases emptying
/// several arrays together (deepest first, so that nested ones stay reachable).
fn mutations(doc: &Value, rng: &mut Rng) -> Vec<Mutation> {
    let mut all = Vec::new();
    let mut arrays = Vec::new();
    let mut path = vec![Step::Key("model".to_string())];
    collect(&doc["model"], &mut path, &mut all, &mut arrays);

    let mut by_class: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, m) in all.iter().enumerate() {
        by_class.entry(m.class.as_str()).or_default().push(i);
    }
    let mut chosen = vec![false; all.len()];
    for members in by_class.values() {
        chosen[members[rng.below(members.len())]] = true;
    }
    let mut rest: Vec<usize> = (0..all.len()).filter(|&i| !chosen[i]).collect();
    let room = MUTATIONS_PER_MODEL.saturating_sub(by_class.len());
    drop(by_class);
    for _ in 0..room.min(rest.len()) {
        let i = rest.swap_remove(rng.below(rest.len()));
        chosen[i] = true;
    }
    let mut picked: Vec<Mutation> = all
        .into_iter()
        .zip(chosen)
        .filter_map(|(m, c)| c.then_some(m))
        .collect();

    for _ in 0..MULTI_EMPTY {
        if arrays.len() < 2 {
            break;
        }
        let count = 2 + rng.below(3);
        let mut paths: Vec<Vec<Step>> = (0..count)
            .map(|_| arrays[rng.below(arrays.len())].clone())
            .collect();
        paths.sort_by_key(|p| std::cmp::Reverse(p.len()));
        let text = paths
            .iter()
            .map(|p| path_text(p, true))
            .collect::<Vec<_>>()
            .join(", ");
        picked.push(Mutation {
            class: "several arrays emptied".to_string(),
            text: format!("{text} emptied together"),
            edits: paths.into_iter().map(|p| (p, Edit::Empty)).collect(),
        });
    }
    picked
}

// ---------------------------------------------------------------------------------------------
// Running one case

#[derive(Debug)]
enum Outcome {
    Refused(String),
    Scored,
    ScoreError(String),
    Panicked(String),
    TimedOut,
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string())
}

/// Reads the bytes as a model file and, if accepted, scores a few rows with the model's
/// column count, on another thread so that a hang is reported instead of stalling the test.
fn run_case(bytes: Vec<u8>, base: Array2<f64>) -> Outcome {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let envelope = match ModelEnvelope::from_json(&bytes, "tampered.json") {
                Ok(e) => e,
                Err(e) => return Outcome::Refused(e.to_string()),
            };
            let d = envelope.feature_names.len();
            // Training rows, an extreme row, and zeros.
            let x = Array2::from_shape_fn((8, d), |(i, j)| match i {
                0..=5 => base[[(i * 17) % base.nrows(), j % base.ncols()]],
                6 => 1e6,
                _ => 0.0,
            });
            match envelope.model.score(x.view()) {
                Ok(scores) => {
                    let _ = pynomaly::threshold::flags(&scores.to_vec(), envelope.threshold.value);
                    Outcome::Scored
                }
                Err(e) => Outcome::ScoreError(e.to_string()),
            }
        }))
        .unwrap_or_else(|payload| Outcome::Panicked(panic_message(payload)));
        let _ = tx.send(outcome);
    });
    match rx.recv_timeout(SCORE_LIMIT) {
        Ok(outcome) => outcome,
        Err(mpsc::RecvTimeoutError::Timeout) => Outcome::TimedOut,
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Outcome::Panicked("the thread ended without a result".to_string())
        }
    }
}

#[test]
fn tampered_models_are_refused_or_score_safely() {
    let base = planted(N, D);
    let mut rng = Rng(19);
    let mut failures = Vec::new();
    for (name, envelope) in all_envelopes() {
        let started = Instant::now();
        let doc: Value = serde_json::from_slice(&envelope.to_json()).unwrap();
        let (mut refused, mut scored) = (0, 0);
        for m in mutations(&doc, &mut rng) {
            let mut tampered = doc.clone();
            apply(&mut tampered, &m.edits);
            let bytes = serde_json::to_vec(&tampered).unwrap();
            match run_case(bytes, base.clone()) {
                Outcome::Refused(reason) if reason.contains("the model file is damaged") => {
                    refused += 1
                }
                Outcome::Refused(reason) => failures.push(format!(
                    "{name}: {}: refused, but not as damaged: {reason}",
                    m.text
                )),
                Outcome::Scored => scored += 1,
                // A model that passed the checks must score rows with its column count.
                Outcome::ScoreError(message) => failures.push(format!(
                    "{name}: {}: accepted, then scoring failed: {message}",
                    m.text
                )),
                Outcome::Panicked(message) => {
                    failures.push(format!("{name}: {}: panicked: {message}", m.text))
                }
                Outcome::TimedOut => failures.push(format!(
                    "{name}: {}: still scoring after {SCORE_LIMIT:?}",
                    m.text
                )),
            }
        }
        eprintln!(
            "{name}: {refused} refused, {scored} accepted and scored, {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    assert!(
        failures.is_empty(),
        "{} tampered models crashed or hung:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// The envelope around the model, and the cases of the issue

fn damaged(doc: &Value) -> String {
    let bytes = serde_json::to_vec(doc).unwrap();
    match ModelEnvelope::from_json(&bytes, "m.json") {
        Err(e @ ModelFileError::Damaged { .. }) => e.to_string(),
        Err(e) => panic!("refused, but not as damaged: {e}"),
        Ok(_) => panic!("accepted: {doc}"),
    }
}

fn envelope_of(name: &str) -> Value {
    let envelope = envelope_for(name, &planted(N, D));
    serde_json::from_slice(&envelope.to_json()).unwrap()
}

#[test]
fn untouched_models_are_read_back_whole() {
    for (name, envelope) in all_envelopes() {
        let back = ModelEnvelope::from_json(&envelope.to_json(), "m.json")
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(back, envelope, "{name}");
        // The label written into the model's JSON is its detector name.
        let doc = serde_json::to_value(&envelope.model).unwrap();
        assert_eq!(doc["detector"], name.as_str(), "{name}");
    }
}

#[test]
fn the_envelope_must_describe_its_model() {
    let doc = envelope_of("hbos");

    let mut wrong_label = doc.clone();
    wrong_label["detector"] = Value::from("knn");
    let message = damaged(&wrong_label);
    assert!(message.contains("\"detector\" is \"knn\""), "{message}");

    let mut names = doc.clone();
    names["feature_names"].as_array_mut().unwrap().pop();
    let message = damaged(&names);
    assert!(message.contains("feature_names has 3 names"), "{message}");

    let mut scalers = doc.clone();
    scalers["prepare"]["fitted"]["scalers"][1]["scale"] = Value::from(0.0f64);
    let message = damaged(&scalers);
    assert!(message.contains("prepare"), "{message}");

    let mut columns = doc.clone();
    columns["prepare"]["fitted"]["columns"]
        .as_array_mut()
        .unwrap()
        .pop();
    let message = damaged(&columns);
    assert!(message.contains("prepare"), "{message}");

    // A NaN threshold is written as null.
    let mut threshold = doc.clone();
    threshold["threshold"]["value"] = Value::Null;
    damaged(&threshold);
}

#[test]
fn the_reported_cases_name_the_field() {
    let mut hbos = envelope_of("hbos");
    hbos["model"]["edges"][3]
        .as_array_mut()
        .unwrap()
        .truncate(2);
    let message = damaged(&hbos);
    assert!(
        message.contains("the model file is damaged: hbos: edges of feature 3 has 2 values"),
        "{message}"
    );

    let mut knn = envelope_of("knn");
    knn["model"]["k"] = Value::from(0u64);
    assert!(damaged(&knn).contains("knn: k is 0"));
    knn["model"]["k"] = Value::from(N);
    assert!(damaged(&knn).contains(&format!("knn: k is {N}")));

    // A child pointing back at its own node: a cycle.
    let mut forest = envelope_of("iforest");
    let internal = forest["model"]["feature"]
        .as_array()
        .unwrap()
        .iter()
        .position(|f| f.as_u64() != Some(u64::from(u32::MAX)))
        .expect("an internal node");
    forest["model"]["left"][internal] = Value::from(internal);
    assert!(damaged(&forest).contains(&format!("iforest: left of node {internal}")));

    let mut loda = envelope_of("loda");
    loda["model"]["projections"][0]["features"][0] = Value::from(D);
    assert!(damaged(&loda).contains("loda: features of projection 0"));

    let mut gmm = envelope_of("gmm");
    gmm["model"]["means"].as_array_mut().unwrap().pop();
    assert!(damaged(&gmm).contains("gmm: means"));

    let mut ensemble = envelope_of("ensemble");
    ensemble["model"]["members"][1]["detector"] = Value::from("knn");
    assert!(damaged(&ensemble).contains("member 1 is labelled \"knn\""));
}
