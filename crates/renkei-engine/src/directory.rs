//! CRM users and members: who in the provider account is which member of the tenant.
//!
//! A member is paired with a provider user by a manual mapping (`PUT user-mappings`), which
//! wins, else by email (case-insensitive). The owner of a member's writes is that user, else
//! the user who connected the tenant.

use std::collections::HashMap;
use std::sync::Arc;

use renkei_connectors::{CrmUser, Provider};
use renkei_core::{MemberId, TenantId};
use serde::Serialize;

use crate::vault::{Target, Vault, VaultError};

/// How a member was paired with a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    Mapping,
    Email,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserMatch {
    #[serde(flatten)]
    pub user: CrmUser,
    pub member: Option<String>,
    pub matched_by: Option<MatchedBy>,
}

/// Where a member's owner comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerSource {
    Mapping,
    Email,
    ConnectingUser,
}

async fn member_emails(
    vault: &Vault,
    tenant: &TenantId,
) -> Result<Vec<(MemberId, String)>, VaultError> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = vault
            .store()
            .list_members(tenant, after.as_deref(), 500)
            .await?;
        let n = page.len();
        for m in page {
            after = Some(m.id.as_str().to_owned());
            out.push((m.id, m.email.as_str().to_lowercase()));
        }
        if n < 500 {
            break;
        }
    }
    Ok(out)
}

/// The provider's users with the member each is paired with. `fresh` lists them at the
/// provider (the admin's screen); otherwise a listing of the last minute may serve (owner
/// lookups, once per write).
pub async fn users_with_members(
    vault: &Vault,
    tenant: &TenantId,
    provider: Provider,
    fresh: bool,
) -> Result<Vec<UserMatch>, VaultError> {
    let users = match vault.cached_users(tenant, provider).filter(|_| !fresh) {
        Some(users) => users,
        None => {
            let target = Target::tenant(tenant, provider);
            let users = Arc::new(
                vault
                    .call(&target, |a| async move {
                        vault.connectors().list_users(a.provider, a.session()).await
                    })
                    .await?,
            );
            vault.remember_users(tenant, provider, users.clone());
            users
        }
    };
    let members = member_emails(vault, tenant).await?;
    let by_email: HashMap<&str, &MemberId> =
        members.iter().map(|(id, e)| (e.as_str(), id)).collect();
    let mappings: HashMap<String, MemberId> = vault
        .store()
        .list_user_mappings(tenant)
        .await?
        .into_iter()
        .filter(|(_, p, _)| p == provider.as_str())
        .map(|(m, _, u)| (u, m))
        .collect();
    let mapped_members: std::collections::HashSet<&MemberId> = mappings.values().collect();
    Ok(users
        .iter()
        .cloned()
        .map(|u| {
            if let Some(m) = mappings.get(&u.id) {
                return UserMatch {
                    member: Some(m.as_str().to_owned()),
                    matched_by: Some(MatchedBy::Mapping),
                    user: u,
                };
            }
            // A member with a manual mapping is no longer matched by email elsewhere.
            let by_mail = u
                .email
                .as_deref()
                .map(str::to_lowercase)
                .and_then(|e| by_email.get(e.as_str()).copied())
                .filter(|m| !mapped_members.contains(m));
            UserMatch {
                member: by_mail.map(|m| m.as_str().to_owned()),
                matched_by: by_mail.map(|_| MatchedBy::Email),
                user: u,
            }
        })
        .collect())
}

/// The provider user a member's writes are owned by.
pub async fn owner_for(
    vault: &Vault,
    tenant: &TenantId,
    provider: Provider,
    member: &MemberId,
) -> Result<Option<(String, OwnerSource)>, VaultError> {
    let mapped = vault
        .store()
        .list_user_mappings(tenant)
        .await?
        .into_iter()
        .find(|(m, p, _)| m == member && p == provider.as_str());
    if let Some((_, _, user)) = mapped {
        return Ok(Some((user, OwnerSource::Mapping)));
    }
    let users = users_with_members(vault, tenant, provider, false).await?;
    if let Some(u) = users
        .iter()
        .find(|u| u.member.as_deref() == Some(member.as_str()))
    {
        return Ok(Some((u.user.id.clone(), OwnerSource::Email)));
    }
    let Some(conn) = vault
        .store()
        .get_connection(Target::tenant(tenant, provider).key())
        .await?
    else {
        return Ok(None);
    };
    let identity: renkei_connectors::AccountIdentity =
        serde_json::from_str(&conn.identity).unwrap_or_default();
    // HubSpot owners have ids of their own, distinct from user ids: the connecting user's
    // owner is found by email. Salesforce and Zoho records are owned by user ids.
    let by_email = identity.user_email.as_deref().and_then(|e| {
        users.iter().find(|u| {
            u.user
                .email
                .as_deref()
                .is_some_and(|x| x.eq_ignore_ascii_case(e))
        })
    });
    let id = match (provider, by_email) {
        (_, Some(u)) => Some(u.user.id.clone()),
        (Provider::Hubspot, None) => None,
        (_, None) => Some(identity.user_id).filter(|u| !u.is_empty()),
    };
    Ok(id.map(|id| (id, OwnerSource::ConnectingUser)))
}
