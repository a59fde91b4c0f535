//! Zoho's JSON to renkei's types.

use crate::CrmUser;

use super::wire::User;

pub fn user(u: User) -> CrmUser {
    CrmUser {
        name: u.full_name.unwrap_or_default(),
        email: u.email.filter(|e| !e.is_empty()),
        active: u.status.as_deref().is_none_or(|s| s == "active"),
        id: u.id,
    }
}
