//! `pynomaly`: parse arguments, run the command, map failures to exit codes
//! (2 = bad input, 1 = internal failure).

use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use pynomaly::cli::{run, Cli};
use pynomaly::text::sanitize;

fn main() -> ExitCode {
    // Start the worker threads now, while arguments are parsed and data loads, rather than
    // inside the first fit.
    let _ = rayon::ThreadPoolBuilder::new().build_global();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if !e.message.is_empty() {
                // Messages quote file names and column names: untrusted text.
                eprintln!("error: {}", sanitize(&e.message));
            }
            ExitCode::from(e.code)
        }
    }
}
