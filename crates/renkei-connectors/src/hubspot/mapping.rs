//! HubSpot's JSON to renkei's types.

use crate::CrmUser;

use super::wire::Owner;

/// An owner as a CRM user. HubSpot owners have separate first and last names; the display
/// name joins what is present, or falls back to the email.
pub fn owner(o: Owner) -> CrmUser {
    let name = [o.first_name.as_deref(), o.last_name.as_deref()]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let name = if name.is_empty() {
        o.email.clone().unwrap_or_default()
    } else {
        name
    };
    CrmUser {
        id: o.id,
        email: o.email.filter(|e| !e.is_empty()),
        name,
        active: !o.archived,
    }
}
