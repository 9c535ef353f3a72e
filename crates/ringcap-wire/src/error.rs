use std::fmt;

/// Why a checked constructor refused a buffer. Kept small and `Copy` so decoders can return it
/// on the per-packet path without allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The buffer is shorter than the header (or than the length the header itself declares).
    Truncated,
    /// A length or version field holds a value the header cannot have.
    Malformed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated => f.write_str("truncated header"),
            Error::Malformed => f.write_str("malformed header"),
        }
    }
}

impl std::error::Error for Error {}

/// Result of the checked constructors.
pub type Result<T> = core::result::Result<T, Error>;
