//! renkei's connectors: everything that speaks to a provider, and nothing else.
//!
//! This crate owns the registry of providers ([`registry`]), the one HTTP client they all use
//! ([`http`]), the OAuth pieces they share ([`oauth`]), the shape of stored credentials
//! ([`credentials`]), and one module per provider with the same files in each (`auth`: the
//! token endpoint and identity; `client`: API calls and error classification; `wire`: the
//! provider's JSON; `mapping`: wire to renkei types). It knows nothing of the database or of
//! renkei's HTTP API: callers hand it credentials and typed requests and get typed results or
//! a classified [`ConnectorError`] back. The token lifecycle (when to refresh, locking,
//! persistence) is the engine's; this crate only performs the calls ([`Connectors`]).

pub mod credentials;
pub mod error;
pub mod http;
pub mod hubspot;
pub mod oauth;
pub mod people;
pub mod records;
pub mod registry;
pub mod salesforce;
pub mod sandbox_directory;
pub mod zoho;

use renkei_core::{Millis, Secret};
use url::Url;

pub use credentials::{Credentials, GrantMeta, TokenGrant};
pub use error::ConnectorError;
pub use registry::{OAuthClient, Provider, ProvidersConfig, Registry};

use crate::http::{HttpClient, HttpConfig};
use crate::registry::DataCentre;

/// Who and what a connection reaches, as the provider tells it after the consent.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccountIdentity {
    /// The provider account: HubSpot portal id, Salesforce org id, Zoho org id.
    pub account_id: String,
    /// Its name (HubSpot: the hub domain; Salesforce and Zoho: the company name).
    pub account_name: String,
    /// The user who consented.
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
}

/// A user of the provider account (HubSpot owner, Salesforce User, Zoho user).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CrmUser {
    pub id: String,
    pub email: Option<String>,
    pub name: String,
    pub active: bool,
}

/// What the provider's redirect to the callback carried besides `code` and `state`.
#[derive(Debug, Clone, Default)]
pub struct CallbackParams {
    pub code: String,
    /// Zoho: the data centre's region (`location=jp`).
    pub location: Option<String>,
    /// Zoho: the accounts server that issued the code (`accounts-server=…`).
    pub accounts_server: Option<String>,
}

/// What an authorize URL needs.
pub struct AuthorizeRequest<'a> {
    pub client: &'a OAuthClient,
    pub redirect_uri: &'a str,
    pub state: &'a str,
    pub pkce_challenge: Option<&'a str>,
    /// Zoho: the data centre chosen on the connect page.
    pub data_centre: Option<&'static DataCentre>,
}

/// An authenticated view of a connection for one call.
#[derive(Clone, Copy)]
pub struct Session<'a> {
    pub access_token: &'a Secret<String>,
    pub meta: &'a GrantMeta,
    /// The rate budget the call is paced by (one per provider account, shared by its tenant
    /// and member connections); `None` for one-off calls such as the identity check of a
    /// new grant.
    pub budget: Option<&'a str>,
    /// When the caller stops waiting (an action's deadline, [`Session::until`]); `None`
    /// waits as long as [`HttpConfig::max_retry_wait`] allows.
    pub deadline: Option<std::time::Instant>,
}

impl<'a> Session<'a> {
    /// This session with a deadline: no wait for a rate window, `Retry-After` or backoff
    /// that would end after it.
    pub fn until(self, deadline: std::time::Instant) -> Session<'a> {
        Session {
            deadline: Some(deadline),
            ..self
        }
    }
}

impl Session<'_> {
    /// `req`, paced by this session's budget at the provider's rate. The HTTP client waits
    /// for that pace unless its [`HttpConfig::pacing`] is off (benchmarks against emulators
    /// whose limits are lifted); the budget still keeps the provider's answered windows.
    pub fn paced(&self, provider: Provider, req: http::OutgoingRequest) -> http::OutgoingRequest {
        let req = req.deadline(self.deadline);
        match self.budget {
            Some(key) => {
                let (per_second, burst) = provider.info().rate;
                let nz = |n: u32| std::num::NonZeroU32::new(n.max(1)).expect("at least 1");
                req.budget(http::Budget::new(key, nz(per_second), nz(burst)))
            }
            None => req,
        }
    }
}

/// Calls the provider's `records` function `$f` with the shared client and endpoints first.
macro_rules! records_call {
    ($self:ident, $p:expr, $f:ident ( $($arg:expr),* )) => {{
        let ep = $self.registry.endpoints($p);
        match $p {
            Provider::Hubspot => hubspot::records::$f(&$self.http, ep, $($arg),*).await,
            Provider::Salesforce => salesforce::records::$f(&$self.http, ep, $($arg),*).await,
            Provider::ZohoCrm => zoho::records::$f(&$self.http, ep, $($arg),*).await,
        }
    }};
}

/// Every provider behind one face. The engine calls these; each dispatches to the provider's
/// module.
#[derive(Debug, Clone)]
pub struct Connectors {
    pub http: HttpClient,
    pub registry: Registry,
}

impl Connectors {
    pub fn new(config: &ProvidersConfig, mut http: HttpConfig) -> Result<Self, ConnectorError> {
        for p in Provider::ALL {
            if let Some(rate) = config.get(p).rate {
                http.rates.insert(p.as_str(), rate);
            }
        }
        Ok(Self {
            http: HttpClient::new(http)?,
            registry: Registry::new(config)?,
        })
    }

    /// Where to send the admin to consent.
    pub fn authorize_url(
        &self,
        p: Provider,
        req: &AuthorizeRequest<'_>,
    ) -> Result<Url, ConnectorError> {
        let ep = self.registry.endpoints(p);
        match p {
            Provider::Hubspot => Ok(hubspot::auth::authorize_url(ep, req)),
            Provider::Salesforce => Ok(salesforce::auth::authorize_url(ep, req)),
            Provider::ZohoCrm => zoho::auth::authorize_url(ep, req),
        }
    }

    /// Redeems an authorization code.
    pub async fn exchange_code(
        &self,
        p: Provider,
        client: &OAuthClient,
        callback: &CallbackParams,
        redirect_uri: &str,
        verifier: Option<&Secret<String>>,
        now: Millis,
    ) -> Result<TokenGrant, ConnectorError> {
        let ep = self.registry.endpoints(p);
        match p {
            Provider::Hubspot => {
                hubspot::auth::exchange_code(
                    &self.http,
                    ep,
                    client,
                    callback,
                    redirect_uri,
                    verifier,
                    now,
                )
                .await
            }
            Provider::Salesforce => {
                salesforce::auth::exchange_code(
                    &self.http,
                    ep,
                    client,
                    callback,
                    redirect_uri,
                    verifier,
                    now,
                )
                .await
            }
            Provider::ZohoCrm => {
                zoho::auth::exchange_code(
                    &self.http,
                    ep,
                    client,
                    callback,
                    redirect_uri,
                    verifier,
                    now,
                )
                .await
            }
        }
    }

    /// Gets a new access token with the refresh token. The result carries only what the
    /// provider answered; merge it over the stored grant with [`TokenGrant::merged_over`].
    pub async fn refresh(
        &self,
        p: Provider,
        client: &OAuthClient,
        refresh_token: &Secret<String>,
        meta: &GrantMeta,
        now: Millis,
    ) -> Result<TokenGrant, ConnectorError> {
        let ep = self.registry.endpoints(p);
        match p {
            Provider::Hubspot => {
                hubspot::auth::refresh(&self.http, ep, client, refresh_token, now).await
            }
            Provider::Salesforce => {
                salesforce::auth::refresh(&self.http, ep, client, refresh_token, meta, now).await
            }
            Provider::ZohoCrm => {
                zoho::auth::refresh(&self.http, ep, client, refresh_token, meta, now).await
            }
        }
    }

    /// Revokes the grant at the provider (the refresh token, which takes its access tokens
    /// with it; the access token when there is no refresh token).
    pub async fn revoke(
        &self,
        p: Provider,
        client: Option<&OAuthClient>,
        creds: &Credentials,
        meta: &GrantMeta,
    ) -> Result<(), ConnectorError> {
        let ep = self.registry.endpoints(p);
        match p {
            Provider::Hubspot => hubspot::auth::revoke(&self.http, ep, creds).await,
            Provider::Salesforce => salesforce::auth::revoke(&self.http, ep, creds, meta).await,
            Provider::ZohoCrm => zoho::auth::revoke(&self.http, ep, client, creds, meta).await,
        }
    }

    /// Who the token belongs to.
    pub async fn identity(
        &self,
        p: Provider,
        s: Session<'_>,
    ) -> Result<AccountIdentity, ConnectorError> {
        let ep = self.registry.endpoints(p);
        match p {
            Provider::Hubspot => hubspot::auth::identity(&self.http, ep, s).await,
            Provider::Salesforce => salesforce::auth::identity(&self.http, ep, s).await,
            Provider::ZohoCrm => zoho::auth::identity(&self.http, ep, s).await,
        }
    }

    /// The provider account's users, every page.
    pub async fn list_users(
        &self,
        p: Provider,
        s: Session<'_>,
    ) -> Result<Vec<CrmUser>, ConnectorError> {
        let ep = self.registry.endpoints(p);
        match p {
            Provider::Hubspot => hubspot::client::list_users(&self.http, ep, s).await,
            Provider::Salesforce => salesforce::client::list_users(&self.http, ep, s).await,
            Provider::ZohoCrm => zoho::client::list_users(&self.http, ep, s).await,
        }
    }

    /// One page of `q` over `object`'s people, from `cursor` (see [`people`]).
    pub async fn people_page(
        &self,
        p: Provider,
        s: Session<'_>,
        object: people::PersonObject,
        q: &people::PeopleQuery,
        cursor: Option<&str>,
    ) -> Result<people::PeoplePage, ConnectorError> {
        let ep = self.registry.endpoints(p);
        match p {
            Provider::Hubspot => hubspot::people::page(&self.http, ep, s, object, q, cursor).await,
            Provider::Salesforce => {
                salesforce::people::page(&self.http, ep, s, object, q, cursor).await
            }
            Provider::ZohoCrm => zoho::people::page(&self.http, ep, s, object, q, cursor).await,
        }
    }

    /// The live records among `ids`; unknown or deleted ones are absent.
    pub async fn people_by_ids(
        &self,
        p: Provider,
        s: Session<'_>,
        object: people::PersonObject,
        ids: &[String],
    ) -> Result<Vec<people::RemotePerson>, ConnectorError> {
        let ep = self.registry.endpoints(p);
        match p {
            Provider::Hubspot => hubspot::people::by_ids(&self.http, ep, s, object, ids).await,
            Provider::Salesforce => {
                salesforce::people::by_ids(&self.http, ep, s, object, ids).await
            }
            Provider::ZohoCrm => zoho::people::by_ids(&self.http, ep, s, object, ids).await,
        }
    }

    /// Writes a person's two-way fields back to its record.
    pub async fn update_person(
        &self,
        p: Provider,
        s: Session<'_>,
        object: people::PersonObject,
        remote_id: &str,
        u: &people::PersonUpdate,
    ) -> Result<(), ConnectorError> {
        let ep = self.registry.endpoints(p);
        match p {
            Provider::Hubspot => {
                hubspot::people::update(&self.http, ep, s, object, remote_id, u).await
            }
            Provider::Salesforce => {
                salesforce::people::update(&self.http, ep, s, object, remote_id, u).await
            }
            Provider::ZohoCrm => {
                zoho::people::update(&self.http, ep, s, object, remote_id, u).await
            }
        }
    }

    /// Live search of `objects`' people by phone or email ([`records`]).
    pub async fn find_people(
        &self,
        p: Provider,
        s: Session<'_>,
        objects: &[people::PersonObject],
        q: &records::PersonLookup,
    ) -> Result<Vec<people::RemotePerson>, ConnectorError> {
        records_call!(self, p, find_people(s, objects, q))
    }

    /// A new lead or contact.
    pub async fn create_person(
        &self,
        p: Provider,
        s: Session<'_>,
        person: &records::NewPerson,
    ) -> Result<records::RecordRef, ConnectorError> {
        records_call!(self, p, create_person(s, person))
    }

    /// The company (account) named `name` or at `domain`, the oldest when several match.
    pub async fn find_company(
        &self,
        p: Provider,
        s: Session<'_>,
        name: Option<&str>,
        domain: Option<&str>,
    ) -> Result<Option<records::RecordRef>, ConnectorError> {
        records_call!(self, p, find_company(s, name, domain))
    }

    /// A new company (account).
    pub async fn create_company(
        &self,
        p: Provider,
        s: Session<'_>,
        c: &records::NewCompany,
    ) -> Result<records::RecordRef, ConnectorError> {
        records_call!(self, p, create_company(s, c))
    }

    /// Links `from` to `to` (a contact to its company).
    pub async fn associate(
        &self,
        p: Provider,
        s: Session<'_>,
        from: &records::RecordRef,
        to: &records::RecordRef,
    ) -> Result<(), ConnectorError> {
        records_call!(self, p, associate(s, from, to))
    }

    /// A call, note, task, email or meeting.
    pub async fn create_activity(
        &self,
        p: Provider,
        s: Session<'_>,
        a: &records::NewActivity,
    ) -> Result<records::RecordRef, ConnectorError> {
        records_call!(self, p, create_activity(s, a))
    }

    /// The activity written earlier under `a`'s key, if it landed.
    pub async fn find_activity(
        &self,
        p: Provider,
        s: Session<'_>,
        a: &records::NewActivity,
    ) -> Result<Option<records::RecordRef>, ConnectorError> {
        records_call!(self, p, find_activity(s, a))
    }

    /// Appends `text` to an activity's body, once.
    pub async fn append_to_activity(
        &self,
        p: Provider,
        s: Session<'_>,
        kind: records::ActivityKind,
        r: &records::RecordRef,
        text: &str,
    ) -> Result<(), ConnectorError> {
        records_call!(self, p, append_to_activity(s, kind, r, text))
    }

    /// Sets fields of any record.
    pub async fn update_record(
        &self,
        p: Provider,
        s: Session<'_>,
        r: &records::RecordRef,
        fields: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), ConnectorError> {
        records_call!(self, p, update_record(s, r, fields))
    }

    /// The objects (sObjects, object types, modules) the connection can work with.
    pub async fn list_objects(
        &self,
        p: Provider,
        s: Session<'_>,
    ) -> Result<Vec<records::ObjectMeta>, ConnectorError> {
        records_call!(self, p, list_objects(s))
    }

    /// A record of any object (a deal, a custom object's record) from its fields by API name.
    pub async fn create_record(
        &self,
        p: Provider,
        s: Session<'_>,
        object: &str,
        fields: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<records::RecordRef, ConnectorError> {
        records_call!(self, p, create_record(s, object, fields))
    }

    /// A record picker's live search of one object. `fields` are the object's described
    /// fields (the engine keeps them cached), from which each provider picks what to select.
    pub async fn search_records(
        &self,
        p: Provider,
        s: Session<'_>,
        q: &records::RecordQuery,
        fields: &[records::FieldMeta],
    ) -> Result<Vec<records::FoundRecord>, ConnectorError> {
        records_call!(self, p, search_records(s, q, fields))
    }

    /// An object's fields with their types.
    pub async fn describe_fields(
        &self,
        p: Provider,
        s: Session<'_>,
        object: &str,
    ) -> Result<Vec<records::FieldMeta>, ConnectorError> {
        records_call!(self, p, describe_fields(s, object))
    }
}
