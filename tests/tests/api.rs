//! The GraphQL API as each kind of person meets it: an administrator, an employee, an
//! extranet user, a guest, and the administrator of another account. Every query and
//! mutation is asked by the people who may and by people who may not, and both what
//! they get and what they are refused is checked.

use e2e::{data, error_code, App, Auth, Backend, SmtpSink, SESSION_COOKIE};
use serde_json::{json, Value};

const PASSWORD: &str = "a passphrase of their own";

/// Follows the newest invitation link mailed to `email`, fills in a name and a
/// password, and returns the session the acceptance opens.
async fn join(app: &App, smtp: &SmtpSink, email: &str, first: &str, last: &str) -> Auth {
    let mail = smtp.wait_for_mail_to(email).await;
    let link = mail.link().expect("the invitation has a link");
    let mut page = app.open_invitation(&link).await;
    page.form
        .fill("first_name", first)
        .fill("last_name", last)
        .fill("password", PASSWORD);
    let accepted = app.submit_invitation(&page.action, &page.form).await;
    let cookie = accepted
        .cookie(SESSION_COOKIE)
        .unwrap_or_else(|| panic!("accepting logs {email} in: {}", accepted.body));
    Auth::Session(cookie)
}

/// The ids of a connection's nodes at `path`.
fn ids(response: &Value, path: &str) -> Vec<String> {
    data(response.clone(), path)["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{path} is a connection: {response}"))
        .iter()
        .map(|edge| edge["node"]["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn user_error_code(response: &Value, path: &str) -> String {
    data(response.clone(), path)["userErrors"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

const INVITE_PEOPLE: &str = "mutation($input: InvitePeopleInput!) {
  invitePeople(input: $input) {
    workgroup { id extranet }
    results { address invitation { id personId status } error { code message } }
    userErrors { code message }
  }
}";
const CREATE_TASK: &str = "mutation($input: CreateTaskInput!) {
  createTask(input: $input) { task { id } userErrors { code message } }
}";
const PEOPLE: &str = "{ people(first: 100) { edges { node { id kind status } } } }";
const WORKGROUPS: &str = "{ workgroups { edges { node { id name extranet } } } }";
const MEMBERS: &str = "query($id: ID!) { workgroup(id: $id) {
  members { edges { node { person { id } role } } }
  tasks { edges { node { id title } } }
} }";
const ACTIVITY: &str =
    "{ activity(first: 50) { edges { node { kind extranet workgroupId detail } } } }";
const CAN_MESSAGE: &str = "query($id: ID!) { canMessage(personId: $id) }";
const EXPLAIN: &str =
    "query($q: AccessQuestion!) { explainAccess(question: $q) { allowed because } }";
const TASK: &str = "query($id: ID!) { task(id: $id) { id title description } }";
const PERSON_INPUT: &str = "mutation($input: PersonInput!) {
  dismissPerson(input: $input) { person { id status } userErrors { code message } }
}";

#[tokio::test]
async fn every_kind_of_person_gets_what_is_theirs_and_nothing_else() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Sqlite, &smtp).await;
    let admin = app.login_admin().await;

    // An employee, judged address by address: the nonsense one is refused alone.
    let invited = app
        .graphql(
            &admin,
            INVITE_PEOPLE,
            json!({ "input": { "addresses": "emma@acme.test; not-an-address", "kind": "EMPLOYEE" } }),
        )
        .await;
    let results = data(invited.clone(), "/invitePeople")["results"].clone();
    assert_eq!(results.as_array().map(Vec::len), Some(2), "{invited}");
    assert_eq!(results[0]["invitation"]["status"], "PENDING", "{invited}");
    assert!(results[1]["invitation"].is_null(), "{invited}");
    assert!(results[1]["error"]["code"].is_string(), "{invited}");
    let emma_id = results[0]["invitation"]["personId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // An extranet user, into a new extranet group made for them.
    let invited = app
        .graphql(
            &admin,
            INVITE_PEOPLE,
            json!({ "input": { "addresses": "xavier@partner.test", "kind": "EXTRANET", "newWorkgroupName": "Partner room" } }),
        )
        .await;
    let payload = data(invited.clone(), "/invitePeople");
    assert_eq!(payload["workgroup"]["extranet"], true, "{invited}");
    let room = payload["workgroup"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let xavier_id = payload["results"][0]["invitation"]["personId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // A task in the room, and one outside it with a guest.
    let in_room = app
        .graphql(
            &admin,
            CREATE_TASK,
            json!({ "input": { "title": "Room plan", "workgroupId": room } }),
        )
        .await;
    let room_task = data(in_room, "/createTask")["task"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let outside = app
        .create_task(&admin, "Print run", Some("200 copies"))
        .await;
    let guest_invited = app
        .invite_guest(
            &admin,
            &outside,
            "gus@client.test",
            "Gus",
            "Guest",
            "OBSERVER",
        )
        .await;
    let gus_id = guest_invited["invitation"]["personId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // The invited list: three waiting, for administrators only.
    let waiting = app
        .graphql(
            &admin,
            "{ invitations { edges { node { id status kind } } } }",
            json!({}),
        )
        .await;
    assert_eq!(ids(&waiting, "/invitations").len(), 3, "{waiting}");

    let emma = join(&app, &smtp, "emma@acme.test", "Emma", "Employee").await;
    let xavier = join(&app, &smtp, "xavier@partner.test", "Xavier", "Partner").await;
    let gus = join(&app, &smtp, "gus@client.test", "Gus", "Guest").await;
    let refused = app
        .graphql(
            &emma,
            "{ invitations { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");

    // Another account entirely.
    let olga = app.other_account(PASSWORD).await;

    // People: each sees exactly whom the rules let them see.
    let mut everyone = vec![
        app.admin_id.clone(),
        emma_id.clone(),
        xavier_id.clone(),
        gus_id.clone(),
    ];
    everyone.sort();
    let mut seen = ids(&app.graphql(&admin, PEOPLE, json!({})).await, "/people");
    seen.sort();
    assert_eq!(seen, everyone, "the administrator sees everyone");
    let mut seen = ids(&app.graphql(&emma, PEOPLE, json!({})).await, "/people");
    seen.sort();
    let mut employees = vec![app.admin_id.clone(), emma_id.clone()];
    employees.sort();
    assert_eq!(
        seen, employees,
        "an employee sees employees, not outsiders they share nothing with"
    );
    let mut seen = ids(&app.graphql(&xavier, PEOPLE, json!({})).await, "/people");
    seen.sort();
    let mut room_people = vec![app.admin_id.clone(), xavier_id.clone()];
    room_people.sort();
    assert_eq!(
        seen, room_people,
        "an extranet user sees the people of their group"
    );
    let mut seen = ids(&app.graphql(&gus, PEOPLE, json!({})).await, "/people");
    seen.sort();
    let mut task_people = vec![app.admin_id.clone(), gus_id.clone()];
    task_people.sort();
    assert_eq!(seen, task_people, "a guest sees the people of their task");
    assert_eq!(
        ids(&app.graphql(&olga, PEOPLE, json!({})).await, "/people").len(),
        1,
        "another account's administrator sees only their own"
    );

    // Workgroups and what is in them.
    assert_eq!(
        ids(
            &app.graphql(&admin, WORKGROUPS, json!({})).await,
            "/workgroups"
        ),
        vec![room.clone()]
    );
    assert!(ids(
        &app.graphql(&emma, WORKGROUPS, json!({})).await,
        "/workgroups"
    )
    .is_empty());
    assert_eq!(
        ids(
            &app.graphql(&xavier, WORKGROUPS, json!({})).await,
            "/workgroups"
        ),
        vec![room.clone()]
    );
    assert!(ids(
        &app.graphql(&gus, WORKGROUPS, json!({})).await,
        "/workgroups"
    )
    .is_empty());
    assert!(ids(
        &app.graphql(&olga, WORKGROUPS, json!({})).await,
        "/workgroups"
    )
    .is_empty());
    let inside = app.graphql(&xavier, MEMBERS, json!({ "id": room })).await;
    let members = data(inside.clone(), "/workgroup")["members"]["edges"].clone();
    assert_eq!(members.as_array().map(Vec::len), Some(2), "{inside}");
    assert_eq!(
        data(inside.clone(), "/workgroup")["tasks"]["edges"][0]["node"]["id"],
        room_task.as_str()
    );
    for outsider in [&emma, &gus, &olga] {
        let refused = app.graphql(outsider, MEMBERS, json!({ "id": room })).await;
        assert_eq!(error_code(&refused), "NOT_FOUND", "{refused}");
    }

    // The activity stream: the room's, marked extranet, for its members only.
    let stream = app.graphql(&xavier, ACTIVITY, json!({})).await;
    let entries = data(stream.clone(), "/activity")["edges"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        entries
            .iter()
            .any(|e| e["node"]["kind"] == "task_created" && e["node"]["extranet"] == true),
        "{stream}"
    );
    for outsider in [&emma, &gus, &olga] {
        let stream = app.graphql(outsider, ACTIVITY, json!({})).await;
        assert_eq!(
            data(stream.clone(), "/activity")["edges"],
            json!([]),
            "{stream}"
        );
    }

    // Direct messages.
    let ask = async |who: &Auth, id: &str| app.graphql(who, CAN_MESSAGE, json!({ "id": id })).await;
    assert_eq!(data(ask(&emma, &app.admin_id).await, "/canMessage"), true);
    assert_eq!(data(ask(&xavier, &app.admin_id).await, "/canMessage"), true);
    assert_eq!(data(ask(&gus, &app.admin_id).await, "/canMessage"), false);
    assert_eq!(error_code(&ask(&emma, &xavier_id).await), "NOT_FOUND");
    assert_eq!(error_code(&ask(&olga, &app.admin_id).await), "NOT_FOUND");

    // Why: the chain of facts for a yes; "why not" only for administrators.
    let why = app
        .graphql(&xavier, EXPLAIN, json!({ "q": { "taskId": room_task } }))
        .await;
    let why = data(why, "/explainAccess");
    assert_eq!(why["allowed"], true, "{why}");
    assert!(
        why["because"].to_string().contains("Partner room")
            || why["because"].to_string().contains("group"),
        "{why}"
    );
    let hidden = app
        .graphql(&gus, EXPLAIN, json!({ "q": { "taskId": room_task } }))
        .await;
    assert_eq!(error_code(&hidden), "NOT_FOUND", "{hidden}");
    let why_not = app
        .graphql(
            &admin,
            EXPLAIN,
            json!({ "q": { "personId": gus_id, "taskId": room_task } }),
        )
        .await;
    assert_eq!(data(why_not, "/explainAccess")["allowed"], false);
    let nosy = app
        .graphql(
            &emma,
            EXPLAIN,
            json!({ "q": { "personId": gus_id, "taskId": outside } }),
        )
        .await;
    assert_eq!(error_code(&nosy), "FORBIDDEN", "{nosy}");

    // Tasks: comments, roles, details.
    let comment = "mutation($input: CommentOnTaskInput!) { commentOnTask(input: $input) { task { id } userErrors { code } } }";
    let said = app
        .graphql(
            &gus,
            comment,
            json!({ "input": { "taskId": outside, "text": "Looks good" } }),
        )
        .await;
    assert_eq!(data(said, "/commentOnTask")["task"]["id"], outside.as_str());
    let stray = app
        .graphql(
            &gus,
            comment,
            json!({ "input": { "taskId": room_task, "text": "hi" } }),
        )
        .await;
    assert_eq!(error_code(&stray), "NOT_FOUND");
    assert_eq!(
        error_code(&app.graphql(&emma, TASK, json!({ "id": outside })).await),
        "NOT_FOUND"
    );
    let assign = "mutation($input: AssignToTaskInput!) { assignToTask(input: $input) { task { id } userErrors { code } } }";
    let unassign = "mutation($input: UnassignFromTaskInput!) { unassignFromTask(input: $input) { task { id } userErrors { code } } }";
    let refused = app
        .graphql(
            &gus,
            assign,
            json!({ "input": { "taskId": outside, "personId": gus_id, "role": "PARTICIPANT" } }),
        )
        .await;
    assert_eq!(
        user_error_code(&refused, "/assignToTask"),
        "FORBIDDEN",
        "{refused}"
    );
    app.graphql(
        &admin,
        assign,
        json!({ "input": { "taskId": outside, "personId": emma_id, "role": "PARTICIPANT" } }),
    )
    .await;
    assert_eq!(
        data(
            app.graphql(&emma, TASK, json!({ "id": outside })).await,
            "/task"
        )["id"],
        outside.as_str()
    );
    app.graphql(
        &admin,
        unassign,
        json!({ "input": { "taskId": outside, "personId": emma_id } }),
    )
    .await;
    assert_eq!(
        error_code(&app.graphql(&emma, TASK, json!({ "id": outside })).await),
        "NOT_FOUND"
    );
    let update = "mutation($input: UpdateTaskInput!) { updateTask(input: $input) { task { description } userErrors { code } } }";
    let updated = app
        .graphql(&admin, update, json!({ "input": { "taskId": outside, "description": "300 copies", "deadline": "2026-12-24T12:00:00Z" } }))
        .await;
    assert_eq!(
        data(updated, "/updateTask")["task"]["description"],
        "300 copies"
    );
    assert_eq!(
        error_code(&app.graphql(&olga, TASK, json!({ "id": outside })).await),
        "NOT_FOUND"
    );

    // Workgroups: who may make and change them, and the external-access rule.
    let create = "mutation($input: CreateWorkgroupInput!) { createWorkgroup(input: $input) { workgroup { id } userErrors { code } } }";
    let made = app
        .graphql(
            &emma,
            create,
            json!({ "input": { "name": "Design", "extranet": false } }),
        )
        .await;
    let design = data(made, "/createWorkgroup")["workgroup"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let refused = app
        .graphql(
            &gus,
            create,
            json!({ "input": { "name": "Mine", "extranet": false } }),
        )
        .await;
    assert_eq!(user_error_code(&refused, "/createWorkgroup"), "FORBIDDEN");
    let add = "mutation($input: AddMemberInput!) { addWorkgroupMember(input: $input) { workgroup { id } userErrors { code } } }";
    let external = "mutation($input: SetExternalAccessInput!) { setExternalAccess(input: $input) { workgroup { extranet } userErrors { code } } }";
    let added = app
        .graphql(
            &admin,
            add,
            json!({ "input": { "workgroupId": design, "personId": xavier_id, "role": "MEMBER" } }),
        )
        .await;
    assert_eq!(
        user_error_code(&added, "/addWorkgroupMember"),
        "NOT_AN_EXTRANET_GROUP",
        "{added}"
    );
    let opened = app
        .graphql(
            &emma,
            external,
            json!({ "input": { "workgroupId": design, "extranet": true } }),
        )
        .await;
    assert_eq!(
        data(opened, "/setExternalAccess")["workgroup"]["extranet"],
        true
    );
    let added = app
        .graphql(
            &admin,
            add,
            json!({ "input": { "workgroupId": design, "personId": xavier_id, "role": "MEMBER" } }),
        )
        .await;
    assert_eq!(
        data(added.clone(), "/addWorkgroupMember")["workgroup"]["id"],
        design.as_str(),
        "{added}"
    );
    let closed = app
        .graphql(
            &emma,
            external,
            json!({ "input": { "workgroupId": design, "extranet": false } }),
        )
        .await;
    assert_eq!(
        user_error_code(&closed, "/setExternalAccess"),
        "EXTERNAL_MEMBERS_INSIDE",
        "{closed}"
    );
    let meddling = app
        .graphql(
            &xavier,
            external,
            json!({ "input": { "workgroupId": design, "extranet": false } }),
        )
        .await;
    assert_eq!(
        user_error_code(&meddling, "/setExternalAccess"),
        "FORBIDDEN",
        "{meddling}"
    );

    // The account: settings for administrators only; plans changed by them alone.
    let account = "{ account { name plan seatsInUse invitationSettings { registrationLink } } }";
    let mine = data(app.graphql(&admin, account, json!({})).await, "/account");
    assert!(mine["invitationSettings"].is_object(), "{mine}");
    let theirs = data(app.graphql(&emma, account, json!({})).await, "/account");
    assert!(theirs["invitationSettings"].is_null(), "{theirs}");
    let plan =
        "mutation { changePlan(plan: PROFESSIONAL) { account { plan } userErrors { code } } }";
    assert_eq!(
        user_error_code(&app.graphql(&emma, plan, json!({})).await, "/changePlan"),
        "FORBIDDEN"
    );
    assert_eq!(
        data(app.graphql(&admin, plan, json!({})).await, "/changePlan")["account"]["plan"],
        "PROFESSIONAL"
    );
    let settings = "mutation($s: InvitationSettingsInput!) { updateInvitationSettings(settings: $s) { account { name } userErrors { code } } }";
    let blocked = app
        .graphql(
            &admin,
            settings,
            json!({ "s": {
            "everyoneMayInvite": false, "registrationLink": false, "approvalRequired": true,
            "approvalFreeDomains": [], "allowedDomains": [], "blockedDomains": ["spam.test"] } }),
        )
        .await;
    assert_eq!(
        data(blocked.clone(), "/updateInvitationSettings")["userErrors"],
        json!([]),
        "{blocked}"
    );
    let spam = app
        .graphql(
            &admin,
            INVITE_PEOPLE,
            json!({ "input": { "addresses": "eve@spam.test", "kind": "EMPLOYEE" } }),
        )
        .await;
    assert!(
        data(spam.clone(), "/invitePeople")["results"][0]["error"]["code"].is_string(),
        "{spam}"
    );

    // Invitations taken back stop working.
    let invited = app
        .graphql(
            &admin,
            INVITE_PEOPLE,
            json!({ "input": { "addresses": "late@acme.test", "kind": "EMPLOYEE" } }),
        )
        .await;
    let late = data(invited, "/invitePeople")["results"][0]["invitation"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let revoke = "mutation($input: InvitationInput!) { revokeInvitation(input: $input) { invitation { status } userErrors { code } } }";
    assert_eq!(
        error_code(
            &app.graphql(&emma, revoke, json!({ "input": { "invitationId": late } }))
                .await
        ),
        "NOT_FOUND"
    );
    let revoked = app
        .graphql(&admin, revoke, json!({ "input": { "invitationId": late } }))
        .await;
    assert_eq!(
        data(revoked, "/revokeInvitation")["invitation"]["status"],
        "REVOKED"
    );

    // Audit: administrators read a person's history and past standing.
    let history =
        "query($id: ID!) { personHistory(personId: $id) { edges { node { event subject } } } }";
    let record = app.graphql(&admin, history, json!({ "id": gus_id })).await;
    let events = data(record.clone(), "/personHistory")["edges"].to_string();
    assert!(events.contains("PersonJoined"), "{record}");
    assert_eq!(
        error_code(&app.graphql(&emma, history, json!({ "id": emma_id })).await),
        "FORBIDDEN"
    );

    // Dismissal: only administrators; the session ends at once.
    let refused = app
        .graphql(
            &emma,
            PERSON_INPUT,
            json!({ "input": { "personId": app.admin_id } }),
        )
        .await;
    assert_eq!(
        user_error_code(&refused, "/dismissPerson"),
        "FORBIDDEN",
        "{refused}"
    );
    let unseen = app
        .graphql(
            &emma,
            PERSON_INPUT,
            json!({ "input": { "personId": gus_id } }),
        )
        .await;
    assert_eq!(error_code(&unseen), "NOT_FOUND", "{unseen}");
    let foreign = app
        .graphql(
            &olga,
            PERSON_INPUT,
            json!({ "input": { "personId": gus_id } }),
        )
        .await;
    assert_eq!(error_code(&foreign), "NOT_FOUND", "{foreign}");
    let dismissed = app
        .graphql(
            &admin,
            PERSON_INPUT,
            json!({ "input": { "personId": gus_id } }),
        )
        .await;
    assert_eq!(
        data(dismissed, "/dismissPerson")["person"]["status"],
        "DISMISSED"
    );
    let after = app.graphql(&gus, TASK, json!({ "id": outside })).await;
    assert_eq!(error_code(&after), "UNAUTHENTICATED", "{after}");
    let status_at = "query($id: ID!, $at: DateTime!) { personStatusAt(personId: $id, at: $at) }";
    let then = app
        .graphql(
            &admin,
            status_at,
            json!({ "id": gus_id, "at": "2100-01-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(data(then, "/personStatusAt"), "DISMISSED");
}

#[tokio::test]
async fn people_change_their_own_name_password_and_address() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Postgres, &smtp).await;
    let admin = app.login_admin().await;
    app.graphql(
        &admin,
        INVITE_PEOPLE,
        json!({ "input": { "addresses": "emma@acme.test", "kind": "EMPLOYEE" } }),
    )
    .await;
    let emma = join(&app, &smtp, "emma@acme.test", "Emma", "Employee").await;
    let login = async |email: &str, password: &str| {
        let answer = app
            .graphql(
                &Auth::Anonymous,
                "mutation($input: LoginInput!) { login(input: $input) { token } }",
                json!({ "input": { "accountId": app.account_id, "email": email, "password": password } }),
            )
            .await;
        data(answer, "/login")["token"].as_str().map(str::to_owned)
    };
    let second = Auth::Bearer(
        login("emma@acme.test", PASSWORD)
            .await
            .expect("Emma logs in"),
    );

    let renamed = app
        .graphql(
            &emma,
            "mutation($input: UpdateMyProfileInput!) { updateMyProfile(input: $input) { person { firstName lastName } userErrors { code } } }",
            json!({ "input": { "firstName": "Emmy", "lastName": "Employee" } }),
        )
        .await;
    assert_eq!(
        data(renamed, "/updateMyProfile")["person"]["firstName"],
        "Emmy"
    );

    let change = "mutation($input: ChangeMyPasswordInput!) { changeMyPassword(input: $input) { person { id } userErrors { code field } } }";
    let wrong = app
        .graphql(&emma, change, json!({ "input": { "currentPassword": "not it at all", "newPassword": "a brand new passphrase" } }))
        .await;
    assert_eq!(
        user_error_code(&wrong, "/changeMyPassword"),
        "INVALID_CREDENTIALS"
    );
    let short = app
        .graphql(
            &emma,
            change,
            json!({ "input": { "currentPassword": PASSWORD, "newPassword": "short" } }),
        )
        .await;
    assert_eq!(
        user_error_code(&short, "/changeMyPassword"),
        "INVALID_PASSWORD"
    );
    let changed = app
        .graphql(&emma, change, json!({ "input": { "currentPassword": PASSWORD, "newPassword": "a brand new passphrase" } }))
        .await;
    assert_eq!(data(changed, "/changeMyPassword")["userErrors"], json!([]));
    // The session that changed it stays; the other one ends; the old password is gone.
    let me = "{ viewer { id } }";
    assert!(data(app.graphql(&emma, me, json!({})).await, "/viewer")["id"].is_string());
    assert!(data(app.graphql(&second, me, json!({})).await, "/viewer").is_null());
    assert_eq!(login("emma@acme.test", PASSWORD).await, None);

    let move_to = "mutation($input: ChangeMyEmailInput!) { changeMyEmail(input: $input) { person { email } userErrors { code } } }";
    let taken = app
        .graphql(&emma, move_to, json!({ "input": { "email": "admin@acme.test", "currentPassword": "a brand new passphrase" } }))
        .await;
    assert_eq!(user_error_code(&taken, "/changeMyEmail"), "EMAIL_TAKEN");
    let moved = app
        .graphql(&emma, move_to, json!({ "input": { "email": "emmy@acme.test", "currentPassword": "a brand new passphrase" } }))
        .await;
    assert_eq!(
        data(moved, "/changeMyEmail")["person"]["email"],
        "emmy@acme.test"
    );
    assert!(login("emmy@acme.test", "a brand new passphrase")
        .await
        .is_some());
    assert_eq!(
        login("emma@acme.test", "a brand new passphrase").await,
        None
    );
}

#[tokio::test]
async fn an_invitation_is_declined_by_its_link_alone() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Sqlite, &smtp).await;
    let admin = app.login_admin().await;
    let invited = app
        .graphql(
            &admin,
            INVITE_PEOPLE,
            json!({ "input": { "addresses": "nope@acme.test", "kind": "EMPLOYEE" } }),
        )
        .await;
    let api_id = data(invited, "/invitePeople")["results"][0]["invitation"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let link = smtp
        .wait_for_mail_to("nope@acme.test")
        .await
        .link()
        .expect("a link");
    // `…/invitations/{account}/{invitation}?secret={secret}`: everything comes from it.
    let (path, secret) = link
        .split_once("/invitations/")
        .and_then(|(_, rest)| rest.split_once("?secret="))
        .expect("the link carries its secret");
    let secret = secret.split('&').next().unwrap_or_default().to_owned();
    let (account, invitation) = path.split_once('/').expect("account/invitation");
    let decline = "mutation($input: DeclineInvitationInput!) { declineInvitation(input: $input) { invitation { id status } userErrors { code } } }";
    let forged = app
        .graphql(
            &Auth::Anonymous,
            decline,
            json!({ "input": { "accountId": account, "invitationId": invitation, "secret": "0000" } }),
        )
        .await;
    assert_eq!(
        user_error_code(&forged, "/declineInvitation"),
        "INVALID_LINK",
        "{forged}"
    );
    let by_api_id = app
        .graphql(
            &Auth::Anonymous,
            decline,
            json!({ "input": { "accountId": account, "invitationId": api_id, "secret": secret } }),
        )
        .await;
    assert_eq!(
        error_code(&by_api_id),
        "NOT_FOUND",
        "the link's ids, not the API's: {by_api_id}"
    );
    let declined = app
        .graphql(
            &Auth::Anonymous,
            decline,
            json!({ "input": { "accountId": account, "invitationId": invitation, "secret": secret } }),
        )
        .await;
    let answer = data(declined.clone(), "/declineInvitation");
    assert_eq!(answer["invitation"]["status"], "DECLINED", "{declined}");
    assert_eq!(
        answer["invitation"]["id"], api_id,
        "the answer names the invitation by the API's id, not the link's"
    );
    let page = app.get(&link, &Auth::Anonymous).await;
    assert_ne!(
        page.status, 200,
        "a declined link opens nothing: {}",
        page.body
    );
}

/// Runs one of the person-administration mutations on `person` and returns its payload.
async fn administer(app: &App, who: &Auth, mutation: &str, person: &str) -> Value {
    let query = format!(
        "mutation($input: PersonInput!) {{ {mutation}(input: $input) {{ person {{ status kind firstName email }} userErrors {{ code message }} }} }}"
    );
    let answer = app
        .graphql(who, &query, json!({ "input": { "personId": person } }))
        .await;
    data(answer, &format!("/{mutation}"))
}

#[tokio::test]
async fn administrators_run_the_whole_life_of_people_and_groups() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Sqlite, &smtp).await;
    let admin = app.login_admin().await;
    let invited = app
        .graphql(
            &admin,
            INVITE_PEOPLE,
            json!({ "input": { "addresses": "emma@acme.test", "kind": "EMPLOYEE" } }),
        )
        .await;
    let emma_id = data(invited, "/invitePeople")["results"][0]["invitation"]["personId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let emma = join(&app, &smtp, "emma@acme.test", "Emma", "Employee").await;

    // Resending draws a new link; the old one stops working.
    let invited = app
        .graphql(
            &admin,
            INVITE_PEOPLE,
            json!({ "input": { "addresses": "resent@acme.test", "kind": "EMPLOYEE" } }),
        )
        .await;
    let resent = data(invited, "/invitePeople")["results"][0]["invitation"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let first_link = smtp
        .wait_for_mail_to("resent@acme.test")
        .await
        .link()
        .expect("a link");
    let again = app
        .graphql(
            &admin,
            "mutation($input: InvitationInput!) { resendInvitation(input: $input) { invitation { status } userErrors { code } } }",
            json!({ "input": { "invitationId": resent } }),
        )
        .await;
    assert_eq!(
        data(again, "/resendInvitation")["invitation"]["status"],
        "PENDING"
    );
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while smtp.count_to("resent@acme.test") < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the invitation is sent again"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_ne!(app.get(&first_link, &Auth::Anonymous).await.status, 200);

    // Suspension and its lifting; dismissal and reinstatement.
    assert_eq!(
        administer(&app, &admin, "suspendPerson", &emma_id).await["person"]["status"],
        "SUSPENDED_BY_ADMINISTRATOR"
    );
    assert!(data(
        app.graphql(&emma, "{ viewer { id } }", json!({})).await,
        "/viewer"
    )
    .is_null());
    assert_eq!(
        administer(&app, &admin, "liftSuspension", &emma_id).await["person"]["status"],
        "ACTIVE"
    );
    assert_eq!(
        administer(&app, &admin, "dismissPerson", &emma_id).await["person"]["status"],
        "DISMISSED"
    );
    assert_eq!(
        administer(&app, &admin, "reinstatePerson", &emma_id).await["person"]["status"],
        "ACTIVE"
    );
    assert_eq!(
        administer(&app, &admin, "reinstatePerson", &emma_id).await["userErrors"][0]["code"],
        "NOT_DISMISSED"
    );
    // Reinstated, she has her address back: nobody else can be invited with it.
    let twin = app
        .graphql(
            &admin,
            INVITE_PEOPLE,
            json!({ "input": { "addresses": "emma@acme.test", "kind": "EMPLOYEE" } }),
        )
        .await;
    assert!(
        data(twin.clone(), "/invitePeople")["results"][0]["invitation"].is_null(),
        "{twin}"
    );
    assert_eq!(
        administer(&app, &admin, "dismissPerson", &app.admin_id).await["userErrors"][0]["code"],
        "SELF"
    );

    // A company group, then Emma converted to an extranet user: she leaves it.
    let create = "mutation($input: CreateWorkgroupInput!) { createWorkgroup(input: $input) { workgroup { id } } }";
    let made = app
        .graphql(
            &admin,
            create,
            json!({ "input": { "name": "Sales", "extranet": false } }),
        )
        .await;
    let sales = data(made, "/createWorkgroup")["workgroup"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let add = "mutation($input: AddMemberInput!) { addWorkgroupMember(input: $input) { workgroup { id } userErrors { code } } }";
    app.graphql(
        &admin,
        add,
        json!({ "input": { "workgroupId": sales, "personId": emma_id, "role": "MEMBER" } }),
    )
    .await;
    let role = "mutation($input: ChangeMemberRoleInput!) { changeMemberRole(input: $input) { workgroup { id } userErrors { code } } }";
    let promoted = app
        .graphql(
            &admin,
            role,
            json!({ "input": { "workgroupId": sales, "personId": emma_id, "role": "MODERATOR" } }),
        )
        .await;
    assert_eq!(data(promoted, "/changeMemberRole")["userErrors"], json!([]));
    let rename = "mutation($input: RenameWorkgroupInput!) { renameWorkgroup(input: $input) { workgroup { name } userErrors { code } } }";
    let renamed = app
        .graphql(
            &emma,
            rename,
            json!({ "input": { "workgroupId": sales, "name": "Sales and marketing" } }),
        )
        .await;
    assert_eq!(
        data(renamed, "/renameWorkgroup")["workgroup"]["name"],
        "Sales and marketing",
        "a moderator manages the group"
    );
    let policy = "mutation($input: SetInvitePolicyInput!) { setInvitePolicy(input: $input) { workgroup { id } userErrors { code } } }";
    let set = app
        .graphql(
            &admin,
            policy,
            json!({ "input": { "workgroupId": sales, "policy": "MEMBERS" } }),
        )
        .await;
    assert_eq!(data(set, "/setInvitePolicy")["userErrors"], json!([]));
    let expiry = "mutation($input: SetMembershipExpiryInput!) { setMembershipExpiry(input: $input) { workgroup { id } userErrors { code } } }";
    let set = app
        .graphql(&admin, expiry, json!({ "input": { "workgroupId": sales, "personId": emma_id, "expiresAt": "2100-01-01T00:00:00Z" } }))
        .await;
    assert_eq!(data(set, "/setMembershipExpiry")["userErrors"], json!([]));
    let members = app.graphql(&admin, MEMBERS, json!({ "id": sales })).await;
    assert_eq!(
        data(members.clone(), "/workgroup")["members"]["edges"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "{members}"
    );

    let converted = administer(&app, &admin, "convertToExtranet", &emma_id).await;
    assert_eq!(converted["person"]["kind"], "EXTRANET", "{converted}");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        // The reactor takes her out of the company group a moment later.
        let left = app
            .graphql(
                &emma,
                "query($id: ID!) { workgroup(id: $id) { id } }",
                json!({ "id": sales }),
            )
            .await;
        if error_code(&left) == "NOT_FOUND" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "an extranet user leaves company groups: {left}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Access end dates for external people.
    let access = "mutation($input: SetAccessExpiryInput!) { setAccessExpiry(input: $input) { person { accessExpiresAt } userErrors { code } } }";
    let set = app
        .graphql(
            &admin,
            access,
            json!({ "input": { "personId": emma_id, "expiresAt": "2100-01-01T00:00:00Z" } }),
        )
        .await;
    assert_eq!(
        data(set, "/setAccessExpiry")["person"]["accessExpiresAt"],
        "2100-01-01T00:00:00+00:00"
    );
    let transferred = administer(&app, &admin, "transferToEmployee", &emma_id).await;
    assert_eq!(transferred["person"]["kind"], "EMPLOYEE", "{transferred}");

    // Erasure: only after dismissal; afterwards nothing personal is left to read.
    assert_eq!(
        administer(&app, &admin, "erasePersonalData", &emma_id).await["userErrors"][0]["code"],
        "DISMISS_FIRST"
    );
    administer(&app, &admin, "dismissPerson", &emma_id).await;
    let erased = administer(&app, &admin, "erasePersonalData", &emma_id).await;
    assert_eq!(erased["person"]["status"], "ERASED", "{erased}");
    assert_eq!(erased["person"]["firstName"], "", "{erased}");
    assert!(erased["person"]["email"].is_null(), "{erased}");
}

#[tokio::test]
async fn lists_nested_in_lists_are_refused_before_they_run() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Sqlite, &smtp).await;
    let admin = app.login_admin().await;
    let small = app
        .graphql(&admin, "{ workgroups(first: 5) { edges { node { members(first: 5) { edges { node { role } } } } } } }", json!({}))
        .await;
    assert!(small["errors"].is_null(), "{small}");
    let huge = app
        .graphql(&admin, "{ workgroups(first: 100) { edges { node { members(first: 100) { edges { node { role person { id } } } } } } } }", json!({}))
        .await;
    assert_eq!(
        huge["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX",
        "{huge}"
    );
}

#[tokio::test]
async fn reinstatement_takes_the_address_back_or_says_who_has_it() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Sqlite, &smtp).await;
    let admin = app.login_admin().await;
    let invite = async |address: &str| {
        let invited = app
            .graphql(
                &admin,
                INVITE_PEOPLE,
                json!({ "input": { "addresses": address, "kind": "EMPLOYEE" } }),
            )
            .await;
        data(invited, "/invitePeople")["results"][0]["invitation"]["personId"]
            .as_str()
            .map(str::to_owned)
    };
    let first = invite("sam@acme.test").await.expect("Sam is invited");
    join(&app, &smtp, "sam@acme.test", "Sam", "First").await;
    administer(&app, &admin, "dismissPerson", &first).await;

    // A new Sam joins with the freed address (once the dismissal has freed it).
    let second = invite("sam@acme.test")
        .await
        .expect("the address is free again");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while smtp.count_to("sam@acme.test") < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the second invitation is sent"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mail = smtp
        .all()
        .into_iter()
        .rfind(|m| m.is_addressed_to("sam@acme.test"))
        .expect("the second invitation");
    let mut page = app.open_invitation(&mail.link().expect("a link")).await;
    page.form
        .fill("first_name", "Sam")
        .fill("last_name", "Second")
        .fill("password", PASSWORD);
    let accepted = app.submit_invitation(&page.action, &page.form).await;
    assert!(
        accepted.cookie(SESSION_COOKIE).is_some(),
        "{}",
        accepted.body
    );

    // The first Sam cannot come back under the address the second one has.
    let refused = administer(&app, &admin, "reinstatePerson", &first).await;
    assert_eq!(refused["userErrors"][0]["code"], "EMAIL_TAKEN", "{refused}");
    let people = app.graphql(&admin, PEOPLE, json!({})).await;
    assert!(people.to_string().contains(&second), "{people}");
}

const NODE: &str =
    "query($id: ID!) { node(id: $id) { id ... on Task { title } ... on Person { firstName } } }";

#[tokio::test]
async fn ids_are_opaque_and_node_fetches_what_the_viewer_may_see_on_sqlite() {
    ids_are_opaque_and_node_fetches_what_the_viewer_may_see(Backend::Sqlite).await;
}

#[tokio::test]
async fn ids_are_opaque_and_node_fetches_what_the_viewer_may_see_on_postgres() {
    ids_are_opaque_and_node_fetches_what_the_viewer_may_see(Backend::Postgres).await;
}

async fn ids_are_opaque_and_node_fetches_what_the_viewer_may_see(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = App::spawn(backend, &smtp).await;
    let admin = app.login_admin().await;
    let print_run = app.create_task(&admin, "Print run", None).await;
    let pricing = app.create_task(&admin, "Pricing", None).await;
    app.invite_guest(
        &admin,
        &print_run,
        "gus@client.test",
        "Gus",
        "Guest",
        "OBSERVER",
    )
    .await;
    let gus = join(&app, &smtp, "gus@client.test", "Gus", "Guest").await;
    let invited = app
        .graphql(
            &admin,
            INVITE_PEOPLE,
            json!({ "input": { "addresses": "emma@acme.test", "kind": "EMPLOYEE" } }),
        )
        .await;
    let emma_id = data(invited, "/invitePeople")["results"][0]["invitation"]["personId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    join(&app, &smtp, "emma@acme.test", "Emma", "Employee").await;
    let olga = app.other_account(PASSWORD).await;
    let olga_task = app.create_task(&olga, "Their own", None).await;
    let olga_id = data(
        app.graphql(&olga, "{ viewer { id } }", json!({})).await,
        "/viewer",
    )["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // Opaque: no id the API gives out is the store's UUID.
    let gus_id = data(
        app.graphql(&gus, "{ viewer { id } }", json!({})).await,
        "/viewer",
    )["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for id in [
        &print_run,
        &gus_id,
        &emma_id,
        &app.admin_id,
        &app.account_id,
    ] {
        assert!(!id.is_empty());
        assert!(uuid::Uuid::parse_str(id).is_err(), "{id} is a UUID");
    }

    // The guest's own task, by its id alone, the same twice over and the same as
    // `task(id:)` and `myTasks` name it.
    let first = app.graphql(&gus, NODE, json!({ "id": print_run })).await;
    let node = data(first.clone(), "/node");
    assert_eq!(node["title"], "Print run", "{first}");
    assert_eq!(node["id"], print_run.as_str(), "{first}");
    let again = app.graphql(&gus, NODE, json!({ "id": print_run })).await;
    assert_eq!(again, first, "the same id, the same answer");
    let mine = app
        .graphql(&gus, "{ myTasks { edges { node { id } } } }", json!({}))
        .await;
    assert_eq!(ids(&mine, "/myTasks"), vec![print_run.clone()]);
    let shown = app.graphql(&gus, TASK, json!({ "id": print_run })).await;
    assert_eq!(data(shown, "/task")["id"], print_run.as_str());
    let admin_seen = app.graphql(&gus, NODE, json!({ "id": app.admin_id })).await;
    assert_eq!(
        data(admin_seen, "/node")["firstName"],
        "Ada",
        "the creator of the guest's task is one of its people"
    );

    // Everything else is "not found", exactly like an id of nothing and a malformed
    // one: a task they are not on, another account's task and person, a person they
    // may not see, an account, and a task's id asked for as a person.
    let (code, message) =
        e2e::graphql_error(&app.graphql(&gus, NODE, json!({ "id": "not-an-id" })).await)
            .expect("a malformed id fails");
    assert_eq!(code, "NOT_FOUND");
    let unknown = e2e::nonexistent_id("Task");
    let hidden = [
        pricing.as_str(),
        olga_task.as_str(),
        olga_id.as_str(),
        emma_id.as_str(),
        app.account_id.as_str(),
        unknown.as_str(),
    ];
    for id in hidden {
        let response = app.graphql(&gus, NODE, json!({ "id": id })).await;
        assert_eq!(
            e2e::graphql_error(&response),
            Some((code.clone(), message.clone())),
            "node({id}) as the guest: {response}"
        );
        assert!(response["data"]["node"].is_null(), "{response}");
    }
    let as_person = app
        .graphql(
            &admin,
            "query($id: ID!) { person(id: $id) { id } }",
            json!({ "id": print_run }),
        )
        .await;
    assert_eq!(
        e2e::graphql_error(&as_person),
        Some((code.clone(), message.clone())),
        "a task's id names no person, even for the administrator: {as_person}"
    );
    let as_node = app.graphql(&admin, NODE, json!({ "id": emma_id })).await;
    assert_eq!(
        data(as_node, "/node")["firstName"],
        "Emma",
        "what the guest may not see, the administrator may"
    );
}

const PEOPLE_PAGE: &str = "query($after: String) {
  people(first: 1, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } }
}";

/// Walks `people` one at a time from the start, following `endCursor`.
async fn people_one_by_one(app: &App, who: &Auth) -> Vec<String> {
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let response = app
            .graphql(who, PEOPLE_PAGE, json!({ "after": after }))
            .await;
        let page = data(response.clone(), "/people");
        let edges = ids(&response, "/people");
        assert_eq!(edges.len(), 1, "a page of one: {response}");
        seen.extend(edges);
        if page["pageInfo"]["hasNextPage"] != true {
            return seen;
        }
        after = page["pageInfo"]["endCursor"].clone();
        assert!(after.is_string(), "{response}");
    }
}

#[tokio::test]
async fn a_guest_pages_through_exactly_the_people_of_their_task_on_sqlite() {
    a_guest_pages_through_exactly_the_people_of_their_task(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_guest_pages_through_exactly_the_people_of_their_task_on_postgres() {
    a_guest_pages_through_exactly_the_people_of_their_task(Backend::Postgres).await;
}

/// The guest's list reads only the people of their tasks; paged one by one it is the
/// same list, in the same order, as in one page, and no one else slips in between.
async fn a_guest_pages_through_exactly_the_people_of_their_task(backend: Backend) {
    let smtp = SmtpSink::start();
    let app = App::spawn(backend, &smtp).await;
    let admin = app.login_admin().await;
    let print_run = app.create_task(&admin, "Print run", None).await;
    let guest = app
        .invite_guest(
            &admin,
            &print_run,
            "gus@client.test",
            "Gus",
            "Guest",
            "OBSERVER",
        )
        .await;
    let gus_id = guest["invitation"]["personId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let invited = app
        .graphql(
            &admin,
            INVITE_PEOPLE,
            json!({ "input": { "addresses": "emma@acme.test; ivan@acme.test", "kind": "EMPLOYEE" } }),
        )
        .await;
    let results = data(invited.clone(), "/invitePeople")["results"].clone();
    let person = |i: usize| {
        results[i]["invitation"]["personId"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let (emma_id, ivan_id) = (person(0), person(1));
    assert!(!emma_id.is_empty() && !ivan_id.is_empty(), "{invited}");
    let gus = join(&app, &smtp, "gus@client.test", "Gus", "Guest").await;
    join(&app, &smtp, "emma@acme.test", "Emma", "Employee").await;
    join(&app, &smtp, "ivan@acme.test", "Ivan", "Employee").await;
    let assign = "mutation($input: AssignToTaskInput!) { assignToTask(input: $input) { task { id } userErrors { code } } }";
    let assigned = app
        .graphql(
            &admin,
            assign,
            json!({ "input": { "taskId": print_run, "personId": emma_id, "role": "PARTICIPANT" } }),
        )
        .await;
    assert_eq!(
        data(assigned.clone(), "/assignToTask")["userErrors"],
        json!([]),
        "{assigned}"
    );

    let in_one_page = ids(&app.graphql(&gus, PEOPLE, json!({})).await, "/people");
    let mut expected = vec![app.admin_id.clone(), gus_id.clone(), emma_id.clone()];
    expected.sort();
    let mut sorted = in_one_page.clone();
    sorted.sort();
    assert_eq!(sorted, expected, "the guest sees the people of their task");
    assert!(
        !in_one_page.contains(&ivan_id),
        "and not the employee off it"
    );
    assert_eq!(
        people_one_by_one(&app, &gus).await,
        in_one_page,
        "a page at a time walks the same people in the same order"
    );

    // The administrator's list is read whole, and pages the same way.
    let everyone = ids(&app.graphql(&admin, PEOPLE, json!({})).await, "/people");
    assert_eq!(everyone.len(), 4, "{everyone:?}");
    assert_eq!(people_one_by_one(&app, &admin).await, everyone);
}
