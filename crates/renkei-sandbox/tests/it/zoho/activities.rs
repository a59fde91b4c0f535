//! The activity modules of the Zoho emulator: Calls (completed calls need `Call_Duration` as
//! `mm:ss` and a start in the past; a lead through `What_Id` + `$se_module`), Events
//! (mandatory title and times, no end before the start), their search by subject and time, and
//! their fields metadata.

use reqwest::Method as M;
use serde_json::{Value, json};

use super::{ALL, call, dir, tokens};
use crate::support::TestSandbox;

const Z: &str = "zoho";

struct Api {
    sb: TestSandbox,
    token: String,
}

impl Api {
    async fn start() -> Api {
        let sb = TestSandbox::start().await;
        let d = dir(&sb).await;
        let t = tokens(&sb, &d, &d.jp_org, ALL).await;
        Api {
            token: t["access_token"].as_str().unwrap().to_owned(),
            sb,
        }
    }

    async fn req(&self, method: M, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = self.sb.url(Z, &format!("/jp/api/crm/v8{path}"));
        let (s, b, _) = call(&self.sb, method, &url, &self.token, body).await;
        (s, b)
    }

    async fn insert(&self, module: &str, record: Value) -> (u16, Value) {
        self.req(
            M::POST,
            &format!("/{module}"),
            Some(json!({ "data": [record] })),
        )
        .await
    }

    async fn id(&self, module: &str, record: Value) -> String {
        let (s, b) = self.insert(module, record).await;
        assert_eq!(s, 201, "{b}");
        b["data"][0]["details"]["id"].as_str().unwrap().to_owned()
    }
}

/// The one per-record error of a refused single insert: (code, api_name).
fn refusal(status: u16, body: &Value) -> (String, String) {
    assert_eq!(status, 400, "{body}");
    let r = &body["data"][0];
    assert_eq!(r["status"], "error", "{body}");
    (
        r["code"].as_str().unwrap().to_owned(),
        r["details"]["api_name"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn calls_need_a_duration_once_completed() {
    let a = Api::start().await;
    let lead = a
        .id(
            "Leads",
            json!({"Last_Name": "山田", "Company": "さくら商事"}),
        )
        .await;
    let base = json!({"Subject": "Call", "Call_Start_Time": "2024-01-15T09:30:00+00:00"});
    let with = |extra: Value| {
        let mut r = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        r
    };

    // Every inbound call is a completed one.
    let (s, b) = a
        .insert("Calls", with(json!({"Call_Type": "Inbound"})))
        .await;
    assert_eq!(
        refusal(s, &b),
        ("INVALID_DATA".into(), "Call_Duration".into())
    );
    let (s, b) = a
        .insert(
            "Calls",
            with(json!({"Call_Type": "Outbound", "Outbound_Call_Status": "Completed"})),
        )
        .await;
    assert_eq!(
        refusal(s, &b),
        ("INVALID_DATA".into(), "Call_Duration".into())
    );
    for bad in ["5 min", "5:7", "12:60", ":30", "1:2:3"] {
        let (s, b) = a
            .insert(
                "Calls",
                with(json!({"Call_Type": "Inbound", "Call_Duration": bad})),
            )
            .await;
        assert_eq!(
            refusal(s, &b),
            ("INVALID_DATA".into(), "Call_Duration".into()),
            "{bad}"
        );
    }
    let (s, b) = a
        .insert("Calls", json!({"Subject": "x", "Call_Type": "Inbound"}))
        .await;
    assert_eq!(
        refusal(s, &b),
        ("MANDATORY_NOT_FOUND".into(), "Call_Start_Time".into())
    );
    // A completed call has already started; a scheduled one may lie ahead.
    let future = json!({"Subject": "Call", "Call_Start_Time": "2999-01-01T00:00:00+00:00", "Call_Duration": "01:00"});
    let mut inbound = future.clone();
    inbound["Call_Type"] = json!("Inbound");
    let (s, b) = a.insert("Calls", inbound).await;
    assert_eq!(
        refusal(s, &b),
        ("INVALID_DATA".into(), "Call_Start_Time".into())
    );
    let mut scheduled = future.clone();
    scheduled["Call_Type"] = json!("Outbound");
    scheduled["Outbound_Call_Status"] = json!("Scheduled");
    let (s, b) = a.insert("Calls", scheduled).await;
    assert_eq!(s, 201, "{b}");
    // A scheduled outbound call has no duration yet.
    let (s, b) = a
        .insert(
            "Calls",
            with(json!({"Call_Type": "Outbound", "Outbound_Call_Status": "Scheduled"})),
        )
        .await;
    assert_eq!(s, 201, "{b}");

    // A logged call on a lead: `What_Id` with `$se_module`.
    let id = a
        .id(
            "Calls",
            with(json!({
                "Call_Type": "Outbound", "Outbound_Call_Status": "Completed",
                "Call_Duration": "75:05", "What_Id": {"id": lead}, "$se_module": "Leads",
                "Description": "memo",
            })),
        )
        .await;
    let (s, b) = a.req(M::GET, &format!("/Calls/{id}"), None).await;
    assert_eq!(s, 200, "{b}");
    let r = &b["data"][0];
    assert_eq!(r["Call_Duration"], "75:05");
    assert_eq!(r["Call_Start_Time"], "2024-01-15T18:30:00+09:00");
    assert_eq!(r["What_Id"]["id"], lead.as_str());
    assert_eq!(r["What_Id"]["name"], "山田");
    assert_eq!(r["$se_module"], "Leads");
    assert_eq!(r["Outbound_Call_Status"], "Completed");

    // An update may not leave a completed call with a malformed duration.
    let (s, b) = a
        .req(
            M::PUT,
            &format!("/Calls/{id}"),
            Some(json!({"data": [{"Call_Duration": "soon"}]})),
        )
        .await;
    assert_eq!(
        refusal(s, &b),
        ("INVALID_DATA".into(), "Call_Duration".into())
    );

    // Found by subject and a time window; not by another minute.
    let q = |from: &str, to: &str| {
        format!("/Calls/search?criteria=((Subject:equals:call)and(Call_Start_Time:between:{from},{to}))&fields=Subject,Description")
            .replace('+', "%2B")
    };
    let (s, b) = a
        .req(
            M::GET,
            &q("2024-01-15T09:30:00+00:00", "2024-01-15T09:30:59+00:00"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let ids: Vec<&str> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{b}");
    assert!(ids.contains(&id.as_str()));
    let (s, _) = a
        .req(
            M::GET,
            &q("2024-01-15T09:31:00+00:00", "2024-01-15T09:31:59+00:00"),
            None,
        )
        .await;
    assert_eq!(s, 204);
}

#[tokio::test]
async fn events_need_a_title_and_ordered_times() {
    let a = Api::start().await;
    let contact = a.id("Contacts", json!({"Last_Name": "佐藤"})).await;
    let lead = a
        .id(
            "Leads",
            json!({"Last_Name": "山田", "Company": "さくら商事"}),
        )
        .await;
    let (s, b) = a
        .insert(
            "Events",
            json!({"Event_Title": "商談", "Start_DateTime": "2024-01-15T09:30:00+00:00"}),
        )
        .await;
    assert_eq!(
        refusal(s, &b),
        ("MANDATORY_NOT_FOUND".into(), "End_DateTime".into())
    );
    let (s, b) = a
        .insert(
            "Events",
            json!({"Event_Title": "商談", "Start_DateTime": "2024-01-15T09:30:00+00:00", "End_DateTime": "2024-01-15T09:29:00+00:00"}),
        )
        .await;
    assert_eq!(
        refusal(s, &b),
        ("INVALID_DATA".into(), "End_DateTime".into())
    );
    // A task cannot be an event's "Related To".
    let task = a.id("Tasks", json!({"Subject": "todo"})).await;
    let (s, b) = a
        .insert(
            "Events",
            json!({"Event_Title": "x", "Start_DateTime": "2024-01-15T09:30:00+00:00", "End_DateTime": "2024-01-15T10:30:00+00:00", "What_Id": {"id": task}, "$se_module": "Tasks"}),
        )
        .await;
    assert_eq!(refusal(s, &b), ("INVALID_DATA".into(), "What_Id".into()));

    let id = a
        .id(
            "Events",
            json!({
                "Event_Title": "商談", "Start_DateTime": "2024-01-15T09:30:00+00:00",
                "End_DateTime": "2024-01-15T10:30:00+00:00", "Who_Id": {"id": contact},
                "What_Id": {"id": lead}, "$se_module": "Leads", "Description": "agenda",
            }),
        )
        .await;
    let (s, b) = a
        .req(
            M::GET,
            &format!("/Events?fields=Event_Title,Start_DateTime,End_DateTime,Who_Id,What_Id,Description&ids={id}"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let r = &b["data"][0];
    assert_eq!(r["Event_Title"], "商談");
    assert_eq!(r["Start_DateTime"], "2024-01-15T18:30:00+09:00");
    assert_eq!(r["End_DateTime"], "2024-01-15T19:30:00+09:00");
    assert_eq!(r["Who_Id"]["id"], contact.as_str());
    assert_eq!(r["What_Id"]["id"], lead.as_str());
    assert_eq!(r["$se_module"], "Leads");

    // Moving the end before the start is refused on update too.
    let (s, b) = a
        .req(
            M::PUT,
            &format!("/Events/{id}"),
            Some(json!({"data": [{"End_DateTime": "2024-01-15T08:00:00+00:00"}]})),
        )
        .await;
    assert_eq!(
        refusal(s, &b),
        ("INVALID_DATA".into(), "End_DateTime".into())
    );
}

#[tokio::test]
async fn activity_fields_metadata() {
    let a = Api::start().await;
    let field = |b: &Value, name: &str| -> Value {
        b["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["api_name"] == name)
            .unwrap_or_else(|| panic!("{name}"))
            .clone()
    };
    let (s, b) = a.req(M::GET, "/settings/fields?module=Events", None).await;
    assert_eq!(s, 200, "{b}");
    for (name, dt, mandatory) in [
        ("Event_Title", "text", true),
        ("Start_DateTime", "datetime", true),
        ("End_DateTime", "datetime", true),
        ("Description", "textarea", false),
        ("Who_Id", "lookup", false),
        ("What_Id", "lookup", false),
    ] {
        let f = field(&b, name);
        assert_eq!(f["data_type"], dt, "{name}");
        assert_eq!(f["system_mandatory"], mandatory, "{name}");
    }
    let (s, b) = a.req(M::GET, "/settings/fields?module=Calls", None).await;
    assert_eq!(s, 200, "{b}");
    let status = field(&b, "Outbound_Call_Status");
    assert_eq!(status["data_type"], "picklist");
    let values: Vec<&str> = status["pick_list_values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["actual_value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["Scheduled", "Completed", "Overdue", "Cancelled"]);
    let (s, b) = a.req(M::GET, "/settings/modules/Events", None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["modules"][0]["api_name"], "Events");
    assert_eq!(b["modules"][0]["singular_label"], "Meeting");
}
