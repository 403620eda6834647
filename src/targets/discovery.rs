//! Platform discovery: the tenants the platform lists, filtered by the config's allow and block
//! lists and cut to this replica's shard, become tenant targets; the set is reconciled whenever
//! discovery succeeds (a failed discovery keeps the last good list).

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::watch;
use tracing::debug;

use super::{TargetKind, TargetSet, TargetSpec};
use crate::config::{CollectionConfig, PlatformConfig};
use crate::secret::Secret;
use crate::sources::platform::BATCH_APP_KEY;
use crate::sources::sobot::client::Credentials;
use crate::telemetry::{
    PLATFORM_SHARD_INFO, PLATFORM_SHARDS, PLATFORM_TENANTS_DISCOVERED, PLATFORM_TENANTS_SERVED, Telemetry,
};

/// A tenant as discovery lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// `companyId`: the target id and the `tenant` label.
    pub id: String,
    /// `companyName`.
    pub name: String,
    /// `appId` of its statistics API.
    pub app_id: String,
    /// `appKey` of its statistics API.
    pub app_key: Secret,
}

/// What the targets should be: the configured company (if it has credentials), the platform (if
/// configured), and the served tenants.
pub fn desired(config: &Arc<CollectionConfig>, tenants: &[Tenant]) -> Vec<TargetSpec> {
    let mut specs = Vec::new();
    // The configured company is collected by one replica: shard 1 (every replica fetching its token
    // would invalidate the others', and its series would be exported once per replica).
    let first_shard = config.platform.as_ref().is_none_or(|p| p.shard.number() == 1);
    if first_shard && (config.credentials.is_some() || config.laaffic_credentials.is_some()) {
        specs.push(TargetSpec::company(config.clone()));
    }
    let company_app = config.credentials.as_ref().map(|c| c.app_id.as_str());
    let Some(platform) = &config.platform else {
        return specs;
    };
    specs.push(TargetSpec {
        id: "platform".to_string(),
        name: String::new(),
        kind: TargetKind::Platform,
        labels: Vec::new(),
        on_metrics: true,
        sobot: None,
        laaffic: None,
        config: config.clone(),
    });
    let tenant_config = Arc::new(tenant_config(config, platform));
    // A tenant that is the configured company itself is collected as the company; one whose id is
    // a reserved target id cannot be told apart from it.
    let tenants = tenants
        .iter()
        .filter(|t| Some(t.app_id.as_str()) != company_app && !RESERVED_IDS.contains(&t.id.as_str()));
    specs.extend(tenants.map(|t| TargetSpec {
        id: t.id.clone(),
        name: t.name.clone(),
        kind: TargetKind::Tenant,
        labels: vec![("tenant", t.id.clone())],
        on_metrics: platform.tenants_on_metrics,
        sobot: Some(Credentials { app_id: t.app_id.clone(), app_key: t.app_key.clone() }),
        laaffic: None,
        config: tenant_config.clone(),
    }));
    specs
}

/// What a tenant collects: the config's settings with the platform's collectors.
fn tenant_config(config: &CollectionConfig, platform: &PlatformConfig) -> CollectionConfig {
    CollectionConfig {
        collectors: platform.collectors.clone(),
        groups: Vec::new(),
        agents: Vec::new(),
        credentials: None,
        laaffic_credentials: None,
        platform: None,
        // A tenant's app id and key are those the platform lists.
        origins: crate::upstream::Origins::tenant(),
        ..config.clone()
    }
}

/// Target ids that are not tenants': a tenant listed with one cannot be told apart from them.
const RESERVED_IDS: [&str; 2] = ["company", "platform"];

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

/// Reconciles `targets` with the config and every new list of tenants discovery publishes, each
/// time either changes (a reload, a discovery), until a sender goes.
pub async fn follow(
    targets: Arc<TargetSet>,
    mut config: watch::Receiver<Arc<CollectionConfig>>,
    mut tenants: watch::Receiver<Option<Arc<Vec<Tenant>>>>,
) {
    loop {
        let current = config.borrow_and_update().clone();
        let list = tenants.borrow_and_update().clone().unwrap_or_default();
        targets.reconcile(desired(&current, &list));
        let changed = tokio::select! {
            changed = config.changed() => changed,
            changed = tenants.changed() => changed,
        };
        if changed.is_err() {
            return;
        }
    }
}
