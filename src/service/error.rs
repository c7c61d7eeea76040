//! One error policy for every layer: each error type says whose fault it is, and every face maps
//! that the same way (CLI exit code, TUI status line).

use std::fmt;

/// Who has to act on an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The user's input (file, option, model, store) is at fault: CLI exit 2.
    Input,
    /// Our own failure or the system's: CLI exit 1.
    Internal,
    /// The user (or a budget) stopped the work: CLI exit 130, like an interrupted shell command.
    Cancelled,
}

impl Fault {
    pub fn exit_code(self) -> u8 {
        match self {
            Fault::Input => 2,
            Fault::Internal => 1,
            Fault::Cancelled => 130,
        }
    }
}

/// Implemented by every error type a face can receive.
pub trait Blame {
    fn fault(&self) -> Fault;
}

impl Blame for crate::data::DataError {
    fn fault(&self) -> Fault {
        if self.is_bad_input() {
            Fault::Input
        } else {
            Fault::Internal
        }
    }
}

impl Blame for crate::detectors::DetectError {
    fn fault(&self) -> Fault {
        match self {
            crate::detectors::DetectError::Cancelled => Fault::Cancelled,
            _ => Fault::Input,
        }
    }
}

impl Blame for crate::store::StoreError {
    fn fault(&self) -> Fault {
        if self.is_bad_input() {
            Fault::Input
        } else {
            Fault::Internal
        }
    }
}

impl Blame for crate::automl::AutomlError {
    fn fault(&self) -> Fault {
        match self {
            crate::automl::AutomlError::Detect(e) => e.fault(),
            // Thresholding our own refitted scores: not the user's input.
            crate::automl::AutomlError::Threshold(_) => Fault::Internal,
            crate::automl::AutomlError::Invalid(_) => Fault::Input,
        }
    }
}

impl Blame for crate::saved_model::ModelFileError {
    fn fault(&self) -> Fault {
        Fault::Input
    }
}

/// An error from the application layer: the message both faces show and whose fault it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    pub message: String,
    pub fault: Fault,
}

impl ServiceError {
    pub fn input(message: impl Into<String>) -> Self {
        ServiceError {
            message: message.into(),
            fault: Fault::Input,
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ServiceError {
            message: message.into(),
            fault: Fault::Internal,
        }
    }

    /// The same error with `context: ` in front (typically the file it concerns).
    pub fn context(mut self, context: &str) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ServiceError {}

impl Blame for ServiceError {
    fn fault(&self) -> Fault {
        self.fault
    }
}

macro_rules! from_blamed {
    ($($t:ty),*) => {$(
        impl From<$t> for ServiceError {
            fn from(e: $t) -> Self {
                ServiceError { fault: e.fault(), message: e.to_string() }
            }
        }
    )*};
}
from_blamed!(
    crate::data::DataError,
    crate::detectors::DetectError,
    crate::store::StoreError,
    crate::automl::AutomlError,
    crate::saved_model::ModelFileError
);

pub type ServiceResult<T> = Result<T, ServiceError>;

/// Runs `work`, turning a panic inside it into an internal error: a bug in one job must not
/// take down a face (the workbench stays up, the CLI prints one line and exits 1).
pub fn catch_panic<T>(what: &str, work: impl FnOnce() -> ServiceResult<T>) -> ServiceResult<T> {
    match crate::panic_boundary::catch(work) {
        Ok(result) => result,
        Err(message) => Err(ServiceError::internal(format!(
            "{what}: internal error (a bug in Pynomaly): {message}"
        ))),
    }
}
