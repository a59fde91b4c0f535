//! Salesforce's JSON to renkei's types.

use crate::CrmUser;

use super::wire::User;

pub fn user(u: User) -> CrmUser {
    CrmUser {
        name: u.name.unwrap_or_default(),
        email: u.email.filter(|e| !e.is_empty()),
        active: u.is_active,
        id: u.id,
    }
}
