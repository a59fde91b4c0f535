//! The CRM's schema: the modules this emulator serves and their fields, as Zoho's
//! `GET /crm/v8/settings/modules` and `GET /crm/v8/settings/fields?module=…` describe them.
//!
//! Field api_names, labels and `data_type` values follow Zoho's standard layouts ("Fields
//! Metadata API", https://www.zoho.com/crm/developer/docs/api/v8/field-meta.html). The data types
//! are the ones the official SDK maps in `Utility.fill_data_type` (text, email, phone, picklist,
//! lookup, ownerlookup, datetime, date, integer, currency, boolean, textarea, website,
//! multiselectpicklist, bigint). The custom module `Meeting_Rooms` stands for a module an admin
//! created: custom modules are addressed by the api_name chosen at creation (no `__c` suffix as in
//! Salesforce) and carry `generated_type: "custom"`.

/// A field's `data_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dt {
    Text,
    TextArea,
    Email,
    Phone,
    Website,
    Picklist,
    MultiPicklist,
    Integer,
    Currency,
    Boolean,
    Date,
    DateTime,
    /// A lookup to one module (`lookup.module.api_name`).
    Lookup,
    /// A lookup whose module is given per record (`What_Id`, `Parent_Id`): Zoho's "multi-module"
    /// lookups, written with `$se_module` or `{"module": {"api_name": …}}`.
    SeLookup,
}

impl Dt {
    pub fn name(self) -> &'static str {
        match self {
            Dt::Text => "text",
            Dt::TextArea => "textarea",
            Dt::Email => "email",
            Dt::Phone => "phone",
            Dt::Website => "website",
            Dt::Picklist => "picklist",
            Dt::MultiPicklist => "multiselectpicklist",
            Dt::Integer => "integer",
            Dt::Currency => "currency",
            Dt::Boolean => "boolean",
            Dt::Date => "date",
            Dt::DateTime => "datetime",
            Dt::Lookup | Dt::SeLookup => "lookup",
        }
    }

    pub fn json_type(self) -> &'static str {
        match self {
            Dt::Integer => "integer",
            Dt::Currency => "double",
            Dt::Boolean => "boolean",
            Dt::Lookup | Dt::SeLookup => "jsonobject",
            Dt::MultiPicklist => "jsonarray",
            _ => "string",
        }
    }
}

/// One field of a module.
#[derive(Debug)]
pub struct FieldDef {
    pub api: &'static str,
    pub label: &'static str,
    pub dt: Dt,
    pub mandatory: bool,
    /// "Do not allow duplicate values": an insert or update with a value another record holds
    /// fails with `DUPLICATE_DATA`.
    pub unique: bool,
    pub length: u32,
    /// The module a `Lookup` points to.
    pub lookup: Option<&'static str>,
    pub picklist: &'static [&'static str],
}

const fn f(api: &'static str, label: &'static str, dt: Dt) -> FieldDef {
    FieldDef {
        api,
        label,
        dt,
        mandatory: false,
        unique: false,
        length: match dt {
            Dt::TextArea => 32000,
            Dt::Email | Dt::Phone => 100,
            Dt::Integer => 9,
            Dt::Currency => 16,
            _ => 255,
        },
        lookup: None,
        picklist: &[],
    }
}

const fn req(mut d: FieldDef) -> FieldDef {
    d.mandatory = true;
    d
}

const fn uniq(mut d: FieldDef) -> FieldDef {
    d.unique = true;
    d
}

const fn lk(api: &'static str, label: &'static str, module: &'static str) -> FieldDef {
    let mut d = f(api, label, Dt::Lookup);
    d.lookup = Some(module);
    d
}

const fn pl(api: &'static str, label: &'static str, values: &'static [&'static str]) -> FieldDef {
    let mut d = f(api, label, Dt::Picklist);
    d.picklist = values;
    d
}

/// One module.
#[derive(Debug)]
pub struct ModuleDef {
    pub api: &'static str,
    pub singular: &'static str,
    pub plural: &'static str,
    pub custom: bool,
    /// The module's part of an OAuth scope (`ZohoCRM.modules.{scope}.READ`); custom modules
    /// share `custom`.
    pub scope: &'static str,
    /// Fixed per module; the org prefix is put in front to make the 19-digit id.
    pub id_suffix: u64,
    pub fields: &'static [FieldDef],
    /// The field a lookup to this module shows as `name`, and the deleted-record `display_name`.
    pub name_field: &'static str,
    /// Upsert's default `duplicate_check_fields` ("Upsert Records" API doc: Leads/Contacts:
    /// Email; Accounts: Account_Name; Deals: Deal_Name; custom modules: Name, plus the unique
    /// fields of the module).
    pub dup_default: &'static [&'static str],
}

const LEAD_SOURCE: &[&str] = &[
    "-None-",
    "Advertisement",
    "Cold Call",
    "Employee Referral",
    "External Referral",
    "Online Store",
    "Partner",
    "Public Relations",
    "Sales Email Alias",
    "Seminar Partner",
    "Internal Seminar",
    "Trade Show",
    "Web Download",
    "Web Research",
    "Chat",
];

const INDUSTRY: &[&str] = &[
    "-None-",
    "Technology",
    "Manufacturing",
    "Retail",
    "Finance",
    "Logistics",
    "Construction",
    "Food & Beverage",
    "Government/Military",
    "Non-management ISV",
];

pub static MODULES: &[ModuleDef] = &[
    ModuleDef {
        api: "Leads",
        singular: "Lead",
        plural: "Leads",
        custom: false,
        scope: "leads",
        id_suffix: 2175,
        name_field: "Full_Name",
        dup_default: &["Email"],
        fields: &[
            f("First_Name", "First Name", Dt::Text),
            req(f("Last_Name", "Last Name", Dt::Text)),
            f("Full_Name", "Lead Name", Dt::Text),
            req(f("Company", "Company", Dt::Text)),
            uniq(f("Email", "Email", Dt::Email)),
            f("Phone", "Phone", Dt::Phone),
            f("Mobile", "Mobile", Dt::Phone),
            f("Designation", "Title", Dt::Text),
            pl("Lead_Source", "Lead Source", LEAD_SOURCE),
            pl(
                "Lead_Status",
                "Lead Status",
                &[
                    "-None-",
                    "Attempted to Contact",
                    "Contact in Future",
                    "Contacted",
                    "Junk Lead",
                    "Lost Lead",
                    "Not Contacted",
                    "Pre-Qualified",
                    "Not Qualified",
                ],
            ),
            pl("Industry", "Industry", INDUSTRY),
            f("Website", "Website", Dt::Website),
            f("City", "City", Dt::Text),
            f("Annual_Revenue", "Annual Revenue", Dt::Currency),
            f("No_of_Employees", "No. of Employees", Dt::Integer),
            f("Email_Opt_Out", "Email Opt Out", Dt::Boolean),
            f("Description", "Description", Dt::TextArea),
        ],
    },
    ModuleDef {
        api: "Contacts",
        singular: "Contact",
        plural: "Contacts",
        custom: false,
        scope: "contacts",
        id_suffix: 2179,
        name_field: "Full_Name",
        dup_default: &["Email"],
        fields: &[
            f("First_Name", "First Name", Dt::Text),
            req(f("Last_Name", "Last Name", Dt::Text)),
            f("Full_Name", "Contact Name", Dt::Text),
            uniq(f("Email", "Email", Dt::Email)),
            f("Phone", "Phone", Dt::Phone),
            f("Mobile", "Mobile", Dt::Phone),
            lk("Account_Name", "Account Name", "Accounts"),
            f("Title", "Title", Dt::Text),
            f("Department", "Department", Dt::Text),
            pl("Lead_Source", "Lead Source", LEAD_SOURCE),
            f("Mailing_City", "Mailing City", Dt::Text),
            f("Date_of_Birth", "Date of Birth", Dt::Date),
            f("Email_Opt_Out", "Email Opt Out", Dt::Boolean),
            f("Description", "Description", Dt::TextArea),
        ],
    },
    ModuleDef {
        api: "Accounts",
        singular: "Account",
        plural: "Accounts",
        custom: false,
        scope: "accounts",
        id_suffix: 2177,
        name_field: "Account_Name",
        dup_default: &["Account_Name"],
        fields: &[
            req(f("Account_Name", "Account Name", Dt::Text)),
            f("Phone", "Phone", Dt::Phone),
            f("Website", "Website", Dt::Website),
            pl("Industry", "Industry", INDUSTRY),
            pl(
                "Account_Type",
                "Account Type",
                &[
                    "-None-",
                    "Analyst",
                    "Competitor",
                    "Customer",
                    "Distributor",
                    "Integrator",
                    "Investor",
                    "Other",
                    "Partner",
                    "Press",
                    "Prospect",
                    "Reseller",
                    "Supplier",
                    "Vendor",
                ],
            ),
            f("Billing_City", "Billing City", Dt::Text),
            f("Employees", "Employees", Dt::Integer),
            f("Annual_Revenue", "Annual Revenue", Dt::Currency),
            lk("Parent_Account", "Parent Account", "Accounts"),
            f("Description", "Description", Dt::TextArea),
        ],
    },
    ModuleDef {
        api: "Deals",
        singular: "Deal",
        plural: "Deals",
        custom: false,
        scope: "deals",
        id_suffix: 2181,
        name_field: "Deal_Name",
        dup_default: &["Deal_Name"],
        fields: &[
            req(f("Deal_Name", "Deal Name", Dt::Text)),
            req(pl(
                "Stage",
                "Stage",
                &[
                    "Qualification",
                    "Needs Analysis",
                    "Value Proposition",
                    "Identify Decision Makers",
                    "Proposal/Price Quote",
                    "Negotiation/Review",
                    "Closed Won",
                    "Closed Lost",
                    "Closed-Lost to Competition",
                ],
            )),
            f("Amount", "Amount", Dt::Currency),
            f("Closing_Date", "Closing Date", Dt::Date),
            lk("Account_Name", "Account Name", "Accounts"),
            lk("Contact_Name", "Contact Name", "Contacts"),
            f("Probability", "Probability (%)", Dt::Integer),
            pl("Lead_Source", "Lead Source", LEAD_SOURCE),
            f("Description", "Description", Dt::TextArea),
        ],
    },
    ModuleDef {
        api: "Notes",
        singular: "Note",
        plural: "Notes",
        custom: false,
        scope: "notes",
        id_suffix: 2187,
        name_field: "Note_Title",
        dup_default: &[],
        fields: &[
            f("Note_Title", "Note Title", Dt::Text),
            req(f("Note_Content", "Note Content", Dt::TextArea)),
            req(f("Parent_Id", "Parent ID", Dt::SeLookup)),
        ],
    },
    ModuleDef {
        api: "Tasks",
        singular: "Task",
        plural: "Tasks",
        custom: false,
        scope: "tasks",
        id_suffix: 2183,
        name_field: "Subject",
        dup_default: &[],
        fields: &[
            req(f("Subject", "Subject", Dt::Text)),
            f("Due_Date", "Due Date", Dt::Date),
            pl(
                "Status",
                "Status",
                &[
                    "Not Started",
                    "Deferred",
                    "In Progress",
                    "Completed",
                    "Waiting for input",
                ],
            ),
            pl(
                "Priority",
                "Priority",
                &["High", "Highest", "Low", "Lowest", "Normal"],
            ),
            lk("Who_Id", "Contact Name", "Contacts"),
            f("What_Id", "Related To", Dt::SeLookup),
            f("Description", "Description", Dt::TextArea),
        ],
    },
    ModuleDef {
        api: "Calls",
        singular: "Call",
        plural: "Calls",
        custom: false,
        scope: "calls",
        id_suffix: 2185,
        name_field: "Subject",
        dup_default: &[],
        fields: &[
            req(f("Subject", "Subject", Dt::Text)),
            req(pl(
                "Call_Type",
                "Call Type",
                &["Outbound", "Inbound", "Missed"],
            )),
            req(f("Call_Start_Time", "Call Start Time", Dt::DateTime)),
            // `mm:ss` (minutes may exceed 59): what Zoho's "Log a call" form takes as minutes
            // and seconds. Required for a completed call (see `records::activity_rules`).
            f("Call_Duration", "Call Duration", Dt::Text),
            // Outbound calls only: "Scheduled" or "Completed" (a logged call); an inbound call
            // is always a completed one ("Kaizen #38 - Calls API",
            // https://help.zoho.com/portal/en/community/topic/kaizen-38-calls-api).
            pl(
                "Outbound_Call_Status",
                "Outbound Call Status",
                &["Scheduled", "Completed", "Overdue", "Cancelled"],
            ),
            lk("Who_Id", "Contact Name", "Contacts"),
            f("What_Id", "Related To", Dt::SeLookup),
            f("Description", "Description", Dt::TextArea),
        ],
    },
    // Meetings: the module's api_name is `Events` ("Kaizen #8 - Handling Recurrence and
    // Participants in the Events Module via API",
    // https://help.zoho.com/portal/en/community/topic/kaizen-8-handling-recurrence-and-participants-in-the-events-module-via-api):
    // `Event_Title`, `Start_DateTime` and `End_DateTime` are mandatory; `Who_Id` is a contact,
    // `What_Id` with `$se_module` any other record (a lead too).
    ModuleDef {
        api: "Events",
        singular: "Meeting",
        plural: "Meetings",
        custom: false,
        scope: "events",
        id_suffix: 2189,
        name_field: "Event_Title",
        dup_default: &[],
        fields: &[
            req(f("Event_Title", "Title", Dt::Text)),
            req(f("Start_DateTime", "From", Dt::DateTime)),
            req(f("End_DateTime", "To", Dt::DateTime)),
            f("All_day", "All day", Dt::Boolean),
            f("Venue", "Venue", Dt::Text),
            lk("Who_Id", "Contact Name", "Contacts"),
            f("What_Id", "Related To", Dt::SeLookup),
            f("Description", "Description", Dt::TextArea),
        ],
    },
    ModuleDef {
        api: "Meeting_Rooms",
        singular: "Meeting Room",
        plural: "Meeting Rooms",
        custom: true,
        scope: "custom",
        id_suffix: 3001,
        name_field: "Name",
        dup_default: &["Name"],
        fields: &[
            req(f("Name", "Meeting Room Name", Dt::Text)),
            uniq(f("Room_Code", "Room Code", Dt::Text)),
            f("Capacity", "Capacity", Dt::Integer),
            f("Location", "Location", Dt::Text),
            f("Has_Video", "Has Video", Dt::Boolean),
            lk("Booking_Contact", "Booking Contact", "Contacts"),
            f("Email", "Email", Dt::Email),
        ],
    },
];

/// The module with this api_name. Zoho matches module names case-insensitively in the URL.
pub fn module_index(api: &str) -> Option<usize> {
    MODULES.iter().position(|m| m.api.eq_ignore_ascii_case(api))
}

/// The modules whose records can be a Note's parent or a Task's, Call's or Event's `What_Id`.
pub fn se_module_ok(module: usize) -> bool {
    !matches!(MODULES[module].api, "Notes" | "Tasks" | "Calls" | "Events")
}

/// The system fields every module has besides its own (Zoho lists them in the fields metadata).
pub const SYSTEM_FIELDS: &[(&str, &str, &str)] = &[
    ("Owner", "Owner", "ownerlookup"),
    ("Created_By", "Created By", "ownerlookup"),
    ("Modified_By", "Modified By", "ownerlookup"),
    ("Created_Time", "Created Time", "datetime"),
    ("Modified_Time", "Modified Time", "datetime"),
];
