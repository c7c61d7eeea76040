//! Model files on arbitrary bytes: `ModelEnvelope::from_json` must refuse what it cannot score
//! safely, and a model it accepts must score rows of its width (zeros, small values, a far
//! point) without a panic, an abort or a hang, and be flagged with its threshold.
//!
//! Start from real model files (see README.md): random bytes almost never parse as one.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ndarray::Array2;
use pynomaly::saved_model::ModelEnvelope;

fuzz_target!(
    // See csv_scan.rs: panics caught on purpose are not crashes.
    init: pynomaly::panic_boundary::install_quiet_hook(),
    |data: &[u8]| {
        let Ok(envelope) = ModelEnvelope::from_json(data, "fuzz.model.json") else {
            return;
        };
        let d = envelope.feature_names.len();
        assert_eq!(d, envelope.model.n_features(), "accepted with a wrong feature count");
        let x = Array2::from_shape_fn((3, d), |(i, j)| match i {
            0 => 0.0,
            1 => 0.5 * j as f64 - 1.0,
            _ => 1e6,
        });
        if let Ok(scores) = envelope.model.score(x.view()) {
            assert_eq!(scores.len(), 3, "scores for 3 rows");
            let flags = pynomaly::threshold::flags(&scores.to_vec(), envelope.threshold.value);
            assert_eq!(flags.len(), 3, "flags for 3 rows");
        }
    }
);
