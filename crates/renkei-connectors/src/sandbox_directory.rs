//! Points the providers at the sandbox's emulators, from the sandbox's directory document
//! (`GET /sandbox`). Only the directory's JSON is read: neither side depends on the other's
//! code, so the emulators stay independent of renkei's connectors.

use crate::ProvidersConfig;
use crate::registry::ProviderConfig;
use renkei_core::Secret;
use serde_json::Value;

fn s(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

fn client(p: &Value, cfg: &mut ProviderConfig) {
    cfg.client_id = s(&p["client_id"]);
    cfg.client_secret = s(&p["client_secret"]).map(Secret::new);
}

/// Fills `into` with the emulators' URLs and pre-registered OAuth clients. Providers missing
/// from the directory are left as they are.
pub fn apply(directory: &Value, into: &mut ProvidersConfig) {
    let providers = &directory["providers"];
    let hs = &providers["hubspot"];
    if hs.is_object() {
        into.hubspot.authorize_url = s(&hs["urls"]["authorize"]);
        into.hubspot.api_url = s(&hs["urls"]["api"]);
        client(hs, &mut into.hubspot);
    }
    let sf = &providers["salesforce"];
    if let Some(auth) = sf["urls"]["authorize"].as_str() {
        // The login server is what precedes `/services/oauth2/authorize`.
        into.salesforce.login_url = auth
            .strip_suffix("/services/oauth2/authorize")
            .map(str::to_owned);
        client(sf, &mut into.salesforce);
    }
    let z = &providers["zoho"];
    if let (Some(accounts), Some(api)) = (
        z["data_centres"]["com"]["urls"]["accounts_server"].as_str(),
        z["data_centres"]["com"]["urls"]["api"].as_str(),
    ) {
        // The emulator names data centres by domain in its paths (`/com/`, `/jp/`).
        into.zoho_crm.accounts_url = Some(accounts.replacen("/com/", "/{domain}/", 1));
        into.zoho_crm.api_domain = Some(api.replacen("/com/", "/{domain}/", 1));
        client(z, &mut into.zoho_crm);
    }
}
