//! The `platform:` section of the config file: the platform's credentials, interval, the
//! collectors run for each tenant, which tenants, and this replica's shard.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::input::{ConfigError, Env, ReadFile, err, interval, no_repeats, one_credential};
use crate::secret::{Secret, Shape, shown};
use crate::shard::Shard;
use crate::sources::CollectorKind;
use crate::sources::sobot::endpoints::{ENDPOINTS, Rows};

/// `platform:` in the YAML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformSection {
    /// `unionCode`, the platform's id at Sobot.
    pub union_code: Option<String>,
    /// The platform super administrator's e-mail (signs getTenantList).
    pub email: Option<String>,
    /// File holding the union key; or use `SOBOT_PLATFORM_UNION_KEY`.
    pub union_key_file: Option<PathBuf>,
    /// Interval of discovery and platform statistics; default 5m.
    pub interval: Option<String>,
    /// Collectors run for every tenant; default the six company overview endpoints.
    pub collectors: Option<Vec<String>>,
    /// Which tenants to collect.
    #[serde(default)]
    pub tenants: TenantsSection,
    /// Whether every tenant's series also go on `/metrics` (with a `tenant` label); default true.
    pub tenants_on_metrics: Option<bool>,
}

/// `platform.tenants:` in the YAML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantsSection {
    /// Only these company ids (and those `include_names` matches), if given.
    pub(crate) include_ids: Option<Vec<String>>,
    /// Only tenants whose name matches (anchored regular expression), if given.
    pub(crate) include_names: Option<String>,
    /// Never these company ids.
    pub(crate) exclude_ids: Option<Vec<String>>,
    /// Never tenants whose name matches (anchored regular expression).
    pub(crate) exclude_names: Option<String>,
}

/// The platform section, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformConfig {
    /// `unionCode`.
    pub(crate) union_code: String,
    /// The super administrator's e-mail.
    pub(crate) email: String,
    /// The union key, the signing secret.
    pub(crate) union_key: Secret,
    /// Interval of discovery and platform statistics.
    pub(crate) interval: Duration,
    /// Collectors run for every tenant.
    pub(crate) collectors: Vec<CollectorKind>,
    /// Which tenants to collect.
    pub(crate) tenants: TenantFilter,
    /// Whether tenants' series also go on `/metrics`.
    pub(crate) tenants_on_metrics: bool,
    /// This replica's share.
    pub(crate) shard: Shard,
}

/// Tenant allow and block lists: a tenant is collected if no include rule is given or one
/// matches, and no exclude rule matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TenantFilter {
    include_ids: Vec<String>,
    include_names: Option<Pattern>,
    exclude_ids: Vec<String>,
    exclude_names: Option<Pattern>,
}

impl TenantFilter {
    /// Whether rules on names are configured (which only a list with names can apply).
    pub(crate) fn has_name_rules(&self) -> bool {
        self.include_names.is_some() || self.exclude_names.is_some()
    }

    /// Whether the id rules let the tenant `id` be collected (the name rules aside).
    pub(crate) fn allows_id(&self, id: &str) -> bool {
        (self.include_ids.is_empty() || self.include_ids.iter().any(|i| i == id))
            && !self.exclude_ids.iter().any(|i| i == id)
    }

    /// Whether the tenant `id` named `name` is collected.
    pub(crate) fn allows(&self, id: &str, name: &str) -> bool {
        let included = (self.include_ids.is_empty() && self.include_names.is_none())
            || self.include_ids.iter().any(|i| i == id)
            || self.include_names.as_ref().is_some_and(|p| p.matches(name));
        let excluded = self.exclude_ids.iter().any(|i| i == id)
            || self.exclude_names.as_ref().is_some_and(|p| p.matches(name));
        included && !excluded
    }
}

#[cfg(test)]
impl TenantFilter {
    /// Tenants with one of `ids`, or whose name `names` matches.
    pub(crate) fn including(ids: &[&str], names: &str) -> Self {
        TenantFilter {
            include_ids: ids.iter().map(|i| (*i).to_string()).collect(),
            include_names: Pattern::new(names).ok(),
            ..TenantFilter::default()
        }
    }
}

/// A regular expression anchored at both ends, as Prometheus relabeling anchors them.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    source: String,
    regex: regex_lite::Regex,
}

impl Pattern {
    fn new(source: &str) -> Result<Pattern, String> {
        let regex = regex_lite::Regex::new(&format!("^(?:{source})$")).map_err(|e| {
            // The library's message spans several lines: the first says what is wrong.
            e.to_string().lines().find(|l| !l.trim().is_empty()).unwrap_or("invalid").trim().to_string()
        })?;
        Ok(Pattern { source: source.to_string(), regex })
    }

    fn matches(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Pattern {}

/// Environment variable of the platform's union key.
pub const ENV_UNION_KEY: &str = "SOBOT_PLATFORM_UNION_KEY";

/// The collectors each tenant runs unless `platform.collectors` says otherwise: the company
/// overview endpoints (the table's company-wide ones).
pub fn default_tenant_collectors() -> Vec<&'static str> {
    ENDPOINTS.iter().filter(|e| e.rows == Rows::Item).map(|e| e.name).collect()
}

/// The platform section: credentials, interval, tenant collectors and filters, the shard.
pub(crate) fn platform(
    p: &PlatformSection,
    shard: Shard,
    env: &Env<'_>,
    read: &ReadFile<'_>,
    at: &dyn Fn(&str) -> String,
) -> Result<PlatformConfig, ConfigError> {
    let text = |value: &Option<String>, key: &str| -> Result<String, ConfigError> {
        match value.as_deref().map(str::trim) {
            Some(v) if !v.is_empty() => Ok(v.to_string()),
            _ => Err(err(format!("{}: required for the platform", at(key)))),
        }
    };
    let union_code = text(&p.union_code, "platform.union_code")?;
    let email = text(&p.email, "platform.email")?;
    let key_file = at("platform.union_key_file");
    let union_key = one_credential(env, read, ENV_UNION_KEY, p.union_key_file.as_ref(), &key_file)?
        .ok_or_else(|| err(format!("the platform needs its union key: set {ENV_UNION_KEY} or {key_file}")))?;
    let interval = interval(&p.interval, &at("platform.interval"))?;
    let all = CollectorKind::all();
    let names: Vec<String> = match &p.collectors {
        Some(names) => names.clone(),
        None => default_tenant_collectors().into_iter().map(str::to_string).collect(),
    };
    let collectors = names
        .iter()
        .map(|n| {
            let kind = all.iter().copied().find(|k| k.name() == *n);
            match kind {
                Some(k @ (CollectorKind::Stats(_) | CollectorKind::Quality(_))) => Ok(k),
                Some(_) => Err(err(format!(
                    "{}: {n} cannot run for tenants (per-group collectors need a tenant's groups; Laaffic is not a Sobot tenant's)",
                    at("platform.collectors")
                ))),
                None => Err(err(format!(
                    "{}: unknown collector {} (e.g. robot_session)",
                    at("platform.collectors"),
                    shown(n, Shape::Name)
                ))),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    no_repeats(names.iter().map(String::as_str), &at("platform.collectors"), Shape::Name)?;
    if collectors.is_empty() {
        return Err(err(format!("{}: at least one collector is needed", at("platform.collectors"))));
    }
    let pattern = |value: &Option<String>, key: &str| -> Result<Option<Pattern>, ConfigError> {
        value
            .as_deref()
            .map(|v| {
                Pattern::new(v).map_err(|e| err(format!("{}: invalid regular expression: {e}", at(key))))
            })
            .transpose()
    };
    let t = &p.tenants;
    let tenants = TenantFilter {
        include_ids: t.include_ids.clone().unwrap_or_default(),
        include_names: pattern(&t.include_names, "platform.tenants.include_names")?,
        exclude_ids: t.exclude_ids.clone().unwrap_or_default(),
        exclude_names: pattern(&t.exclude_names, "platform.tenants.exclude_names")?,
    };
    Ok(PlatformConfig {
        union_code,
        email,
        union_key,
        interval,
        collectors,
        tenants,
        tenants_on_metrics: p.tenants_on_metrics.unwrap_or(true),
        shard,
    })
}
