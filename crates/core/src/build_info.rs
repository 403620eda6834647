//! What this binary is: version, git revision and branch, build date, compiler (set by
//! `build.rs`), for `--version`, the start-up line and `sobot_exporter_build_info`.

/// The crate's version.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git revision built (12 hex digits), or `unknown`.
pub(crate) const REVISION: &str = env!("SOBOT_EXPORTER_REVISION");
/// The git branch built, or `unknown`.
pub(crate) const BRANCH: &str = env!("SOBOT_EXPORTER_BRANCH");
/// When it was built (UTC, RFC 3339; `SOURCE_DATE_EPOCH` if set), or `unknown`.
pub(crate) const BUILD_DATE: &str = env!("SOBOT_EXPORTER_BUILD_DATE");
/// The Rust compiler's version, e.g. `1.95.0`.
pub(crate) const RUSTC_VERSION: &str = env!("SOBOT_EXPORTER_RUSTC_VERSION");

/// What `--version` prints after the name.
pub const VERSION_LINE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (revision ",
    env!("SOBOT_EXPORTER_REVISION"),
    ", branch ",
    env!("SOBOT_EXPORTER_BRANCH"),
    ", built ",
    env!("SOBOT_EXPORTER_BUILD_DATE"),
    ", rustc ",
    env!("SOBOT_EXPORTER_RUSTC_VERSION"),
    ")"
);

/// The labels of `sobot_exporter_build_info`, in name order.
pub fn labels() -> Vec<(&'static str, String)> {
    vec![
        ("branch", BRANCH.to_string()),
        ("build_date", BUILD_DATE.to_string()),
        ("revision", REVISION.to_string()),
        ("rustc_version", RUSTC_VERSION.to_string()),
        ("version", VERSION.to_string()),
    ]
}
