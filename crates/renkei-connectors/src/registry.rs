//! The providers renkei can connect to, what each needs, and where each lives.
//!
//! [`Provider`] names a provider; [`ProviderInfo`] is its static description (auth kind,
//! scopes, PKCE, token lifetime rules, capabilities); [`ProvidersConfig`] is the deployment's
//! part (OAuth clients, URL overrides) and [`Endpoints`] the URLs resolved from both. URL
//! overrides are how `serve --sandbox` points the providers at the emulators, and they also
//! define the [`AllowList`] of each provider: renkei calls a provider only at its real hosts,
//! or at the URLs the operator configured.

use std::time::Duration;

use renkei_core::Secret;
use serde::Deserialize;
use url::Url;

use crate::ConnectorError;
use crate::http::AllowList;

/// A provider renkei has a connector for. The other names of PRODUCT.md's vocabulary
/// (`zendesk`, `slack`, …) have none yet, and the API says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    Hubspot,
    Salesforce,
    ZohoCrm,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::Hubspot, Provider::Salesforce, Provider::ZohoCrm];

    pub fn as_str(self) -> &'static str {
        self.info().name
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    pub fn info(self) -> &'static ProviderInfo {
        match self {
            Provider::Hubspot => &HUBSPOT,
            Provider::Salesforce => &SALESFORCE,
            Provider::ZohoCrm => &ZOHO_CRM,
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a connection authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// OAuth 2.0 authorization-code flow.
    OAuth2,
}

impl AuthKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthKind::OAuth2 => "oauth2",
        }
    }
}

/// Where the OAuth client (id and secret) of a connection comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientSource {
    /// The deployment's configuration only.
    Deployment,
    /// The deployment's configuration, or the tenant admin's own client (Zoho's
    /// "server-based application", registered by the admin in their data centre).
    DeploymentOrTenant,
}

/// How long an access token lives when the token response does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// The response carries `expires_in`.
    FromResponse,
    /// The response carries no expiry (Salesforce: the session lives until the org's session
    /// timeout, two hours by default, after its last use). We assume this lifetime from the
    /// issue instant and still refresh on a 401.
    Assumed(Duration),
}

/// One Zoho data centre: its region code (the `location` Zoho's redirect carries), the domain
/// suffix shared by its accounts server and API domain, and names for the connect page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataCentre {
    pub location: &'static str,
    pub accounts: &'static str,
    pub api: &'static str,
    /// The part that differs between data centres in the sandbox's paths (`com`, `jp`).
    pub domain: &'static str,
    pub name_en: &'static str,
    pub name_ja: &'static str,
}

/// Zoho's data centres, from https://www.zoho.com/crm/developer/docs/api/v8/multi-dc.html.
/// Canada's accounts server is on zohocloud.ca while its API domain is zohoapis.ca.
pub const ZOHO_DATA_CENTRES: &[DataCentre] = &[
    DataCentre {
        location: "us",
        accounts: "https://accounts.zoho.com",
        api: "https://www.zohoapis.com",
        domain: "com",
        name_en: "United States (zoho.com)",
        name_ja: "米国 (zoho.com)",
    },
    DataCentre {
        location: "jp",
        accounts: "https://accounts.zoho.jp",
        api: "https://www.zohoapis.jp",
        domain: "jp",
        name_en: "Japan (zoho.jp)",
        name_ja: "日本 (zoho.jp)",
    },
    DataCentre {
        location: "eu",
        accounts: "https://accounts.zoho.eu",
        api: "https://www.zohoapis.eu",
        domain: "eu",
        name_en: "Europe (zoho.eu)",
        name_ja: "欧州 (zoho.eu)",
    },
    DataCentre {
        location: "in",
        accounts: "https://accounts.zoho.in",
        api: "https://www.zohoapis.in",
        domain: "in",
        name_en: "India (zoho.in)",
        name_ja: "インド (zoho.in)",
    },
    DataCentre {
        location: "au",
        accounts: "https://accounts.zoho.com.au",
        api: "https://www.zohoapis.com.au",
        domain: "com.au",
        name_en: "Australia (zoho.com.au)",
        name_ja: "オーストラリア (zoho.com.au)",
    },
    DataCentre {
        location: "ca",
        accounts: "https://accounts.zohocloud.ca",
        api: "https://www.zohoapis.ca",
        domain: "ca",
        name_en: "Canada (zohocloud.ca)",
        name_ja: "カナダ (zohocloud.ca)",
    },
    DataCentre {
        location: "sa",
        accounts: "https://accounts.zoho.sa",
        api: "https://www.zohoapis.sa",
        domain: "sa",
        name_en: "Saudi Arabia (zoho.sa)",
        name_ja: "サウジアラビア (zoho.sa)",
    },
    DataCentre {
        location: "cn",
        accounts: "https://accounts.zoho.com.cn",
        api: "https://www.zohoapis.com.cn",
        domain: "com.cn",
        name_en: "China (zoho.com.cn)",
        name_ja: "中国 (zoho.com.cn)",
    },
];

pub fn zoho_data_centre(location: &str) -> Option<&'static DataCentre> {
    ZOHO_DATA_CENTRES.iter().find(|d| d.location == location)
}

/// The static description of a provider.
#[derive(Debug)]
pub struct ProviderInfo {
    pub provider: Provider,
    pub name: &'static str,
    pub display_name: &'static str,
    pub auth: AuthKind,
    pub client_source: ClientSource,
    /// Whether the authorize request carries a PKCE challenge (RFC 7636, S256).
    pub pkce: bool,
    pub default_scopes: &'static [&'static str],
    /// How scopes are joined in the authorize URL.
    pub scope_separator: &'static str,
    pub lifetime: Lifetime,
    /// Refresh this long before the access token expires.
    pub refresh_margin: Duration,
    /// Whether a refresh may answer a new refresh token that replaces the old one.
    pub rotates_refresh_tokens: bool,
    /// Whether members connect personally besides the tenant (HubSpot per-user OAuth).
    pub member_connections: bool,
    /// What renkei can do with a connection today. Grows as capabilities are built.
    pub capabilities: &'static [&'static str],
    /// renkei's own pace per provider account (requests per second, burst), below the
    /// provider's published limit so that the account's other integrations keep room.
    pub rate: (u32, u32),
}

// HubSpot: https://developers.hubspot.com/docs/api/oauth-quickstart-guide — access tokens live
// 30 minutes (`expires_in: 1800`), the refresh token does not change on refresh.
static HUBSPOT: ProviderInfo = ProviderInfo {
    provider: Provider::Hubspot,
    name: "hubspot",
    display_name: "HubSpot",
    auth: AuthKind::OAuth2,
    client_source: ClientSource::Deployment,
    pkce: true,
    default_scopes: &[
        "oauth",
        "crm.objects.contacts.read",
        "crm.objects.contacts.write",
        "crm.objects.companies.read",
        "crm.objects.companies.write",
        "crm.objects.deals.read",
        "crm.objects.deals.write",
        "crm.objects.owners.read",
    ],
    scope_separator: " ",
    lifetime: Lifetime::FromResponse,
    refresh_margin: Duration::from_secs(5 * 60),
    rotates_refresh_tokens: false,
    member_connections: true,
    capabilities: &[
        "connect",
        "member_connections",
        "users",
        "people",
        "people_webhooks",
    ],
    // Public apps: 110 requests per 10 seconds per account
    // (https://developers.hubspot.com/docs/api/usage-details).
    rate: (10, 10),
};

// Salesforce: https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_web_server_flow.htm
// — no `expires_in`; sessions time out per org (2 hours by default); refresh tokens rotate
// only when the connected app enables rotation.
static SALESFORCE: ProviderInfo = ProviderInfo {
    provider: Provider::Salesforce,
    name: "salesforce",
    display_name: "Salesforce",
    auth: AuthKind::OAuth2,
    client_source: ClientSource::Deployment,
    pkce: true,
    default_scopes: &["api", "id", "refresh_token"],
    scope_separator: " ",
    lifetime: Lifetime::Assumed(Duration::from_secs(2 * 60 * 60)),
    refresh_margin: Duration::from_secs(10 * 60),
    rotates_refresh_tokens: true,
    member_connections: false,
    capabilities: &["connect", "users", "people"],
    // Salesforce limits calls per day and long-running requests at a time, not per second;
    // this pace only keeps a burst from one tenant within reason.
    rate: (25, 25),
};

// Zoho: https://www.zoho.com/accounts/protocol/oauth/web-server-applications.html — access
// tokens live an hour, a refresh answers no new refresh token, `access_type=offline` is needed
// to get one at all, and `prompt=consent` to get a new one on a second consent.
static ZOHO_CRM: ProviderInfo = ProviderInfo {
    provider: Provider::ZohoCrm,
    name: "zoho_crm",
    display_name: "Zoho CRM",
    auth: AuthKind::OAuth2,
    client_source: ClientSource::DeploymentOrTenant,
    pkce: true,
    default_scopes: &[
        "ZohoCRM.modules.ALL",
        "ZohoCRM.settings.READ",
        "ZohoCRM.users.READ",
        "ZohoCRM.org.READ",
    ],
    scope_separator: ",",
    lifetime: Lifetime::FromResponse,
    refresh_margin: Duration::from_secs(5 * 60),
    rotates_refresh_tokens: false,
    member_connections: false,
    capabilities: &["connect", "users", "people"],
    // Zoho limits concurrent calls per org (10 to 25 by edition) and credits per day
    // (https://www.zoho.com/crm/developer/docs/api/v8/api-limits.html).
    rate: (10, 10),
};

/// An OAuth client: the deployment's or a tenant admin's.
#[derive(Clone, Deserialize)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: Secret<String>,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// The deployment's settings of one provider (`[providers.hubspot]` in the config file).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    pub client_id: Option<String>,
    pub client_secret: Option<Secret<String>>,
    /// Replaces the provider's default scopes.
    pub scopes: Option<Vec<String>>,
    /// HubSpot: the authorize page (default `https://app.hubspot.com/oauth/authorize`).
    pub authorize_url: Option<String>,
    /// HubSpot: the API root, where the token endpoint also lives (default
    /// `https://api.hubapi.com`).
    pub api_url: Option<String>,
    /// Salesforce: the login server (default `https://login.salesforce.com`). When set, the
    /// instance URLs the token responses name must start with it.
    pub login_url: Option<String>,
    /// Zoho: the accounts server of a data centre, with `{domain}` standing for the data
    /// centre's domain (`com`, `jp`, …). Default `https://accounts.zoho.{domain}` (Canada's
    /// zohocloud.ca included).
    pub accounts_url: Option<String>,
    /// Zoho: the API domain, with `{domain}` as above. Default `https://www.zohoapis.{domain}`.
    pub api_domain: Option<String>,
    /// renkei's pace per account of this provider (`rate = { requests = 1000, per_seconds =
    /// 10 }`), replacing the built-in one; renkei keeps five percent under it.
    pub rate: Option<crate::http::RateLimit>,
}

impl ProviderConfig {
    pub fn client(&self) -> Option<OAuthClient> {
        match (&self.client_id, &self.client_secret) {
            (Some(id), Some(secret)) if !id.is_empty() => Some(OAuthClient {
                client_id: id.clone(),
                client_secret: secret.clone(),
            }),
            _ => None,
        }
    }
}

/// The deployment's settings of every provider.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvidersConfig {
    #[serde(default)]
    pub hubspot: ProviderConfig,
    #[serde(default)]
    pub salesforce: ProviderConfig,
    #[serde(default)]
    pub zoho_crm: ProviderConfig,
}

impl ProvidersConfig {
    pub fn get(&self, p: Provider) -> &ProviderConfig {
        match p {
            Provider::Hubspot => &self.hubspot,
            Provider::Salesforce => &self.salesforce,
            Provider::ZohoCrm => &self.zoho_crm,
        }
    }

    pub fn get_mut(&mut self, p: Provider) -> &mut ProviderConfig {
        match p {
            Provider::Hubspot => &mut self.hubspot,
            Provider::Salesforce => &mut self.salesforce,
            Provider::ZohoCrm => &mut self.zoho_crm,
        }
    }
}

/// The URLs of one provider, resolved from its defaults and the deployment's overrides.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub provider: Provider,
    /// HubSpot and Salesforce: the authorize page. Zoho: per data centre, see
    /// [`Endpoints::zoho_accounts`].
    pub authorize: Url,
    pub token: Url,
    /// HubSpot: the API root. Salesforce: the login server. Zoho: unused (per data centre).
    pub api: Url,
    pub allow: AllowList,
    zoho_accounts_template: String,
    zoho_api_template: String,
    pub scopes: Vec<String>,
    pub client: Option<OAuthClient>,
}

fn parse_url(provider: Provider, what: &str, s: &str) -> Result<Url, ConnectorError> {
    let url = Url::parse(s).map_err(|e| {
        ConnectorError::Config(format!(
            "providers.{provider}.{what} {s:?} is not a URL: {e}"
        ))
    })?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(ConnectorError::Config(format!(
            "providers.{provider}.{what} must be an http(s) URL, not {s:?}"
        )));
    }
    Ok(url)
}

/// `base` with `path` appended below its own path.
pub fn join(base: &Url, path: &str) -> Url {
    let mut u = base.clone();
    let joined = format!(
        "{}/{}",
        base.path().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    u.set_path(&joined);
    u
}

impl Endpoints {
    pub fn resolve(provider: Provider, cfg: &ProviderConfig) -> Result<Self, ConnectorError> {
        let info = provider.info();
        let scopes = cfg
            .scopes
            .clone()
            .unwrap_or_else(|| info.default_scopes.iter().map(|s| s.to_string()).collect());
        let client = cfg.client();
        let mut allow = AllowList::new();
        let (authorize, token, api, za, zapi) = match provider {
            Provider::Hubspot => {
                let authorize = parse_url(
                    provider,
                    "authorize_url",
                    cfg.authorize_url
                        .as_deref()
                        .unwrap_or("https://app.hubspot.com/oauth/authorize"),
                )?;
                let api = parse_url(
                    provider,
                    "api_url",
                    cfg.api_url.as_deref().unwrap_or("https://api.hubapi.com"),
                )?;
                allow = allow.with_prefix(api.clone());
                (
                    authorize,
                    join(&api, "/oauth/v1/token"),
                    api,
                    String::new(),
                    String::new(),
                )
            }
            Provider::Salesforce => {
                let login = parse_url(
                    provider,
                    "login_url",
                    cfg.login_url
                        .as_deref()
                        .unwrap_or("https://login.salesforce.com"),
                )?;
                allow = allow.with_prefix(login.clone());
                if cfg.login_url.is_none() {
                    // Instance URLs (My Domain) and sandboxes, per
                    // https://help.salesforce.com/s/articleView?id=sf.domain_name_url_formats.htm
                    allow = allow
                        .with_https_host_suffix(".salesforce.com")
                        .with_https_host_suffix(".force.com")
                        .with_https_host_suffix(".cloudforce.com")
                        .with_https_host_suffix(".salesforce.mil");
                }
                (
                    join(&login, "/services/oauth2/authorize"),
                    join(&login, "/services/oauth2/token"),
                    login,
                    String::new(),
                    String::new(),
                )
            }
            Provider::ZohoCrm => {
                let za = cfg.accounts_url.clone().unwrap_or_default();
                let zapi = cfg.api_domain.clone().unwrap_or_default();
                for (what, t) in [("accounts_url", &za), ("api_domain", &zapi)] {
                    if !t.is_empty() && !t.contains("{domain}") {
                        return Err(ConnectorError::Config(format!(
                            "providers.zoho_crm.{what} must contain {{domain}}, e.g. https://accounts.zoho.{{domain}}"
                        )));
                    }
                }
                let mut e = (
                    Url::parse("https://accounts.zoho.com/oauth/v2/auth").expect("static URL"),
                    Url::parse("https://accounts.zoho.com/oauth/v2/token").expect("static URL"),
                    Url::parse("https://www.zohoapis.com").expect("static URL"),
                    za,
                    zapi,
                );
                for dc in ZOHO_DATA_CENTRES {
                    let accounts = parse_url(
                        provider,
                        "accounts_url",
                        &zoho_url(&e.3, dc.accounts, dc.domain),
                    )?;
                    let api =
                        parse_url(provider, "api_domain", &zoho_url(&e.4, dc.api, dc.domain))?;
                    allow = allow.with_prefix(accounts).with_prefix(api);
                }
                let us = &ZOHO_DATA_CENTRES[0];
                let accounts = parse_url(
                    provider,
                    "accounts_url",
                    &zoho_url(&e.3, us.accounts, us.domain),
                )?;
                e.0 = join(&accounts, "/oauth/v2/auth");
                e.1 = join(&accounts, "/oauth/v2/token");
                e
            }
        };
        Ok(Self {
            provider,
            authorize,
            token,
            api,
            allow,
            zoho_accounts_template: za,
            zoho_api_template: zapi,
            scopes,
            client,
        })
    }

    /// Zoho: the accounts server of a data centre.
    pub fn zoho_accounts(&self, dc: &DataCentre) -> Url {
        Url::parse(&zoho_url(
            &self.zoho_accounts_template,
            dc.accounts,
            dc.domain,
        ))
        .expect("checked by resolve")
    }

    /// Zoho: the API domain of a data centre.
    pub fn zoho_api(&self, dc: &DataCentre) -> Url {
        Url::parse(&zoho_url(&self.zoho_api_template, dc.api, dc.domain))
            .expect("checked by resolve")
    }

    /// Zoho: the data centre whose accounts server is `url` (as a redirect's
    /// `accounts-server` names it), if any.
    pub fn zoho_dc_by_accounts(&self, url: &str) -> Option<&'static DataCentre> {
        let want = url.trim_end_matches('/');
        ZOHO_DATA_CENTRES
            .iter()
            .find(|dc| self.zoho_accounts(dc).as_str().trim_end_matches('/') == want)
    }

    /// Zoho: the data centre whose API domain is `url` (as a token response's `api_domain`
    /// names it), if any.
    pub fn zoho_dc_by_api(&self, url: &str) -> Option<&'static DataCentre> {
        let want = url.trim_end_matches('/');
        ZOHO_DATA_CENTRES
            .iter()
            .find(|dc| self.zoho_api(dc).as_str().trim_end_matches('/') == want)
    }

    /// Parses a URL a provider named (`instance_url`, `api_domain`, an identity URL) and
    /// checks it against this provider's allow-list: the one gate through which such URLs
    /// reach storage or a request.
    pub fn allowed_url(&self, what: &str, raw: &str) -> Result<Url, ConnectorError> {
        let provider = self.provider.as_str();
        let url = Url::parse(raw).map_err(|e| ConnectorError::Protocol {
            provider,
            message: format!("{what} {raw:?} is not a URL: {e}"),
        })?;
        if !self.allow.allows(&url) {
            return Err(ConnectorError::HostNotAllowed {
                provider,
                url: crate::http::without_query(&url),
            });
        }
        Ok(url)
    }

    /// The client to use: the tenant's own when given, else the deployment's.
    pub fn client_or<'a>(
        &'a self,
        tenant_client: Option<&'a OAuthClient>,
    ) -> Result<&'a OAuthClient, ConnectorError> {
        tenant_client.or(self.client.as_ref()).ok_or_else(|| {
            ConnectorError::Config(format!(
                "no OAuth client is configured for {}: set providers.{}.client_id and client_secret{}",
                self.provider.info().display_name,
                self.provider,
                if self.provider.info().client_source == ClientSource::DeploymentOrTenant {
                    ", or let the tenant admin enter their own on the connect page"
                } else {
                    ""
                }
            ))
        })
    }
}

fn zoho_url(template: &str, default: &str, domain: &str) -> String {
    if template.is_empty() {
        default.to_owned()
    } else {
        template.replace("{domain}", domain)
    }
}

/// The resolved endpoints of every provider.
#[derive(Debug, Clone)]
pub struct Registry {
    hubspot: Endpoints,
    salesforce: Endpoints,
    zoho_crm: Endpoints,
}

impl Registry {
    pub fn new(cfg: &ProvidersConfig) -> Result<Self, ConnectorError> {
        Ok(Self {
            hubspot: Endpoints::resolve(Provider::Hubspot, &cfg.hubspot)?,
            salesforce: Endpoints::resolve(Provider::Salesforce, &cfg.salesforce)?,
            zoho_crm: Endpoints::resolve(Provider::ZohoCrm, &cfg.zoho_crm)?,
        })
    }

    pub fn endpoints(&self, p: Provider) -> &Endpoints {
        match p {
            Provider::Hubspot => &self.hubspot,
            Provider::Salesforce => &self.salesforce,
            Provider::ZohoCrm => &self.zoho_crm,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_point_at_the_real_hosts() {
        let r = Registry::new(&ProvidersConfig::default()).unwrap();
        let hs = r.endpoints(Provider::Hubspot);
        assert_eq!(hs.token.as_str(), "https://api.hubapi.com/oauth/v1/token");
        let sf = r.endpoints(Provider::Salesforce);
        assert!(
            sf.allow
                .allows(&Url::parse("https://acme.my.salesforce.com/services/data").unwrap())
        );
        assert!(
            !sf.allow
                .allows(&Url::parse("https://evil.example/services/data").unwrap())
        );
        assert!(
            !sf.allow
                .allows(&Url::parse("http://acme.my.salesforce.com/").unwrap())
        );
        let z = r.endpoints(Provider::ZohoCrm);
        let jp = zoho_data_centre("jp").unwrap();
        assert_eq!(z.zoho_api(jp).as_str(), "https://www.zohoapis.jp/");
        assert_eq!(
            z.zoho_dc_by_accounts("https://accounts.zohocloud.ca")
                .unwrap()
                .location,
            "ca"
        );
        assert!(
            !z.allow
                .allows(&Url::parse("https://www.zohoapis.evil.example/crm").unwrap())
        );
    }

    #[test]
    fn overrides_replace_hosts_and_the_allow_list() {
        let cfg = ProvidersConfig {
            salesforce: ProviderConfig {
                login_url: Some("http://127.0.0.1:9/sandbox/salesforce".into()),
                ..Default::default()
            },
            zoho_crm: ProviderConfig {
                accounts_url: Some("http://127.0.0.1:9/sandbox/zoho/{domain}/accounts".into()),
                api_domain: Some("http://127.0.0.1:9/sandbox/zoho/{domain}/api".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let r = Registry::new(&cfg).unwrap();
        let sf = r.endpoints(Provider::Salesforce);
        assert!(sf.allow.allows(
            &Url::parse("http://127.0.0.1:9/sandbox/salesforce/instances/sakura/services").unwrap()
        ));
        assert!(
            !sf.allow
                .allows(&Url::parse("http://127.0.0.1:9/sandbox/hubspot/x").unwrap())
        );
        assert!(
            !sf.allow
                .allows(&Url::parse("https://acme.my.salesforce.com/").unwrap()),
            "with an override, only the configured login server is allowed"
        );
        let z = r.endpoints(Provider::ZohoCrm);
        assert_eq!(
            z.token.as_str(),
            "http://127.0.0.1:9/sandbox/zoho/com/accounts/oauth/v2/token"
        );
        assert_eq!(
            z.zoho_dc_by_api("http://127.0.0.1:9/sandbox/zoho/jp/api")
                .unwrap()
                .location,
            "jp"
        );
        let bad = ProvidersConfig {
            zoho_crm: ProviderConfig {
                api_domain: Some("http://127.0.0.1:9/api".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(
            Registry::new(&bad)
                .unwrap_err()
                .to_string()
                .contains("{domain}")
        );
    }
}
