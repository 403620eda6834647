//! Platform discovery: the tenants the platform lists, filtered by the config's allow and block
//! lists and cut to this replica's shard, become tenant targets; the set is reconciled whenever
//! discovery succeeds (a failed discovery keeps the last good list).

use std::sync::Arc;

use tokio::sync::watch;

use super::{TargetKind, TargetSet, TargetSpec};
use crate::config::{CollectionConfig, PlatformConfig};
use crate::sources::platform::tenants::{RESERVED_IDS, Tenant};
use crate::sources::sobot::client::Credentials;

/// What the targets should be: the configured company (if it has credentials), the platform (if
/// configured), and the served tenants.
pub(crate) fn desired(config: &Arc<CollectionConfig>, tenants: &[Tenant]) -> Vec<TargetSpec> {
    let mut specs = Vec::new();
    // The configured company is collected by one replica: shard 1 (every replica fetching its token
    // would invalidate the others', and its series would be exported once per replica).
    let first_shard = config.platform.as_ref().is_none_or(|p| p.shard.number() == 1);
    if first_shard && (config.credentials.is_some() || !config.sections.is_empty()) {
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
        sections: crate::sources::Sections::default(),
        platform: None,
        // A tenant's app id and key are those the platform lists.
        origins: crate::sources::Origins::tenant(),
        ..config.clone()
    }
}

/// Reconciles `targets` with the config and every new list of tenants discovery publishes, each
/// time either changes (a reload, a discovery), until a sender goes.
pub(crate) async fn follow(
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
