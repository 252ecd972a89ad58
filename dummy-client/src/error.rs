//! Why a run could not even start. A run that started always ends in a [`Report`], whose
//! verdict says whether it passed.
//!
//! [`Report`]: crate::Report

/// A run that could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A [`RunConfig`](crate::RunConfig) setting is unusable.
    #[error("invalid configuration: {field} {reason}")]
    InvalidConfig {
        /// The setting's field name.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `--login PREFIX` cannot name every bot by the server's rules.
    #[error(transparent)]
    Login(#[from] crate::login::NameError),
}
