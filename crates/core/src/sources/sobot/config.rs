//! The `sobot:` and `quality:` sections of the config file: the company's app id and key, how
//! to reach the API, and the quality collectors' paging.

use std::path::PathBuf;

use serde::Deserialize;

use super::client::Credentials;
use crate::input::{ConfigError, Env, ReadFile, err, one_credential, pair};
use crate::secret::Secret;

/// `sobot:` in the YAML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SobotSection {
    /// The `appid` (not secret); or use `app_id_file` or `SOBOT_APP_ID`.
    pub app_id: Option<String>,
    /// File holding the `appid`.
    pub app_id_file: Option<PathBuf>,
    /// File holding the `app_key`; or use `SOBOT_APP_KEY`.
    pub app_key_file: Option<PathBuf>,
    /// Total timeout of one upstream request; default 15s.
    pub timeout: Option<String>,
    /// Connect timeout; default 5s.
    pub connect_timeout: Option<String>,
    /// Upstream calls a minute at most; default 1000, the documented limit.
    pub rate_limit_per_minute: Option<u32>,
}

/// `quality:` in the YAML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualitySection {
    /// Interval of the quality collectors; default 5m.
    pub(crate) interval: Option<String>,
    /// Records per page; default 1000, at most 10000.
    pub page_size: Option<u32>,
    /// Pages per window and cycle at most; default 50.
    pub(crate) max_pages: Option<u32>,
    /// Whether the per-part families (`sobot_quality_part_*`) are exported; default true.
    pub(crate) part_scores: Option<bool>,
}

/// Environment variable of the Sobot `appid`.
pub const ENV_APP_ID: &str = "SOBOT_APP_ID";
/// Environment variable of the Sobot `app_key`.
pub const ENV_APP_KEY: &str = "SOBOT_APP_KEY";
pub(crate) fn sobot_credentials(
    s: &SobotSection,
    env: &Env<'_>,
    read: &ReadFile<'_>,
    at: &dyn Fn(&str) -> String,
) -> Result<Option<Credentials>, ConfigError> {
    let id_key = at("sobot.app_id_file");
    let mut app_id = one_credential(env, read, ENV_APP_ID, s.app_id_file.as_ref(), &id_key)?;
    if let Some(v) = &s.app_id {
        if app_id.is_some() {
            let other = if s.app_id_file.is_some() { id_key } else { ENV_APP_ID.to_string() };
            return Err(err(format!("{} and {other} are both set; use one", at("sobot.app_id"))));
        }
        app_id = Some(Secret::new(v.clone()));
    }
    let key_key = at("sobot.app_key_file");
    let app_key = one_credential(env, read, ENV_APP_KEY, s.app_key_file.as_ref(), &key_key)?;
    pair(
        app_id,
        app_key,
        ("the Sobot app id", "the Sobot app key (SOBOT_APP_KEY or sobot.app_key_file)"),
        |id, key| Credentials { app_id: id.expose().to_string(), app_key: key },
    )
}
