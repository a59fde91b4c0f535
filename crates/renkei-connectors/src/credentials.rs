//! What a connection holds: its secrets ([`Credentials`], sealed at rest by the store) and
//! the provider metadata that must outlive every refresh ([`GrantMeta`], not secret).
//!
//! A token response is read into a [`TokenGrant`]. A refresh answers less than a code
//! exchange (Salesforce omits the refresh token unless rotation is on, Zoho never repeats it,
//! some responses omit `instance_url` or `api_domain`), so [`TokenGrant::merged_over`] keeps
//! what the old grant had wherever the new one is silent.

use renkei_core::{Millis, Secret};
use serde::{Deserialize, Serialize};

use crate::registry::OAuthClient;

/// Non-secret metadata of a grant, stored in the clear beside the sealed credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantMeta {
    /// Salesforce: the org's instance URL, where every API call goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_url: Option<String>,
    /// Salesforce: the identity URL (`https://login.salesforce.com/id/{org}/{user}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_url: Option<String>,
    /// Zoho: the API domain of the account's data centre.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_domain: Option<String>,
    /// Zoho: the accounts server of the account's data centre, where refreshes go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounts_server: Option<String>,
    /// Zoho: the data centre's region code (`us`, `jp`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_centre: Option<String>,
    /// HubSpot: the portal (hub) id. Salesforce: the org id. Zoho: the org id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The provider's id of the user who consented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

impl GrantMeta {
    /// `self`, with every field it lacks taken from `old`.
    pub fn merged_over(self, old: &GrantMeta) -> GrantMeta {
        GrantMeta {
            instance_url: self.instance_url.or_else(|| old.instance_url.clone()),
            identity_url: self.identity_url.or_else(|| old.identity_url.clone()),
            api_domain: self.api_domain.or_else(|| old.api_domain.clone()),
            accounts_server: self.accounts_server.or_else(|| old.accounts_server.clone()),
            data_centre: self.data_centre.or_else(|| old.data_centre.clone()),
            account_id: self.account_id.or_else(|| old.account_id.clone()),
            user_id: self.user_id.or_else(|| old.user_id.clone()),
        }
    }
}

/// A token response, read.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub access_token: Secret<String>,
    pub refresh_token: Option<Secret<String>>,
    /// When the access token stops working, as the response says or the provider's rule
    /// assumes.
    pub expires_at: Option<Millis>,
    /// The granted scopes, when the response lists them.
    pub scopes: Option<Vec<String>>,
    pub meta: GrantMeta,
}

impl TokenGrant {
    /// The result of a refresh: `self`, keeping from `old` the refresh token and metadata the
    /// refresh response did not repeat.
    pub fn merged_over(self, old: &Credentials, old_meta: &GrantMeta) -> (Credentials, GrantMeta) {
        let creds = Credentials {
            access_token: self.access_token,
            refresh_token: self.refresh_token.or_else(|| old.refresh_token.clone()),
            client: old.client.clone(),
        };
        (creds, self.meta.merged_over(old_meta))
    }

    pub fn into_credentials(self, client: Option<OAuthClient>) -> (Credentials, GrantMeta) {
        (
            Credentials {
                access_token: self.access_token,
                refresh_token: self.refresh_token,
                client,
            },
            self.meta,
        )
    }
}

/// The secrets of a connection. Serialised only by [`Credentials::to_sealed_bytes`], whose
/// output goes straight to the keyring.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub access_token: Secret<String>,
    pub refresh_token: Option<Secret<String>>,
    /// A tenant admin's own OAuth client (Zoho), needed again at every refresh.
    pub client: Option<OAuthClient>,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    v: u8,
    access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
}

impl Credentials {
    /// The plaintext to seal. Call it only to hand the result to the keyring.
    pub fn to_sealed_bytes(&self) -> Secret<Vec<u8>> {
        let w = Wire {
            v: 1,
            access_token: self.access_token.expose().clone(),
            refresh_token: self.refresh_token.as_ref().map(|t| t.expose().clone()),
            client_id: self.client.as_ref().map(|c| c.client_id.clone()),
            client_secret: self
                .client
                .as_ref()
                .map(|c| c.client_secret.expose().clone()),
        };
        Secret::new(serde_json::to_vec(&w).expect("plain strings serialise"))
    }

    pub fn from_sealed_bytes(bytes: &Secret<Vec<u8>>) -> Result<Self, String> {
        let w: Wire = serde_json::from_slice(bytes.expose())
            .map_err(|e| format!("stored credentials are not readable: {e}"))?;
        let client = match (w.client_id, w.client_secret) {
            (Some(client_id), Some(secret)) => Some(OAuthClient {
                client_id,
                client_secret: Secret::new(secret),
            }),
            _ => None,
        };
        Ok(Self {
            access_token: Secret::new(w.access_token),
            refresh_token: w.refresh_token.map(Secret::new),
            client,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_keeps_what_the_response_omits() {
        let old = Credentials {
            access_token: Secret::new("a1".into()),
            refresh_token: Some(Secret::new("r1".into())),
            client: None,
        };
        let old_meta = GrantMeta {
            instance_url: Some("https://acme.my.salesforce.com".into()),
            account_id: Some("00D".into()),
            ..Default::default()
        };
        let grant = TokenGrant {
            access_token: Secret::new("a2".into()),
            refresh_token: None,
            expires_at: None,
            scopes: None,
            meta: GrantMeta::default(),
        };
        let (c, m) = grant.merged_over(&old, &old_meta);
        assert_eq!(c.access_token.expose(), "a2");
        assert_eq!(c.refresh_token.unwrap().expose(), "r1");
        assert_eq!(m, old_meta);
    }

    #[test]
    fn sealed_bytes_round_trip_and_debug_hides_secrets() {
        let c = Credentials {
            access_token: Secret::new("a-7f3e9".into()),
            refresh_token: None,
            client: Some(OAuthClient {
                client_id: "1000.X".into(),
                client_secret: Secret::new("shh".into()),
            }),
        };
        let back = Credentials::from_sealed_bytes(&c.to_sealed_bytes()).unwrap();
        assert_eq!(back.client.as_ref().unwrap().client_secret.expose(), "shh");
        let dbg = format!("{back:?}");
        assert!(!dbg.contains("a-7f3e9") && !dbg.contains("shh"), "{dbg}");
    }
}
