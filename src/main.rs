//! `pynomaly`: parse arguments, run the command, map failures to exit codes
//! (2 = bad input, 1 = internal failure).

use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use pynomaly::cli::{run, Cli};
use pynomaly::text::sanitize;

fn main() -> ExitCode {
    // An empty PYNOMALY_STORE means "not set" (as shells and env files often leave it), not
    // a store at the empty path. Before any thread exists.
    if std::env::var_os(pynomaly::store::STORE_ENV).is_some_and(|v| v.is_empty()) {
        std::env::remove_var(pynomaly::store::STORE_ENV);
    }
    let cli = Cli::parse();
    if !cli.opens_workbench() {
        // The workbench has its own hook (the terminal comes back first).
        pynomaly::panic_boundary::install_quiet_hook();
    }
    // A headless command joins the thread pool as its worker 0, so a fit starts on this warm
    // thread instead of waking a sleeping one (measurements in docs/benchmarks.md). The
    // workbench's main thread runs the event loop, so there the pool keeps its own workers.
    let pool = rayon::ThreadPoolBuilder::new();
    let pool = if cli.opens_workbench() {
        pool
    } else {
        pool.use_current_thread()
    };
    let _ = pool.build_global();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if !e.message.is_empty() {
                // Messages quote file names and column names: untrusted text. A stop the user
                // asked for (exit 130) is not an error.
                let prefix = if e.code == 130 { "pynomaly" } else { "error" };
                eprintln!("{prefix}: {}", sanitize(&e.message));
            }
            ExitCode::from(e.code)
        }
    }
}
