//! Tenants and their members.

use crate::{DbRow, Store, StoreError, decode_err, on_pool};
use renkei_core::{EmailAddress, MemberId, Millis, TenantId};

/// A tenant's settings (PRODUCT.md 5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub display_name: String,
    /// ISO 3166 region used to read local phone numbers, e.g. `JP`.
    pub default_region: String,
    /// `ja` or `en`.
    pub locale: String,
    /// An IANA time zone, e.g. `Asia/Tokyo`.
    pub time_zone: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub tenant_id: TenantId,
    pub id: MemberId,
    pub email: EmailAddress,
    pub display_name: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

fn tenant_from_row(row: &impl DbRow) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: TenantId::parse(&row.text("id")?).map_err(|e| decode_err("tenants.id", e))?,
        display_name: row.text("display_name")?,
        default_region: row.text("default_region")?,
        locale: row.text("locale")?,
        time_zone: row.text("time_zone")?,
        created_at: Millis(row.int("created_at")?),
        updated_at: Millis(row.int("updated_at")?),
    })
}

fn member_from_row(row: &impl DbRow) -> Result<Member, StoreError> {
    Ok(Member {
        tenant_id: TenantId::parse(&row.text("tenant_id")?)
            .map_err(|e| decode_err("members.tenant_id", e))?,
        id: MemberId::parse(&row.text("id")?).map_err(|e| decode_err("members.id", e))?,
        email: EmailAddress::parse(&row.text("email")?)
            .map_err(|e| decode_err("members.email", e))?,
        display_name: row.text("display_name")?,
        created_at: Millis(row.int("created_at")?),
        updated_at: Millis(row.int("updated_at")?),
    })
}

const TENANT_COLUMNS: &str =
    "id, display_name, default_region, locale, time_zone, created_at, updated_at";
const MEMBER_COLUMNS: &str = "tenant_id, id, email, display_name, created_at, updated_at";

impl Store {
    /// Creates or replaces a tenant's settings. Returns the stored tenant and whether it was
    /// created by this call.
    pub async fn put_tenant(
        &self,
        id: &TenantId,
        display_name: &str,
        default_region: &str,
        locale: &str,
        time_zone: &str,
        now: Millis,
    ) -> Result<(Tenant, bool), StoreError> {
        // `created_at = updated_at` identifies a row this statement inserted: an update always
        // sets `updated_at` to `now` while keeping the original `created_at`, and `now` only
        // equals it when the two writes happen in the same millisecond, which for a settings
        // call is harmless to report as "created".
        let sql = format!(
            "INSERT INTO tenants ({TENANT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $6)
             ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name,
                 default_region = excluded.default_region, locale = excluded.locale,
                 time_zone = excluded.time_zone, updated_at = excluded.updated_at
             RETURNING {TENANT_COLUMNS}"
        );
        let tenant = on_pool!(self, write, |pool| {
            let row = sqlx::query(&sql)
                .bind(id.as_str())
                .bind(display_name)
                .bind(default_region)
                .bind(locale)
                .bind(time_zone)
                .bind(now.0)
                .fetch_one(pool)
                .await?;
            tenant_from_row(&row)?
        });
        let created = tenant.created_at == tenant.updated_at;
        Ok((tenant, created))
    }

    pub async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1");
        on_pool!(self, read, |pool| {
            let row = sqlx::query(&sql)
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(tenant_from_row).transpose()
        })
    }

    pub async fn tenant_exists(&self, id: &TenantId) -> Result<bool, StoreError> {
        on_pool!(self, read, |pool| {
            let row = sqlx::query("SELECT 1 FROM tenants WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?;
            Ok(row.is_some())
        })
    }

    /// Which of `ids` exist.
    pub async fn existing_tenants(&self, ids: &[&TenantId]) -> Result<Vec<TenantId>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let params: Vec<String> = (1..=ids.len()).map(|n| format!("${n}")).collect();
        let sql = format!("SELECT id FROM tenants WHERE id IN ({})", params.join(", "));
        on_pool!(self, read, |pool| {
            let mut q = sqlx::query(&sql);
            for id in ids {
                q = q.bind(id.as_str());
            }
            let rows = q.fetch_all(pool).await?;
            rows.iter()
                .map(|r| TenantId::parse(&r.text("id")?).map_err(|e| decode_err("tenants.id", e)))
                .collect()
        })
    }

    /// Creates or replaces a member. Returns the member and whether it was created.
    pub async fn put_member(
        &self,
        tenant: &TenantId,
        id: &MemberId,
        email: &EmailAddress,
        display_name: &str,
        now: Millis,
    ) -> Result<(Member, bool), StoreError> {
        let sql = format!(
            "INSERT INTO members ({MEMBER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $5)
             ON CONFLICT (tenant_id, id) DO UPDATE SET email = excluded.email,
                 display_name = excluded.display_name, updated_at = excluded.updated_at
             RETURNING {MEMBER_COLUMNS}"
        );
        let member = on_pool!(self, write, |pool| {
            let row = sqlx::query(&sql)
                .bind(tenant.as_str())
                .bind(id.as_str())
                .bind(email.as_str())
                .bind(display_name)
                .bind(now.0)
                .fetch_one(pool)
                .await?;
            member_from_row(&row)?
        });
        let created = member.created_at == member.updated_at;
        Ok((member, created))
    }

    pub async fn get_member(
        &self,
        tenant: &TenantId,
        id: &MemberId,
    ) -> Result<Option<Member>, StoreError> {
        let sql = format!("SELECT {MEMBER_COLUMNS} FROM members WHERE tenant_id = $1 AND id = $2");
        on_pool!(self, read, |pool| {
            let row = sqlx::query(&sql)
                .bind(tenant.as_str())
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(member_from_row).transpose()
        })
    }

    /// Deletes a member; `false` when there was none.
    pub async fn delete_member(
        &self,
        tenant: &TenantId,
        id: &MemberId,
    ) -> Result<bool, StoreError> {
        on_pool!(self, write, |pool| {
            let done = sqlx::query("DELETE FROM members WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.as_str())
                .bind(id.as_str())
                .execute(pool)
                .await?;
            Ok(done.rows_affected() > 0)
        })
    }

    /// Members ordered by id, after `after` (a keyset cursor), at most `limit`.
    pub async fn list_members(
        &self,
        tenant: &TenantId,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Member>, StoreError> {
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM members WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        );
        on_pool!(self, read, |pool| {
            let rows = sqlx::query(&sql)
                .bind(tenant.as_str())
                .bind(after.unwrap_or(""))
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(member_from_row).collect()
        })
    }
}
