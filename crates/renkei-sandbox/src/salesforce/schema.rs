//! The emulated objects and their fields: what `describe` answers, what SOQL may select and
//! filter, and what a write may set.
//!
//! Field names, types, lengths, picklist values and key prefixes follow the standard objects as
//! "Object Reference for the Salesforce Platform" lists them (Account, Contact, Event, Lead,
//! Note, Opportunity, Task, User, Organization). Only a useful subset of each object's fields is
//! modelled; every one of them behaves as its describe says, restricted picklists included. Two
//! custom fields are added the way an admin would: `External_Id__c` (a unique external id, for
//! upsert) on the CRM objects, and `Room_URL__c` (the meeting room link renkei stores) on
//! Opportunity.

use std::sync::OnceLock;

/// A field's `type` in describe (the REST API's `FieldType` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FType {
    Id,
    Boolean,
    String,
    Textarea,
    Phone,
    Email,
    Url,
    Picklist,
    Combobox,
    Reference,
    Date,
    Datetime,
    Double,
    Currency,
    Percent,
    Int,
}

impl FType {
    pub fn api(self) -> &'static str {
        match self {
            FType::Id => "id",
            FType::Boolean => "boolean",
            FType::String => "string",
            FType::Textarea => "textarea",
            FType::Phone => "phone",
            FType::Email => "email",
            FType::Url => "url",
            FType::Picklist => "picklist",
            FType::Combobox => "combobox",
            FType::Reference => "reference",
            FType::Date => "date",
            FType::Datetime => "datetime",
            FType::Double => "double",
            FType::Currency => "currency",
            FType::Percent => "percent",
            FType::Int => "int",
        }
    }

    /// The `soapType` describe answers.
    pub fn soap(self) -> &'static str {
        match self {
            FType::Id | FType::Reference => "tns:ID",
            FType::Boolean => "xsd:boolean",
            FType::Date => "xsd:date",
            FType::Datetime => "xsd:dateTime",
            FType::Double | FType::Currency | FType::Percent => "xsd:double",
            FType::Int => "xsd:int",
            _ => "xsd:string",
        }
    }

    /// Text-like: compared case-insensitively, matched by LIKE, searched by SOSL.
    pub fn is_text(self) -> bool {
        matches!(
            self,
            FType::String
                | FType::Textarea
                | FType::Phone
                | FType::Email
                | FType::Url
                | FType::Picklist
                | FType::Combobox
        )
    }

    pub fn is_number(self) -> bool {
        matches!(
            self,
            FType::Double | FType::Currency | FType::Percent | FType::Int
        )
    }

    pub fn is_id(self) -> bool {
        matches!(self, FType::Id | FType::Reference)
    }
}

/// Where a field's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Src {
    /// Kept in the record's field list.
    Stored,
    Id,
    IsDeleted,
    CreatedDate,
    LastModifiedDate,
    CreatedById,
    LastModifiedById,
    /// `Name` of a person object: first and last name joined (Salesforce's compound name).
    FullName,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub ty: FType,
    pub length: u32,
    pub src: Src,
    pub nillable: bool,
    pub createable: bool,
    pub updateable: bool,
    pub custom: bool,
    pub external_id: bool,
    pub id_lookup: bool,
    pub unique: bool,
    pub name_field: bool,
    /// For references: the objects it may point to (several for a polymorphic field).
    pub reference_to: &'static [&'static str],
    /// For references: the relationship name SOQL uses (`Account` for `AccountId`).
    pub relationship: Option<&'static str>,
    pub picklist: &'static [&'static str],
    /// A restricted picklist refuses values outside `picklist` (describe's
    /// `restrictedPicklist`; the API answers `INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST`).
    pub restricted: bool,
    /// The value given on create when the request omits the field.
    pub default: Option<&'static str>,
}

impl Field {
    /// Required on create: not nillable, createable and without a default.
    pub fn required(&self) -> bool {
        !self.nillable
            && self.createable
            && self.default.is_none()
            && self.ty != FType::Boolean
            && self.src == Src::Stored
    }

    fn nn(mut self) -> Self {
        self.nillable = false;
        self
    }
    fn ro(mut self) -> Self {
        self.createable = false;
        self.updateable = false;
        self
    }
    fn len(mut self, n: u32) -> Self {
        self.length = n;
        self
    }
    fn src(mut self, s: Src) -> Self {
        self.src = s;
        self
    }
    fn refs(mut self, to: &'static [&'static str], rel: &'static str) -> Self {
        self.reference_to = to;
        self.relationship = Some(rel);
        self
    }
    fn pick(mut self, values: &'static [&'static str]) -> Self {
        self.picklist = values;
        self
    }
    fn restricted(mut self) -> Self {
        self.restricted = true;
        self
    }
    /// Settable on create only ("Create" without "Update" in the Object Reference).
    fn create_only(mut self) -> Self {
        self.updateable = false;
        self
    }
    fn default(mut self, v: &'static str) -> Self {
        self.default = Some(v);
        self
    }
    fn ext(mut self) -> Self {
        self.custom = true;
        self.external_id = true;
        self.id_lookup = true;
        self.unique = true;
        self
    }
    fn lookup(mut self) -> Self {
        self.id_lookup = true;
        self
    }
    fn name(mut self) -> Self {
        self.name_field = true;
        self
    }
}

fn f(name: &'static str, label: &'static str, ty: FType) -> Field {
    let length = match ty {
        FType::String | FType::Combobox => 255,
        FType::Textarea => 32000,
        FType::Phone => 40,
        FType::Email => 80,
        FType::Url => 255,
        FType::Picklist => 255,
        FType::Id | FType::Reference => 18,
        _ => 0,
    };
    Field {
        name,
        label,
        ty,
        length,
        src: Src::Stored,
        nillable: true,
        createable: true,
        updateable: true,
        custom: name.ends_with("__c"),
        external_id: false,
        id_lookup: false,
        unique: false,
        name_field: false,
        reference_to: &[],
        relationship: None,
        picklist: &[],
        restricted: false,
        default: None,
    }
}

#[derive(Debug)]
pub struct Object {
    pub name: &'static str,
    pub label: &'static str,
    pub label_plural: &'static str,
    pub prefix: &'static str,
    pub fields: Vec<Field>,
    pub createable: bool,
    pub updateable: bool,
    pub deletable: bool,
    /// Whether SOSL searches it.
    pub searchable: bool,
}

impl Object {
    /// The field named `name`, case-insensitively (API names are case-insensitive).
    pub fn field(&self, name: &str) -> Option<(u16, &Field)> {
        self.fields
            .iter()
            .enumerate()
            .find(|(_, f)| f.name.eq_ignore_ascii_case(name))
            .map(|(i, f)| (i as u16, f))
    }

    /// The reference field whose relationship name is `rel` (`Account` → `AccountId`).
    pub fn relationship(&self, rel: &str) -> Option<(u16, &Field)> {
        self.fields
            .iter()
            .enumerate()
            .find(|(_, f)| f.relationship.is_some_and(|r| r.eq_ignore_ascii_case(rel)))
            .map(|(i, f)| (i as u16, f))
    }

    pub fn name_field(&self) -> Option<u16> {
        self.fields
            .iter()
            .position(|f| f.name_field)
            .map(|i| i as u16)
    }
}

/// An index into [`objects`].
pub type ObjId = usize;

/// Standard audit fields every object has, in Salesforce's describe order.
fn audit(fields: &mut Vec<Field>, owner: bool) {
    if owner {
        fields.push(
            f("OwnerId", "Owner ID", FType::Reference)
                .nn()
                .refs(&["User"], "Owner"),
        );
    }
    fields.push(
        f("CreatedDate", "Created Date", FType::Datetime)
            .nn()
            .ro()
            .src(Src::CreatedDate),
    );
    fields.push(
        f("CreatedById", "Created By ID", FType::Reference)
            .nn()
            .ro()
            .src(Src::CreatedById)
            .refs(&["User"], "CreatedBy"),
    );
    fields.push(
        f("LastModifiedDate", "Last Modified Date", FType::Datetime)
            .nn()
            .ro()
            .src(Src::LastModifiedDate),
    );
    fields.push(
        f("LastModifiedById", "Last Modified By ID", FType::Reference)
            .nn()
            .ro()
            .src(Src::LastModifiedById)
            .refs(&["User"], "LastModifiedBy"),
    );
    fields.push(
        f("SystemModstamp", "System Modstamp", FType::Datetime)
            .nn()
            .ro()
            .src(Src::LastModifiedDate),
    );
}

fn head(name_is_deletable: bool) -> Vec<Field> {
    let mut v = vec![
        f("Id", "Record ID", FType::Id)
            .nn()
            .ro()
            .src(Src::Id)
            .lookup(),
    ];
    if name_is_deletable {
        v.push(
            f("IsDeleted", "Deleted", FType::Boolean)
                .nn()
                .ro()
                .src(Src::IsDeleted),
        );
    }
    v
}

const LEAD_SOURCE: &[&str] = &[
    "Web",
    "Phone Inquiry",
    "Partner Referral",
    "Purchased List",
    "Other",
];
const INDUSTRY: &[&str] = &[
    "Agriculture",
    "Banking",
    "Communications",
    "Consulting",
    "Education",
    "Electronics",
    "Energy",
    "Finance",
    "Food & Beverage",
    "Government",
    "Healthcare",
    "Manufacturing",
    "Media",
    "Retail",
    "Technology",
    "Transportation",
    "Other",
];

fn account() -> Object {
    let mut fields = head(true);
    fields.extend([
        f("Name", "Account Name", FType::String).nn().name(),
        f("Type", "Account Type", FType::Picklist).pick(&[
            "Prospect",
            "Customer - Direct",
            "Customer - Channel",
            "Partner",
            "Other",
        ]),
        f("ParentId", "Parent Account ID", FType::Reference).refs(&["Account"], "Parent"),
        f("BillingStreet", "Billing Street", FType::Textarea).len(255),
        f("BillingCity", "Billing City", FType::String).len(40),
        f("BillingState", "Billing State/Province", FType::String).len(80),
        f(
            "BillingPostalCode",
            "Billing Zip/Postal Code",
            FType::String,
        )
        .len(20),
        f("BillingCountry", "Billing Country", FType::String).len(80),
        f("Phone", "Account Phone", FType::Phone),
        f("Fax", "Account Fax", FType::Phone),
        f("Website", "Website", FType::Url),
        f("Industry", "Industry", FType::Picklist).pick(INDUSTRY),
        f("NumberOfEmployees", "Employees", FType::Int),
        f("AnnualRevenue", "Annual Revenue", FType::Currency),
        f("Description", "Account Description", FType::Textarea),
    ]);
    audit(&mut fields, true);
    fields.push(
        f("External_Id__c", "External Id", FType::String)
            .len(255)
            .ext(),
    );
    Object {
        name: "Account",
        label: "Account",
        label_plural: "Accounts",
        prefix: "001",
        fields,
        createable: true,
        updateable: true,
        deletable: true,
        searchable: true,
    }
}

fn contact() -> Object {
    let mut fields = head(true);
    fields.extend([
        f("AccountId", "Account ID", FType::Reference).refs(&["Account"], "Account"),
        f("LastName", "Last Name", FType::String).nn().len(80),
        f("FirstName", "First Name", FType::String).len(40),
        f("Salutation", "Salutation", FType::Picklist)
            .pick(&["Mr.", "Ms.", "Mrs.", "Dr.", "Prof."]),
        f("Name", "Full Name", FType::String)
            .nn()
            .ro()
            .len(121)
            .src(Src::FullName)
            .name(),
        f("MailingStreet", "Mailing Street", FType::Textarea).len(255),
        f("MailingCity", "Mailing City", FType::String).len(40),
        f("MailingState", "Mailing State/Province", FType::String).len(80),
        f(
            "MailingPostalCode",
            "Mailing Zip/Postal Code",
            FType::String,
        )
        .len(20),
        f("MailingCountry", "Mailing Country", FType::String).len(80),
        f("Phone", "Business Phone", FType::Phone),
        f("MobilePhone", "Mobile Phone", FType::Phone),
        f("HomePhone", "Home Phone", FType::Phone),
        f("Email", "Email", FType::Email).lookup(),
        f("Title", "Title", FType::String).len(128),
        f("Department", "Department", FType::String).len(80),
        f("LeadSource", "Lead Source", FType::Picklist).pick(LEAD_SOURCE),
        f("Description", "Contact Description", FType::Textarea),
    ]);
    audit(&mut fields, true);
    fields.push(
        f("External_Id__c", "External Id", FType::String)
            .len(255)
            .ext(),
    );
    Object {
        name: "Contact",
        label: "Contact",
        label_plural: "Contacts",
        prefix: "003",
        fields,
        createable: true,
        updateable: true,
        deletable: true,
        searchable: true,
    }
}

fn lead() -> Object {
    let mut fields = head(true);
    fields.extend([
        f("LastName", "Last Name", FType::String).nn().len(80),
        f("FirstName", "First Name", FType::String).len(40),
        f("Salutation", "Salutation", FType::Picklist)
            .pick(&["Mr.", "Ms.", "Mrs.", "Dr.", "Prof."]),
        f("Name", "Full Name", FType::String)
            .nn()
            .ro()
            .len(121)
            .src(Src::FullName)
            .name(),
        f("Title", "Title", FType::String).len(128),
        f("Company", "Company", FType::String).nn(),
        f("Street", "Street", FType::Textarea).len(255),
        f("City", "City", FType::String).len(40),
        f("State", "State/Province", FType::String).len(80),
        f("PostalCode", "Zip/Postal Code", FType::String).len(20),
        f("Country", "Country", FType::String).len(80),
        f("Phone", "Phone", FType::Phone),
        f("MobilePhone", "Mobile Phone", FType::Phone),
        f("Email", "Email", FType::Email).lookup(),
        f("Website", "Website", FType::Url),
        f("Description", "Description", FType::Textarea),
        f("LeadSource", "Lead Source", FType::Picklist).pick(LEAD_SOURCE),
        f("Status", "Status", FType::Picklist)
            .nn()
            .pick(&[
                "Open - Not Contacted",
                "Working - Contacted",
                "Closed - Converted",
                "Closed - Not Converted",
            ])
            .default("Open - Not Contacted"),
        f("Industry", "Industry", FType::Picklist).pick(INDUSTRY),
        f("NumberOfEmployees", "Employees", FType::Int),
        f("IsConverted", "Converted", FType::Boolean).nn().ro(),
    ]);
    audit(&mut fields, true);
    fields.push(
        f("External_Id__c", "External Id", FType::String)
            .len(255)
            .ext(),
    );
    Object {
        name: "Lead",
        label: "Lead",
        label_plural: "Leads",
        prefix: "00Q",
        fields,
        createable: true,
        updateable: true,
        deletable: true,
        searchable: true,
    }
}

fn opportunity() -> Object {
    let mut fields = head(true);
    fields.extend([
        f("AccountId", "Account ID", FType::Reference).refs(&["Account"], "Account"),
        f("Name", "Name", FType::String).nn().len(120).name(),
        f("Description", "Description", FType::Textarea),
        f("StageName", "Stage", FType::Picklist).nn().pick(&[
            "Prospecting",
            "Qualification",
            "Needs Analysis",
            "Value Proposition",
            "Proposal/Price Quote",
            "Negotiation/Review",
            "Closed Won",
            "Closed Lost",
        ]),
        f("Amount", "Amount", FType::Currency),
        f("Probability", "Probability (%)", FType::Percent),
        f("CloseDate", "Close Date", FType::Date).nn(),
        f("Type", "Opportunity Type", FType::Picklist).pick(&[
            "Existing Customer - Upgrade",
            "Existing Customer - Replacement",
            "Existing Customer - Downgrade",
            "New Customer",
        ]),
        f("LeadSource", "Lead Source", FType::Picklist).pick(LEAD_SOURCE),
        f("NextStep", "Next Step", FType::String),
    ]);
    audit(&mut fields, true);
    fields.push(
        f("External_Id__c", "External Id", FType::String)
            .len(255)
            .ext(),
    );
    fields.push(f("Room_URL__c", "Room URL", FType::Url));
    Object {
        name: "Opportunity",
        label: "Opportunity",
        label_plural: "Opportunities",
        prefix: "006",
        fields,
        createable: true,
        updateable: true,
        deletable: true,
        searchable: true,
    }
}

fn task() -> Object {
    let mut fields = head(true);
    fields.extend([
        f("WhoId", "Name ID", FType::Reference).refs(&["Contact", "Lead"], "Who"),
        f("WhatId", "Related To ID", FType::Reference).refs(&["Account", "Opportunity"], "What"),
        f("Subject", "Subject", FType::Combobox).name(),
        f("ActivityDate", "Due Date Only", FType::Date),
        f("Status", "Status", FType::Picklist)
            .nn()
            .pick(&[
                "Not Started",
                "In Progress",
                "Completed",
                "Waiting on someone else",
                "Deferred",
            ])
            .default("Not Started"),
        f("Priority", "Priority", FType::Picklist)
            .nn()
            .pick(&["High", "Normal", "Low"])
            .default("Normal"),
        f("Description", "Description", FType::Textarea),
        f("CallType", "Call Type", FType::Picklist)
            .pick(&["Internal", "Inbound", "Outbound"])
            .restricted(),
        f("CallDurationInSeconds", "Call Duration", FType::Int),
        f("CallObject", "Call Object Identifier", FType::String),
        f("CallDisposition", "Call Result", FType::String),
        // "Task subtype … can't be updated" and is a restricted picklist (Object Reference,
        // Task: TaskSubtype properties are Create, Filter, Group, Nillable, Restricted picklist,
        // Sort).
        f("TaskSubtype", "Task Subtype", FType::Picklist)
            .pick(&["Task", "Email", "List Email", "Cadence", "Call"])
            .restricted()
            .create_only(),
    ]);
    audit(&mut fields, true);
    Object {
        name: "Task",
        label: "Task",
        label_plural: "Tasks",
        prefix: "00T",
        fields,
        createable: true,
        updateable: true,
        deletable: true,
        searchable: true,
    }
}

/// Event ("Event", Object Reference): a calendar entry. `StartDateTime`/`ActivityDateTime` and
/// `EndDateTime`/`DurationInMinutes` are two spellings of one time span, which the store keeps
/// consistent on every write (`store::Org::derive_event`).
fn event() -> Object {
    let mut fields = head(true);
    fields.extend([
        f("WhoId", "Name ID", FType::Reference).refs(&["Contact", "Lead"], "Who"),
        f("WhatId", "Related To ID", FType::Reference).refs(&["Account", "Opportunity"], "What"),
        f("Subject", "Subject", FType::Combobox).name(),
        f("Location", "Location", FType::String),
        f("IsAllDayEvent", "All-Day Event", FType::Boolean).nn(),
        f("ActivityDateTime", "Due Date Time", FType::Datetime),
        f("ActivityDate", "Due Date Only", FType::Date),
        f("DurationInMinutes", "Duration", FType::Int),
        f("StartDateTime", "Start Date Time", FType::Datetime),
        f("EndDateTime", "End Date Time", FType::Datetime),
        f("Description", "Description", FType::Textarea),
        f("ShowAs", "Show Time As", FType::Picklist)
            .pick(&["Busy", "OutOfOffice", "Free"])
            .default("Busy"),
    ]);
    audit(&mut fields, true);
    Object {
        name: "Event",
        label: "Event",
        label_plural: "Events",
        prefix: "00U",
        fields,
        createable: true,
        updateable: true,
        deletable: true,
        searchable: true,
    }
}

/// Note ("Note", Object Reference): a classic note. `ParentId` is required and set on create
/// only; `Title` is required (80 characters); `Body` holds up to 32 KB of plain text.
fn note() -> Object {
    let mut fields = head(true);
    fields.extend([
        f("ParentId", "Parent ID", FType::Reference)
            .nn()
            .create_only()
            .refs(&["Account", "Contact", "Lead", "Opportunity"], "Parent"),
        f("Title", "Title", FType::String).nn().len(80).name(),
        f("IsPrivate", "Private", FType::Boolean).nn(),
        f("Body", "Body", FType::Textarea),
    ]);
    audit(&mut fields, true);
    Object {
        name: "Note",
        label: "Note",
        label_plural: "Notes",
        prefix: "002",
        fields,
        createable: true,
        updateable: true,
        deletable: true,
        searchable: true,
    }
}

fn user() -> Object {
    let mut fields = head(false);
    fields.extend([
        f("Username", "Username", FType::String)
            .nn()
            .len(80)
            .lookup(),
        f("LastName", "Last Name", FType::String).nn().len(80),
        f("FirstName", "First Name", FType::String).len(40),
        f("Name", "Full Name", FType::String)
            .nn()
            .ro()
            .len(121)
            .src(Src::FullName)
            .name(),
        f("CompanyName", "Company Name", FType::String).len(80),
        f("Title", "Title", FType::String).len(80),
        f("Email", "Email", FType::Email).nn(),
        f("Phone", "Phone", FType::Phone),
        f("MobilePhone", "Mobile", FType::Phone),
        f("Alias", "Alias", FType::String).nn().len(8),
        f("IsActive", "Active", FType::Boolean).nn(),
        f("TimeZoneSidKey", "Time Zone", FType::Picklist)
            .nn()
            .pick(&["Asia/Tokyo", "America/Los_Angeles", "Europe/London", "GMT"]),
        f("LocaleSidKey", "Locale", FType::Picklist)
            .nn()
            .pick(&["ja_JP", "en_US", "en_GB"]),
        f("LanguageLocaleKey", "Language", FType::Picklist)
            .nn()
            .pick(&["ja", "en_US"]),
        f("EmailEncodingKey", "Email Encoding", FType::Picklist)
            .nn()
            .pick(&["UTF-8", "ISO-2022-JP", "Shift_JIS"]),
    ]);
    audit(&mut fields, false);
    Object {
        name: "User",
        label: "User",
        label_plural: "Users",
        prefix: "005",
        fields,
        createable: true,
        updateable: true,
        // Users are deactivated, never deleted ("User" in the Object Reference: delete() is not
        // among its supported calls).
        deletable: false,
        searchable: true,
    }
}

fn organization() -> Object {
    let mut fields = head(false);
    fields.extend([
        f("Name", "Name", FType::String).nn().ro().len(80).name(),
        f("OrganizationType", "Edition", FType::Picklist).nn().ro(),
        f("InstanceName", "Instance Name", FType::String)
            .ro()
            .len(5),
        f("IsSandbox", "Is Sandbox", FType::Boolean).nn().ro(),
        f("TimeZoneSidKey", "Default Time Zone", FType::Picklist)
            .nn()
            .ro(),
        f("LanguageLocaleKey", "Default Language", FType::Picklist)
            .nn()
            .ro(),
        f("DefaultLocaleSidKey", "Default Locale", FType::Picklist)
            .nn()
            .ro(),
    ]);
    audit(&mut fields, false);
    for fld in fields.iter_mut() {
        fld.createable = false;
        fld.updateable = false;
    }
    Object {
        name: "Organization",
        label: "Organization",
        label_plural: "Organizations",
        prefix: "00D",
        fields,
        createable: false,
        updateable: false,
        deletable: false,
        searchable: false,
    }
}

/// Every emulated object, in describeGlobal order.
pub fn objects() -> &'static [Object] {
    static OBJECTS: OnceLock<Vec<Object>> = OnceLock::new();
    OBJECTS.get_or_init(|| {
        vec![
            account(),
            contact(),
            event(),
            lead(),
            note(),
            opportunity(),
            organization(),
            task(),
            user(),
        ]
    })
}

/// The object named `name`, case-insensitively.
pub fn object(name: &str) -> Option<(ObjId, &'static Object)> {
    objects()
        .iter()
        .enumerate()
        .find(|(_, o)| o.name.eq_ignore_ascii_case(name))
}

/// The object whose key prefix is `prefix`.
pub fn by_prefix(prefix: &str) -> Option<(ObjId, &'static Object)> {
    objects()
        .iter()
        .enumerate()
        .find(|(_, o)| o.prefix == prefix)
}

pub fn obj(id: ObjId) -> &'static Object {
    &objects()[id]
}

pub const ACCOUNT: ObjId = 0;
pub const CONTACT: ObjId = 1;
pub const EVENT: ObjId = 2;
pub const LEAD: ObjId = 3;
pub const NOTE: ObjId = 4;
pub const OPPORTUNITY: ObjId = 5;
pub const ORGANIZATION: ObjId = 6;
pub const TASK: ObjId = 7;
pub const USER: ObjId = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_name_their_objects() {
        for (id, name) in [
            (ACCOUNT, "Account"),
            (CONTACT, "Contact"),
            (EVENT, "Event"),
            (LEAD, "Lead"),
            (NOTE, "Note"),
            (OPPORTUNITY, "Opportunity"),
            (ORGANIZATION, "Organization"),
            (TASK, "Task"),
            (USER, "User"),
        ] {
            assert_eq!(obj(id).name, name);
        }
        assert!(obj(OPPORTUNITY).field("room_url__c").unwrap().1.custom);
        assert_eq!(
            obj(CONTACT).relationship("account").unwrap().1.name,
            "AccountId"
        );
        assert!(obj(LEAD).field("Company").unwrap().1.required());
        assert!(!obj(LEAD).field("Status").unwrap().1.required());
    }
}
