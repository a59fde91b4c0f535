//! Tenant health: one entry per problem a tenant admin must act on.
//!
//! - a connection (tenant- or member-level) that needs re-authorisation;
//! - a connection whose provider keeps failing (three or more failures in a row);
//! - HubSpot's per-member rule (PRODUCT.md 4.1): once HubSpot is in use by a tenant, activity
//!   reaches HubSpot only for members connected personally, so every member without an active
//!   personal connection gets the warning the deal room shows, in the tenant's language. "In
//!   use" means the tenant or any member has a HubSpot connection. Besides the registered
//!   members, every member named by a deal-room delivery skipped as `member_not_connected`
//!   (`recipes::deal_room`) gets it, once, until that member connects: an event's member need
//!   not be registered, and the host app must still learn that their activity is not written.

use std::collections::HashSet;

use renkei_connectors::Provider;
use renkei_core::TenantId;
use renkei_store::connections::Connection;
use serde::Serialize;

use crate::vault::{Vault, VaultError};

/// Failures in a row after which a provider counts as failing.
pub const FAILING_AFTER: i64 = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthEntry {
    /// `error` (nothing works until someone acts) or `warning`.
    pub severity: &'static str,
    /// `needs_reauth`, `provider_failing`, `tenant_not_connected`, `member_not_connected`.
    pub code: &'static str,
    pub provider: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// For people, in the tenant's language.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

fn ja(locale: &str) -> bool {
    locale != "en"
}

/// PRODUCT.md 4.1's warning, word for word in Japanese.
pub fn hubspot_not_connected_text(locale: &str) -> &'static str {
    if ja(locale) {
        "HubSpot連携が完了していないため、ルームでの活動がHubSpot連携されません"
    } else {
        "HubSpot is not connected, so activity in rooms is not synced to HubSpot"
    }
}

fn display(provider: &str) -> &str {
    Provider::parse(provider).map_or(provider, |p| p.info().display_name)
}

fn connection_entries(c: &Connection, locale: &str, out: &mut Vec<HealthEntry>) {
    let member = c.member_id.as_ref().map(|m| m.as_str().to_owned());
    let name = display(&c.provider);
    if c.status == "needs_reauth" {
        out.push(HealthEntry {
            severity: "error",
            code: "needs_reauth",
            provider: c.provider.clone(),
            member,
            message: if ja(locale) {
                format!("{name}の接続が切れています。もう一度接続してください。")
            } else {
                format!("The {name} connection has stopped working. Connect it again.")
            },
            reason: c.status_reason.clone(),
            since: c.last_error_at.map(|m| m.to_rfc3339()),
        });
    } else if c.failure_count >= FAILING_AFTER {
        out.push(HealthEntry {
            severity: "warning",
            code: "provider_failing",
            provider: c.provider.clone(),
            member,
            message: if ja(locale) {
                format!(
                    "{name}との通信が続けて失敗しています({}回)。",
                    c.failure_count
                )
            } else {
                format!(
                    "Calls to {name} keep failing ({} in a row).",
                    c.failure_count
                )
            },
            reason: c.last_error.clone(),
            since: c.last_error_at.map(|m| m.to_rfc3339()),
        });
    }
}

/// The problems of a tenant.
pub async fn tenant_health(
    vault: &Vault,
    tenant: &TenantId,
    locale: &str,
) -> Result<Vec<HealthEntry>, VaultError> {
    let store = vault.store();
    let connections = store.list_connections(tenant).await?;
    let mut out = Vec::new();
    for c in &connections {
        connection_entries(c, locale, &mut out);
    }
    let hubspot = Provider::Hubspot.as_str();
    let uses_hubspot = connections.iter().any(|c| c.provider == hubspot);
    if uses_hubspot {
        let tenant_connected = connections
            .iter()
            .any(|c| c.provider == hubspot && c.member_id.is_none() && c.status == "active");
        if !tenant_connected
            && !connections
                .iter()
                .any(|c| c.provider == hubspot && c.member_id.is_none())
        {
            out.push(HealthEntry {
                severity: "error",
                code: "tenant_not_connected",
                provider: hubspot.into(),
                member: None,
                message: hubspot_not_connected_text(locale).into(),
                reason: None,
                since: None,
            });
        }
        let connected: HashSet<&str> = connections
            .iter()
            .filter(|c| c.provider == hubspot && c.status == "active")
            .filter_map(|c| c.member_id.as_ref().map(|m| m.as_str()))
            .collect();
        let reauth: HashSet<&str> = connections
            .iter()
            .filter(|c| c.provider == hubspot && c.status != "active")
            .filter_map(|c| c.member_id.as_ref().map(|m| m.as_str()))
            .collect();
        let warn = |id: &str, out: &mut Vec<HealthEntry>| {
            out.push(HealthEntry {
                severity: "warning",
                code: "member_not_connected",
                provider: hubspot.into(),
                member: Some(id.to_owned()),
                message: hubspot_not_connected_text(locale).into(),
                reason: None,
                since: None,
            });
        };
        let mut warned: HashSet<String> = HashSet::new();
        let mut after: Option<String> = None;
        loop {
            let page = store.list_members(tenant, after.as_deref(), 500).await?;
            let n = page.len();
            for m in page {
                let id = m.id.as_str();
                // A member whose connection needs re-auth already has its entry.
                if !connected.contains(id) && !reauth.contains(id) {
                    warn(id, &mut out);
                    warned.insert(id.to_owned());
                }
                after = Some(id.to_owned());
            }
            if n < 500 {
                break;
            }
        }
        let tenant_level = connections
            .iter()
            .filter(|c| c.provider == hubspot && c.member_id.is_none());
        for c in tenant_level {
            let skipped = store
                .skipped_members(tenant, c.id, "member_not_connected")
                .await?;
            for (m, _) in skipped {
                let id = m.as_str();
                if !connected.contains(id) && !reauth.contains(id) && warned.insert(id.to_owned()) {
                    warn(id, &mut out);
                }
            }
        }
    }
    Ok(out)
}
