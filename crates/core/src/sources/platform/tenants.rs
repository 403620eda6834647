//! The tenants discovery lists, and which of them this replica serves: the config's allow and
//! block lists, the reserved target ids, the configured company itself, and the shard.

use std::collections::BTreeMap;

use tracing::debug;

use super::BATCH_APP_KEY;
use super::config::PlatformConfig;
use crate::secret::Secret;
use crate::telemetry::{
    PLATFORM_SHARD_INFO, PLATFORM_SHARDS, PLATFORM_TENANTS_DISCOVERED, PLATFORM_TENANTS_SERVED, Telemetry,
};

/// A tenant as discovery lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tenant {
    /// `companyId`: the target id and the `tenant` label.
    pub(crate) id: String,
    /// `companyName`.
    pub(crate) name: String,
    /// `appId` of its statistics API.
    pub(crate) app_id: String,
    /// `appKey` of its statistics API.
    pub(crate) app_key: Secret,
}

/// Target ids that are not tenants': a tenant listed with one cannot be told apart from them.
pub(crate) const RESERVED_IDS: [&str; 2] = ["company", "platform"];

/// Whether some shard can serve `tenant` as a tenant: the filters allow it, its id is not a
/// reserved one, and it is not the configured company itself (whose app id is `company_app`;
/// that one is collected as the company).
fn servable(tenant: &Tenant, platform: &PlatformConfig, company_app: Option<&str>) -> bool {
    !RESERVED_IDS.contains(&tenant.id.as_str())
        && Some(tenant.app_id.as_str()) != company_app
        && platform.tenants.allows(&tenant.id, &tenant.name)
}

/// The tenants this replica serves, out of every tenant listed: those some shard can serve
/// ([`servable`]; a reserved id is counted as a parse error of getBatchAppKey's `companyId`) and
/// this shard owns: what `/sd` lists. Sets the discovery self-metrics.
pub(crate) fn served(
    listed: Vec<Tenant>,
    platform: &PlatformConfig,
    company_app: Option<&str>,
    telemetry: &Telemetry,
) -> Vec<Tenant> {
    for tenant in listed.iter().filter(|t| RESERVED_IDS.contains(&t.id.as_str())) {
        debug!(tenant = %tenant.id, "a tenant's companyId is a reserved target id: not collected");
        telemetry.count_parse_error(BATCH_APP_KEY.label, "companyId");
    }
    let allowed: Vec<Tenant> = listed.into_iter().filter(|t| servable(t, platform, company_app)).collect();
    let discovered = allowed.len();
    let served: Vec<Tenant> = allowed.into_iter().filter(|t| platform.shard.owns(&t.id)).collect();
    #[allow(clippy::cast_precision_loss)]
    {
        telemetry.set(PLATFORM_TENANTS_DISCOVERED, Vec::new(), discovered as f64);
        telemetry.set(PLATFORM_TENANTS_SERVED, Vec::new(), served.len() as f64);
    }
    let shard = platform.shard;
    let labels = vec![("shard", shard.number().to_string()), ("shards", shard.count().to_string())];
    telemetry.set(PLATFORM_SHARD_INFO, labels, 1.0);
    telemetry.set(PLATFORM_SHARDS, Vec::new(), f64::from(shard.count()));
    served
}

/// The company ids of the servable tenants listed with one app id, per app id (in the order
/// listed, the groups by their first id): one token serves each group in a replica, but
/// replicas serving tenants of one group each fetch their own.
pub(crate) fn sharing_an_app_id(
    listed: &[Tenant],
    platform: &PlatformConfig,
    company_app: Option<&str>,
) -> Vec<Vec<String>> {
    let mut by_app: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for tenant in listed.iter().filter(|t| servable(t, platform, company_app)) {
        by_app.entry(tenant.app_id.as_str()).or_default().push(tenant.id.clone());
    }
    let mut groups: Vec<Vec<String>> = by_app.into_values().filter(|ids| ids.len() > 1).collect();
    groups.sort();
    groups
}
