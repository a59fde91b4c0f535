//! The emulated objects and their fields: what `describe` answers, what SOQL may select and
//! filter, and what a write may set.
//!
//! Field names, types, lengths, picklist values and key prefixes follow the standard objects as
//! "Object Reference for the Salesforce Platform" lists them (Account, Contact, Event, Lead,
//! Note, Opportunity, OpportunityContactRole, Task, User, Organization). Only a useful subset of
//! each object's fields is modelled; every one of them behaves as its describe says, restricted
//! picklists included. Two custom fields are added the way an admin would: `External_Id__c` (a
//! unique external id, for upsert) on the CRM objects, and `Room_URL__c` (the meeting room link
//! renkei stores) on Opportunity.
//!
//! One custom object, `Project__c`, stands for an object an admin created in Setup, so that
//! renkei can be tested creating, reading and searching records of an object no Salesforce
//! documentation lists. It is shaped as "Custom Object __c" in the Object Reference describes
//! one: an API name and custom fields ending in `__c`, a key prefix of the `a0…` kind Salesforce
//! gives custom objects, the standard system fields (`Id`, `IsDeleted`, `Name`, `OwnerId` and
//! the audit fields), and `custom: true` in describe. It goes through the same generic machinery
//! as the standard objects: nothing in the emulator names it except its declaration here and its
//! `/_ui` columns.

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
    /// A custom object: its API name ends in `__c` ("Custom Objects", SOAP API Developer Guide:
    /// "the names of custom objects are identified by a suffix of two underscores immediately
    /// followed by a lowercase c"). Derived from the name, as a field's `custom` is in [`f`], so
    /// that the two can never disagree.
    pub fn custom(&self) -> bool {
        self.name.ends_with("__c")
    }

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

/// The standard values of `OpportunityContactRole.Role`.
const CONTACT_ROLE: &[&str] = &[
    "Business User",
    "Decision Maker",
    "Economic Buyer",
    "Economic Decision Maker",
    "Evaluator",
    "Executive Sponsor",
    "Influencer",
    "Technical Buyer",
    "Other",
];

/// OpportunityContactRole ("OpportunityContactRole", Object Reference): "the role that a
/// Contact plays on an Opportunity". `OpportunityId` is required and set on create only,
/// `ContactId` required; it has no name field and no owner (the Opportunity controls access),
/// and SOSL does not search it. "Each Opportunity has only one primary contact": a role saved
/// with `IsPrimary` true clears it on the Opportunity's other roles
/// (`store::Org::one_primary_contact`).
fn opportunity_contact_role() -> Object {
    let mut fields = head(true);
    fields.extend([
        f("OpportunityId", "Opportunity ID", FType::Reference)
            .nn()
            .create_only()
            .refs(&["Opportunity"], "Opportunity"),
        f("ContactId", "Contact ID", FType::Reference)
            .nn()
            .refs(&["Contact"], "Contact"),
        f("Role", "Role", FType::Picklist).pick(CONTACT_ROLE),
        // Defaulted on create: a non-nillable boolean starts false.
        f("IsPrimary", "Primary", FType::Boolean).nn(),
    ]);
    audit(&mut fields, false);
    Object {
        name: "OpportunityContactRole",
        label: "Opportunity Contact Role",
        label_plural: "Opportunity Contact Roles",
        prefix: "00K",
        fields,
        createable: true,
        updateable: true,
        deletable: true,
        searchable: false,
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

/// Project ("Custom Object __c", Object Reference): the custom object an admin of the emulated
/// orgs created, with a text record name, a lookup to Account, a restricted picklist, a currency,
/// a date and a long text area, each made as Setup's "New Custom Field" makes it.
fn project() -> Object {
    let mut fields = head(true);
    // Setup names a text record name "<label> Name" and caps it at 80 characters. Salesforce
    // itself accepts an API create without it and names the record by its id ("Custom
    // Objects", SOAP API Developer Guide); the emulator requires it, as the Salesforce UI does,
    // so that a writer which forgets the name is caught here rather than leaving records
    // called by their ids.
    fields.push(f("Name", "Project Name", FType::String).nn().len(80).name());
    audit(&mut fields, true);
    fields.extend([
        // A custom lookup's relationship name is the field's name with `__r` for `__c`
        // ("Understanding Relationship Names, Custom Objects, and Custom Fields", SOQL and SOSL
        // Reference); the lookup is optional, as "New Custom Field" leaves it.
        f("Account__c", "Account", FType::Reference).refs(&["Account"], "Account__r"),
        // "Restrict picklist to the values defined in the value set" is ticked, and no value is
        // marked as the default.
        f("Status__c", "Status", FType::Picklist)
            .pick(&["Planned", "Active", "Done"])
            .restricted(),
        f("Budget__c", "Budget", FType::Currency),
        f("Due_Date__c", "Due Date", FType::Date),
        // A Long Text Area, at the 32,768 characters Setup proposes for its length; describe
        // reports it as a `textarea`, which is neither filterable nor sortable.
        f("Description__c", "Description", FType::Textarea).len(32768),
    ]);
    Object {
        name: "Project__c",
        label: "Project",
        label_plural: "Projects",
        // Salesforce gives custom objects prefixes such as `a00`, `a01` or `a0B`; which one an
        // object gets is not documented, so clients read it from describe.
        prefix: "a01",
        fields,
        createable: true,
        updateable: true,
        deletable: true,
        // "Allow Search" is ticked, so SOSL finds projects.
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
            opportunity_contact_role(),
            organization(),
            project(),
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
pub const OPPORTUNITY_CONTACT_ROLE: ObjId = 6;
pub const ORGANIZATION: ObjId = 7;
pub const PROJECT: ObjId = 8;
pub const TASK: ObjId = 9;
pub const USER: ObjId = 10;

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
            (OPPORTUNITY_CONTACT_ROLE, "OpportunityContactRole"),
            (ORGANIZATION, "Organization"),
            (PROJECT, "Project__c"),
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

    #[test]
    fn the_custom_object_is_shaped_like_one_an_admin_created() {
        let p = obj(PROJECT);
        assert!(p.custom());
        assert_eq!(objects().iter().filter(|o| o.custom()).count(), 1);
        assert_eq!(by_prefix("a01").map(|(i, _)| i), Some(PROJECT));
        let mut prefixes: Vec<&str> = objects().iter().map(|o| o.prefix).collect();
        prefixes.sort_unstable();
        prefixes.dedup();
        assert_eq!(prefixes.len(), objects().len(), "key prefixes are unique");
        // Its standard fields are not custom; the fields the admin added are.
        for name in [
            "Id",
            "IsDeleted",
            "Name",
            "OwnerId",
            "CreatedDate",
            "SystemModstamp",
        ] {
            assert!(!p.field(name).unwrap().1.custom, "{name}");
        }
        for name in [
            "Account__c",
            "Status__c",
            "Budget__c",
            "Due_Date__c",
            "Description__c",
        ] {
            let (_, f) = p.field(name).unwrap();
            assert!(f.custom && f.nillable && !f.required(), "{name}");
        }
        assert_eq!(p.name_field(), p.field("Name").map(|(i, _)| i));
        assert!(p.field("Name").unwrap().1.required());
        assert_eq!(p.relationship("account__r").unwrap().1.name, "Account__c");
        let status = p.field("Status__c").unwrap().1;
        assert!(status.restricted && status.default.is_none());
    }

    #[test]
    fn opportunity_contact_roles_tie_a_contact_to_an_opportunity() {
        let r = obj(OPPORTUNITY_CONTACT_ROLE);
        assert!(!r.custom() && !r.searchable);
        assert_eq!(
            by_prefix("00K").map(|(i, _)| i),
            Some(OPPORTUNITY_CONTACT_ROLE)
        );
        assert_eq!(r.name_field(), None);
        assert!(r.field("OwnerId").is_none());
        let opp = r.field("OpportunityId").unwrap().1;
        assert!(opp.required() && opp.createable && !opp.updateable);
        assert_eq!(
            r.relationship("opportunity").unwrap().1.name,
            "OpportunityId"
        );
        let contact = r.field("ContactId").unwrap().1;
        assert!(contact.required() && contact.updateable);
        assert_eq!(contact.reference_to, ["Contact"]);
        let primary = r.field("IsPrimary").unwrap().1;
        assert!(primary.ty == FType::Boolean && !primary.nillable && !primary.required());
        let role = r.field("Role").unwrap().1;
        assert!(role.nillable && !role.restricted && role.picklist.len() == 9);
    }
}
