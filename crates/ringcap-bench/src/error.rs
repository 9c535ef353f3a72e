//! What can stop the bench itself (as opposed to one contender's run, which fails on its own
//! and is reported in its row).

/// A failure of the bench's own machinery: its network, its generator, its files.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no CPU to run on (this process's affinity mask is empty)")]
    NoCpu,
    #[error("building the bench network (needs root): {0}")]
    Build(ringcap_netns::Error),
    #[error("the bench network: {0}")]
    Net(#[from] ringcap_netns::Error),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("the generator failed: {0}")]
    Generator(String),
    #[error(transparent)]
    Engine(#[from] ringcap::Error),
    #[error("--write needs the program's file output")]
    NoFileOutput,
}

impl Error {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let what = what.into();
        move |source| Error::Io { what, source }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
