//! The CSV path on arbitrary bytes: our byte-level scanner (dialect sniffing, header split,
//! record validation, line numbers), then the whole load (scanner, polars' reader, missing-value
//! markers), then profile and preparation of whatever loads.
//!
//! A crash is any panic that is not caught by the loader's own panic boundary, an abort (stack
//! overflow, allocation failure) or a hang (`-timeout`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use pynomaly::data::csv_scan;
use pynomaly::data::load::{load_from_memory, LoadOptions, DEFAULT_MAX_FIELD_BYTES};
use pynomaly::data::PrepareSpec;

fuzz_target!(
    // libfuzzer-sys aborts on every panic, including those the loader catches on purpose (a
    // reader giving up on a malformed file); the quiet hook lets only the uncaught ones through.
    init: pynomaly::panic_boundary::install_quiet_hook(),
    |data: &[u8]| {
        let dialect = csv_scan::sniff_dialect(data, true, None, None);
        let first_line_end = data
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(data.len());
        let header = csv_scan::split_line(&data[..first_line_end], dialect.delimiter);
        let _ = csv_scan::validate(
            data,
            dialect.delimiter,
            header.len(),
            dialect.has_header,
            DEFAULT_MAX_FIELD_BYTES,
        );
        let _ = csv_scan::line_of_offset(data, data.len() / 2);

        // The default limits, and a small field limit so that the oversized-field path runs too.
        let small_fields = LoadOptions {
            max_field_bytes: 16,
            ..LoadOptions::default()
        };
        for options in [LoadOptions::default(), small_fields] {
            if let Ok(loaded) = load_from_memory(data, "fuzz.csv", Some("csv"), &options) {
                let _ = pynomaly::data::profile(&loaded);
                let _ = PrepareSpec::default().apply(&loaded.df, &loaded.source);
            }
        }
    }
);
