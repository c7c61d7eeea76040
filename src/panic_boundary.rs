//! Where a panic is turned into an error: [`catch`] runs code that may panic (a reader on a
//! hostile file, a job) and returns the panic as a value, and while any such call runs, the
//! process's panic hook stays silent, so a caught panic prints nothing over the real message.

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};

static CATCHING: AtomicUsize = AtomicUsize::new(0);

/// Runs `work`; a panic inside it (or in threads it waits for) comes back as `Err(message)`.
pub fn catch<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    CATCHING.fetch_add(1, Ordering::SeqCst);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    CATCHING.fetch_sub(1, Ordering::SeqCst);
    result.map_err(|payload| message(payload.as_ref()))
}

/// Text of a panic's payload.
pub fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Installs a hook that prints panics as before, except while [`catch`] is running: those
/// panics become errors with their own message, and a backtrace on the terminal would only
/// bury it.
pub fn install_quiet_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if CATCHING.load(Ordering::SeqCst) == 0 {
            previous(info);
        }
    }));
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_comes_back_as_its_message() {
        assert_eq!(super::catch(|| 7), Ok(7));
        let caught = super::catch(|| -> u8 { panic!("bad {}", 1) });
        assert_eq!(caught, Err("bad 1".to_string()));
    }
}
