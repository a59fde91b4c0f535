//! Connections, their sealed credentials, the connect flow's one-time records, and user
//! mappings.
//!
//! One row per (tenant, provider, member) — `member_id` is `''` for a tenant-level
//! connection. Credentials are encrypted with the [`Keyring`] under an AAD naming that row
//! before they reach the database; the provider metadata beside them (`meta`, `identity`) is
//! not secret and stays readable. `version` grows with every credential write, which is how a
//! refresh detects that another process refreshed first; `refresh_owner`/`refresh_until` is
//! the lease that lets one process at a time refresh a connection.
//!
//! The connect flow's records: `connect_sessions` (the one-time link; only the SHA-256 of its
//! token is stored) and `oauth_states` (one per trip to the provider: single use, expiring,
//! its PKCE verifier and any tenant-supplied client sealed).

use renkei_core::{Keyring, MemberId, Millis, Secret, TenantId};

use crate::{DbRow, Store, StoreError, decode_err, on_pool};

/// Names a connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionKey<'a> {
    pub tenant: &'a TenantId,
    pub provider: &'a str,
    pub member: Option<&'a MemberId>,
}

impl ConnectionKey<'_> {
    fn member_str(&self) -> &str {
        self.member.map_or("", MemberId::as_str)
    }

    /// The additional authenticated data binding a ciphertext to its row.
    fn aad(&self) -> String {
        format!(
            "connection:{}:{}:{}",
            self.tenant,
            self.provider,
            self.member_str()
        )
    }
}

/// A stored connection, without its credentials.
#[derive(Debug, Clone)]
pub struct Connection {
    pub id: i64,
    pub tenant_id: TenantId,
    pub member_id: Option<MemberId>,
    pub provider: String,
    /// `active`, `needs_reauth` or `disabled`.
    pub status: String,
    pub status_reason: Option<String>,
    pub account_id: Option<String>,
    pub account_name: Option<String>,
    /// JSON: who consented and what account (the connector's `AccountIdentity`).
    pub identity: String,
    /// JSON: provider metadata kept across refreshes (the connector's `GrantMeta`).
    pub meta: String,
    /// Space-separated granted scopes.
    pub scopes: String,
    /// JSON object: recipe settings.
    pub settings: String,
    pub connected_by: Option<String>,
    pub connected_at: Option<Millis>,
    pub last_used_at: Option<Millis>,
    pub last_refreshed_at: Option<Millis>,
    pub token_expires_at: Option<Millis>,
    pub last_error: Option<String>,
    pub last_error_code: Option<String>,
    pub last_error_at: Option<Millis>,
    pub failure_count: i64,
    pub version: i64,
    pub refresh_owner: Option<String>,
    pub refresh_until: Option<Millis>,
    pub key_id: String,
    pub created_at: Millis,
    pub updated_at: Millis,
    sealed: Vec<u8>,
}

/// How often a connection's use is recorded at most ([`Store::touch_connection`]).
pub const TOUCH_INTERVAL_MS: i64 = 60_000;

impl Connection {
    /// Whether a call that succeeded at `now` has anything to record: the last recorded use is
    /// older than [`TOUCH_INTERVAL_MS`], or a failure streak is to end. The same test as
    /// [`Store::touch_connection`]'s, on the row as read before the call.
    pub fn touch_due(&self, now: Millis) -> bool {
        self.failure_count > 0
            || self
                .last_used_at
                .is_none_or(|t| t.0 < now.0 - TOUCH_INTERVAL_MS)
    }

    pub fn key(&self) -> ConnectionKey<'_> {
        ConnectionKey {
            tenant: &self.tenant_id,
            provider: &self.provider,
            member: self.member_id.as_ref(),
        }
    }

    /// Opens the sealed credentials.
    pub fn open(&self, keyring: &Keyring) -> Result<Secret<Vec<u8>>, StoreError> {
        Ok(Secret::new(
            keyring.decrypt(&self.sealed, &self.key().aad())?,
        ))
    }
}

const COLUMNS: &str = "id, tenant_id, member_id, provider, status, status_reason, account_id,
    account_name, identity, meta, scopes, settings, connected_by, connected_at, last_used_at,
    last_refreshed_at, token_expires_at, last_error, last_error_code, last_error_at,
    failure_count, version, refresh_owner, refresh_until, key_id, created_at, updated_at,
    credentials";

fn millis(v: Option<i64>) -> Option<Millis> {
    v.map(Millis)
}

fn from_row(r: &impl DbRow) -> Result<Connection, StoreError> {
    let member = r.text("member_id")?;
    Ok(Connection {
        id: r.int("id")?,
        tenant_id: TenantId::parse(&r.text("tenant_id")?)
            .map_err(|e| decode_err("connections.tenant_id", e))?,
        member_id: if member.is_empty() {
            None
        } else {
            Some(MemberId::parse(&member).map_err(|e| decode_err("connections.member_id", e))?)
        },
        provider: r.text("provider")?,
        status: r.text("status")?,
        status_reason: r.opt_text("status_reason")?,
        account_id: r.opt_text("account_id")?,
        account_name: r.opt_text("account_name")?,
        identity: r.text("identity")?,
        meta: r.text("meta")?,
        scopes: r.text("scopes")?,
        settings: r.text("settings")?,
        connected_by: r.opt_text("connected_by")?,
        connected_at: millis(r.opt_int("connected_at")?),
        last_used_at: millis(r.opt_int("last_used_at")?),
        last_refreshed_at: millis(r.opt_int("last_refreshed_at")?),
        token_expires_at: millis(r.opt_int("token_expires_at")?),
        last_error: r.opt_text("last_error")?,
        last_error_code: r.opt_text("last_error_code")?,
        last_error_at: millis(r.opt_int("last_error_at")?),
        failure_count: r.int("failure_count")?,
        version: r.int("version")?,
        refresh_owner: r.opt_text("refresh_owner")?,
        refresh_until: millis(r.opt_int("refresh_until")?),
        key_id: r.text("key_id")?,
        created_at: Millis(r.int("created_at")?),
        updated_at: Millis(r.int("updated_at")?),
        sealed: r.bytes("credentials")?,
    })
}

/// What a completed connect (or a token import) writes.
#[derive(Debug)]
pub struct NewGrant<'a> {
    pub key: ConnectionKey<'a>,
    pub account_id: &'a str,
    pub account_name: &'a str,
    pub identity: &'a str,
    pub meta: &'a str,
    pub scopes: &'a str,
    pub credentials: &'a Secret<Vec<u8>>,
    pub token_expires_at: Option<Millis>,
    pub connected_by: Option<&'a str>,
    pub now: Millis,
}

/// What a refresh writes.
#[derive(Debug)]
pub struct Refreshed<'a> {
    pub credentials: &'a Secret<Vec<u8>>,
    pub meta: &'a str,
    pub scopes: Option<&'a str>,
    pub token_expires_at: Option<Millis>,
    pub now: Millis,
}

/// A one-time link to the connect page.
#[derive(Debug, Clone)]
pub struct ConnectSession {
    /// SHA-256 (hex) of the token in the link.
    pub id: String,
    pub tenant_id: TenantId,
    pub member_id: Option<MemberId>,
    pub provider: String,
    pub return_url: Option<String>,
    pub created_by: Option<String>,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub completed_at: Option<Millis>,
}

/// An OAuth `state` in flight.
#[derive(Debug, Clone)]
pub struct OAuthState {
    /// The random nonce the signed `state` carries.
    pub id: String,
    pub session_id: String,
    pub tenant_id: TenantId,
    pub member_id: Option<MemberId>,
    pub provider: String,
    pub switch_account: bool,
    pub data_centre: Option<String>,
    pub created_at: Millis,
    pub expires_at: Millis,
}

/// What looking up a `state` found. Every case but `Valid` is a refusal with its own reason.
#[derive(Debug)]
pub enum StateLookup {
    Valid(OAuthState, Secret<Vec<u8>>),
    Unknown,
    AlreadyUsed,
    Expired,
}

fn opt_member(s: String, what: &str) -> Result<Option<MemberId>, StoreError> {
    if s.is_empty() {
        Ok(None)
    } else {
        MemberId::parse(&s)
            .map(Some)
            .map_err(|e| decode_err(what, e))
    }
}

impl Store {
    /// Stores a fresh grant: creates the connection, or replaces the credentials of the
    /// existing one while keeping its id, settings and creation time (a reconnect). The
    /// status becomes `active` and the error state is cleared.
    pub async fn put_grant(
        &self,
        keyring: &Keyring,
        g: &NewGrant<'_>,
    ) -> Result<Connection, StoreError> {
        let sealed = keyring.encrypt(g.credentials.expose(), &g.key.aad())?;
        let sql = format!(
            "INSERT INTO connections (tenant_id, member_id, provider, status, account_id,
                 account_name, identity, meta, scopes, credentials, key_id, settings, connected_by,
                 connected_at, last_refreshed_at, token_expires_at, version, created_at, updated_at)
             VALUES ($1, $2, $3, 'active', $4, $5, $6, $7, $8, $9, $10, '{{}}', $11, $12, $12, $13,
                 1, $12, $12)
             ON CONFLICT (tenant_id, provider, member_id) DO UPDATE SET
                 status = 'active', status_reason = NULL, account_id = excluded.account_id,
                 account_name = excluded.account_name, identity = excluded.identity,
                 meta = excluded.meta, scopes = excluded.scopes,
                 credentials = excluded.credentials, key_id = excluded.key_id,
                 connected_by = excluded.connected_by, connected_at = excluded.connected_at,
                 last_refreshed_at = excluded.last_refreshed_at,
                 token_expires_at = excluded.token_expires_at, last_error = NULL,
                 last_error_code = NULL, last_error_at = NULL, failure_count = 0,
                 version = connections.version + 1, refresh_owner = NULL, refresh_until = NULL,
                 updated_at = excluded.updated_at
             RETURNING {COLUMNS}"
        );
        on_pool!(self, write, |pool| {
            let row = sqlx::query(&sql)
                .bind(g.key.tenant.as_str())
                .bind(g.key.member_str())
                .bind(g.key.provider)
                .bind(g.account_id)
                .bind(g.account_name)
                .bind(g.identity)
                .bind(g.meta)
                .bind(g.scopes)
                .bind(&sealed)
                .bind(keyring.primary_key_id())
                .bind(g.connected_by)
                .bind(g.now.0)
                .bind(g.token_expires_at.map(|m| m.0))
                .fetch_one(pool)
                .await?;
            from_row(&row)
        })
    }

    pub async fn get_connection(
        &self,
        key: ConnectionKey<'_>,
    ) -> Result<Option<Connection>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM connections
             WHERE tenant_id = $1 AND provider = $2 AND member_id = $3"
        );
        on_pool!(self, read, |pool| {
            let row = sqlx::query(&sql)
                .bind(key.tenant.as_str())
                .bind(key.provider)
                .bind(key.member_str())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(from_row).transpose()
        })
    }

    /// Reads a connection from the writer (SQLite) so that a caller who just lost a race sees
    /// the winner's write.
    pub async fn get_connection_fresh(&self, id: i64) -> Result<Option<Connection>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM connections WHERE id = $1");
        on_pool!(self, write, |pool| {
            let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(from_row).transpose()
        })
    }

    /// Every connection of a tenant (tenant-level first, then members'), by provider.
    /// Every tenant-level connection to `provider`'s account `account_id`, whatever the
    /// tenant (a provider's webhook names the account, not the tenant).
    pub async fn connections_by_account(
        &self,
        provider: &str,
        account_id: &str,
    ) -> Result<Vec<Connection>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM connections
             WHERE provider = $1 AND account_id = $2 AND member_id = '' ORDER BY id"
        );
        on_pool!(self, read, |pool| {
            let rows = sqlx::query(&sql)
                .bind(provider)
                .bind(account_id)
                .fetch_all(pool)
                .await?;
            rows.iter().map(from_row).collect()
        })
    }

    pub async fn list_connections(&self, tenant: &TenantId) -> Result<Vec<Connection>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM connections WHERE tenant_id = $1
             ORDER BY member_id, provider"
        );
        on_pool!(self, read, |pool| {
            let rows = sqlx::query(&sql)
                .bind(tenant.as_str())
                .fetch_all(pool)
                .await?;
            rows.iter().map(from_row).collect()
        })
    }

    /// Writes refreshed credentials if nobody else wrote since `expected_version`; `None`
    /// when someone did (the caller re-reads and uses theirs). Clears the refresh lease and
    /// the error state in the same statement, so a crash can never leave new tokens unsaved
    /// while the old ones are already spent.
    pub async fn save_refreshed(
        &self,
        keyring: &Keyring,
        conn: &Connection,
        r: &Refreshed<'_>,
    ) -> Result<Option<Connection>, StoreError> {
        let sealed = keyring.encrypt(r.credentials.expose(), &conn.key().aad())?;
        let sql = format!(
            "UPDATE connections SET credentials = $1, key_id = $2, meta = $3,
                 scopes = COALESCE($4, scopes), token_expires_at = $5, last_refreshed_at = $6,
                 updated_at = $6, version = version + 1, refresh_owner = NULL,
                 refresh_until = NULL, last_error = NULL, last_error_code = NULL,
                 last_error_at = NULL, failure_count = 0
             WHERE id = $7 AND version = $8
             RETURNING {COLUMNS}"
        );
        on_pool!(self, write, |pool| {
            let row = sqlx::query(&sql)
                .bind(&sealed)
                .bind(keyring.primary_key_id())
                .bind(r.meta)
                .bind(r.scopes)
                .bind(r.token_expires_at.map(|m| m.0))
                .bind(r.now.0)
                .bind(conn.id)
                .bind(conn.version)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(from_row).transpose()
        })
    }

    /// Takes the refresh lease of a connection until `until`; `false` while another owner
    /// holds an unexpired one, and also when the credentials are no longer at `version` (a
    /// refresh landed since the caller read them, so there is nothing left to refresh).
    pub async fn try_lock_refresh(
        &self,
        id: i64,
        version: i64,
        owner: &str,
        until: Millis,
        now: Millis,
    ) -> Result<bool, StoreError> {
        on_pool!(self, write, |pool| {
            let done = sqlx::query(
                "UPDATE connections SET refresh_owner = $1, refresh_until = $2
                 WHERE id = $3 AND version = $5 AND (refresh_until IS NULL OR refresh_until < $4
                     OR refresh_owner = $1)",
            )
            .bind(owner)
            .bind(until.0)
            .bind(id)
            .bind(now.0)
            .bind(version)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    pub async fn unlock_refresh(&self, id: i64, owner: &str) -> Result<(), StoreError> {
        on_pool!(self, write, |pool| {
            sqlx::query(
                "UPDATE connections SET refresh_owner = NULL, refresh_until = NULL
                 WHERE id = $1 AND refresh_owner = $2",
            )
            .bind(id)
            .bind(owner)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// The grant is gone: only a new consent helps.
    pub async fn mark_needs_reauth(
        &self,
        id: i64,
        code: &str,
        reason: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        on_pool!(self, write, |pool| {
            sqlx::query(
                "UPDATE connections SET status = 'needs_reauth', status_reason = $1,
                     last_error = $1, last_error_code = $2, last_error_at = $3,
                     failure_count = failure_count + 1, refresh_owner = NULL,
                     refresh_until = NULL, updated_at = $3
                 WHERE id = $4",
            )
            .bind(reason)
            .bind(code)
            .bind(now.0)
            .bind(id)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// A failure that does not change the status (a provider outage, a rate limit).
    pub async fn record_connection_error(
        &self,
        id: i64,
        code: &str,
        message: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        on_pool!(self, write, |pool| {
            sqlx::query(
                "UPDATE connections SET last_error = $1, last_error_code = $2, last_error_at = $3,
                     failure_count = failure_count + 1
                 WHERE id = $4",
            )
            .bind(message)
            .bind(code)
            .bind(now.0)
            .bind(id)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// A call succeeded: records the use and ends a failure streak. The use is recorded at
    /// most once a minute per connection, so that an import making thousands of calls does
    /// not make as many writes; the keep-alive works in days.
    pub async fn touch_connection(&self, id: i64, now: Millis) -> Result<(), StoreError> {
        on_pool!(self, write, |pool| {
            sqlx::query(
                "UPDATE connections SET last_used_at = $1, failure_count = 0
                 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1 - $3
                     OR failure_count > 0)",
            )
            .bind(now.0)
            .bind(id)
            .bind(TOUCH_INTERVAL_MS)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Replaces a connection's recipe settings (a JSON object, validated by the caller).
    pub async fn set_connection_settings(
        &self,
        id: i64,
        settings: &str,
    ) -> Result<bool, StoreError> {
        on_pool!(self, write, |pool| {
            let done = sqlx::query("UPDATE connections SET settings = $1 WHERE id = $2")
                .bind(settings)
                .bind(id)
                .execute(pool)
                .await?;
            Ok(done.rows_affected() > 0)
        })
    }

    pub async fn delete_connection(&self, id: i64) -> Result<bool, StoreError> {
        on_pool!(self, write, |pool| {
            let done = sqlx::query("DELETE FROM connections WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?;
            Ok(done.rows_affected() > 0)
        })
    }

    /// Active connections neither used nor refreshed since `before`, oldest first.
    pub async fn idle_connections(
        &self,
        before: Millis,
        limit: i64,
    ) -> Result<Vec<Connection>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM connections
             WHERE status = 'active'
               AND COALESCE(last_used_at, 0) < $1
               AND COALESCE(last_refreshed_at, connected_at, created_at) < $1
             ORDER BY COALESCE(last_refreshed_at, connected_at, created_at), id
             LIMIT $2"
        );
        on_pool!(self, read, |pool| {
            let rows = sqlx::query(&sql)
                .bind(before.0)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(from_row).collect()
        })
    }

    pub async fn create_connect_session(&self, s: &ConnectSession) -> Result<(), StoreError> {
        on_pool!(self, write, |pool| {
            sqlx::query(
                "INSERT INTO connect_sessions (id, tenant_id, member_id, provider, return_url,
                     created_by, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&s.id)
            .bind(s.tenant_id.as_str())
            .bind(s.member_id.as_ref().map_or("", MemberId::as_str))
            .bind(&s.provider)
            .bind(&s.return_url)
            .bind(&s.created_by)
            .bind(s.created_at.0)
            .bind(s.expires_at.0)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    pub async fn get_connect_session(
        &self,
        id: &str,
    ) -> Result<Option<ConnectSession>, StoreError> {
        on_pool!(self, read, |pool| {
            let row = sqlx::query(
                "SELECT id, tenant_id, member_id, provider, return_url, created_by, created_at,
                     expires_at, completed_at
                 FROM connect_sessions WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?;
            match row {
                None => Ok(None),
                Some(r) => Ok(Some(ConnectSession {
                    id: r.text("id")?,
                    tenant_id: TenantId::parse(&r.text("tenant_id")?)
                        .map_err(|e| decode_err("connect_sessions.tenant_id", e))?,
                    member_id: opt_member(r.text("member_id")?, "connect_sessions.member_id")?,
                    provider: r.text("provider")?,
                    return_url: r.opt_text("return_url")?,
                    created_by: r.opt_text("created_by")?,
                    created_at: Millis(r.int("created_at")?),
                    expires_at: Millis(r.int("expires_at")?),
                    completed_at: millis(r.opt_int("completed_at")?),
                })),
            }
        })
    }

    /// Ends a connect link: it opens nothing any more.
    pub async fn complete_connect_session(&self, id: &str, now: Millis) -> Result<(), StoreError> {
        on_pool!(self, write, |pool| {
            sqlx::query(
                "UPDATE connect_sessions SET completed_at = $1
                 WHERE id = $2 AND completed_at IS NULL",
            )
            .bind(now.0)
            .bind(id)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    pub async fn insert_oauth_state(
        &self,
        keyring: &Keyring,
        s: &OAuthState,
        secrets: &Secret<Vec<u8>>,
    ) -> Result<(), StoreError> {
        let sealed = keyring.encrypt(secrets.expose(), &format!("oauth_state:{}", s.id))?;
        on_pool!(self, write, |pool| {
            sqlx::query(
                "INSERT INTO oauth_states (id, session_id, tenant_id, member_id, provider,
                     switch_account, data_centre, sealed, key_id, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(&s.id)
            .bind(&s.session_id)
            .bind(s.tenant_id.as_str())
            .bind(s.member_id.as_ref().map_or("", MemberId::as_str))
            .bind(&s.provider)
            .bind(i64::from(s.switch_account))
            .bind(&s.data_centre)
            .bind(&sealed)
            .bind(keyring.primary_key_id())
            .bind(s.created_at.0)
            .bind(s.expires_at.0)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Uses up a `state`: the first caller gets it (if unexpired), every later one
    /// `AlreadyUsed`. The consumption is one conditional UPDATE, so two callbacks racing with
    /// the same `state` cannot both win.
    pub async fn consume_oauth_state(
        &self,
        keyring: &Keyring,
        id: &str,
        now: Millis,
    ) -> Result<StateLookup, StoreError> {
        let row = on_pool!(self, write, |pool| {
            let row = sqlx::query(
                "UPDATE oauth_states SET consumed_at = $1 WHERE id = $2 AND consumed_at IS NULL
                 RETURNING id, session_id, tenant_id, member_id, provider, switch_account,
                     data_centre, sealed, created_at, expires_at",
            )
            .bind(now.0)
            .bind(id)
            .fetch_optional(pool)
            .await?;
            match row {
                None => None,
                Some(r) => Some((
                    OAuthState {
                        id: r.text("id")?,
                        session_id: r.text("session_id")?,
                        tenant_id: TenantId::parse(&r.text("tenant_id")?)
                            .map_err(|e| decode_err("oauth_states.tenant_id", e))?,
                        member_id: opt_member(r.text("member_id")?, "oauth_states.member_id")?,
                        provider: r.text("provider")?,
                        switch_account: r.int("switch_account")? != 0,
                        data_centre: r.opt_text("data_centre")?,
                        created_at: Millis(r.int("created_at")?),
                        expires_at: Millis(r.int("expires_at")?),
                    },
                    r.bytes("sealed")?,
                )),
            }
        });
        let Some((state, sealed)) = row else {
            let exists = on_pool!(self, write, |pool| {
                sqlx::query("SELECT 1 AS one FROM oauth_states WHERE id = $1")
                    .bind(id)
                    .fetch_optional(pool)
                    .await?
                    .is_some()
            });
            return Ok(if exists {
                StateLookup::AlreadyUsed
            } else {
                StateLookup::Unknown
            });
        };
        if state.expires_at <= now {
            return Ok(StateLookup::Expired);
        }
        let plain = keyring.decrypt(&sealed, &format!("oauth_state:{}", state.id))?;
        Ok(StateLookup::Valid(state, Secret::new(plain)))
    }

    /// Deletes states and sessions that ended before `before`.
    pub async fn prune_connect_records(&self, before: Millis) -> Result<u64, StoreError> {
        on_pool!(self, write, |pool| {
            let a = sqlx::query("DELETE FROM oauth_states WHERE expires_at < $1")
                .bind(before.0)
                .execute(pool)
                .await?;
            let b = sqlx::query("DELETE FROM connect_sessions WHERE expires_at < $1")
                .bind(before.0)
                .execute(pool)
                .await?;
            Ok(a.rows_affected() + b.rows_affected())
        })
    }

    /// Sets (`Some`) or removes (`None`) a member's manual mapping to a provider user.
    pub async fn set_user_mapping(
        &self,
        tenant: &TenantId,
        member: &MemberId,
        provider: &str,
        user_id: Option<&str>,
        now: Millis,
    ) -> Result<(), StoreError> {
        on_pool!(self, write, |pool| {
            match user_id {
                Some(u) => {
                    sqlx::query(
                        "INSERT INTO user_mappings (tenant_id, member_id, provider, user_id,
                             created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $5)
                         ON CONFLICT (tenant_id, member_id, provider) DO UPDATE SET
                             user_id = excluded.user_id, updated_at = excluded.updated_at",
                    )
                    .bind(tenant.as_str())
                    .bind(member.as_str())
                    .bind(provider)
                    .bind(u)
                    .bind(now.0)
                    .execute(pool)
                    .await?;
                }
                None => {
                    sqlx::query(
                        "DELETE FROM user_mappings
                         WHERE tenant_id = $1 AND member_id = $2 AND provider = $3",
                    )
                    .bind(tenant.as_str())
                    .bind(member.as_str())
                    .bind(provider)
                    .execute(pool)
                    .await?;
                }
            }
            Ok(())
        })
    }

    /// The manual mappings of a tenant, as (member, provider, user id).
    pub async fn list_user_mappings(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(MemberId, String, String)>, StoreError> {
        on_pool!(self, read, |pool| {
            let rows = sqlx::query(
                "SELECT member_id, provider, user_id FROM user_mappings WHERE tenant_id = $1
                 ORDER BY member_id, provider",
            )
            .bind(tenant.as_str())
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok((
                        MemberId::parse(&r.text("member_id")?)
                            .map_err(|e| decode_err("user_mappings.member_id", e))?,
                        r.text("provider")?,
                        r.text("user_id")?,
                    ))
                })
                .collect()
        })
    }
}
