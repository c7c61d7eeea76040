//! JSON and NDJSON on arbitrary bytes: the nesting guard (`data::json_depth`) that must stop
//! input polars' recursive readers would overflow the stack on, then the whole load as JSON, as
//! NDJSON and sniffed, then profile and preparation of whatever loads.
//!
//! A stack overflow here means input got past the guard deeper than `MAX_JSON_DEPTH`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pynomaly::data::json_depth::{find_too_deep, MAX_JSON_DEPTH};
use pynomaly::data::load::{load_from_memory, LoadOptions};
use pynomaly::data::PrepareSpec;

fuzz_target!(
    // See csv_scan.rs: panics the loader catches on purpose are not crashes.
    init: pynomaly::panic_boundary::install_quiet_hook(),
    |data: &[u8]| {
        for lines in [false, true] {
            if let Some(offset) = find_too_deep(data, MAX_JSON_DEPTH, lines) {
                assert!(offset < data.len(), "offset {offset} beyond {} bytes", data.len());
                assert!(
                    matches!(data[offset], b'[' | b'{'),
                    "offset {offset} is not an opening bracket"
                );
            }
        }
        for extension in [Some("json"), Some("ndjson"), None] {
            let options = LoadOptions::default();
            if let Ok(loaded) = load_from_memory(data, "fuzz.json", extension, &options) {
                let _ = pynomaly::data::profile(&loaded);
                let _ = PrepareSpec::default().apply(&loaded.df, &loaded.source);
            }
        }
    }
);
