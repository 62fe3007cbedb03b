//! The API's ids through the schema itself, on a real store: typed, opaque, and "not
//! found" for anything that is not an id of the kind asked for.

use async_graphql::{Request, Variables};
use domain::account::{Account, AccountCommand, Plan};
use domain::invitation::SecretKey;
use domain::person::{Person, PersonCommand, PersonKind};
use domain::services::{DomainServices, FixedClock, FixedNonce};
use domain::task::{Task, TaskCommand};
use domain::workgroup::{Workgroup, WorkgroupCommand};
use domain::{
    AccountId, AggregateKey, Email, InvitationId, PersonId, PersonName, TaskId, Timestamp,
    WorkgroupId,
};
use gateway::config::Mode;
use gateway::graphql::global_id::id_of;
use gateway::graphql::{ExtranetSchema, RequestAuth, Site};
use gateway::rate_limit::{RateLimiter, RateLimits};
use gateway::state::AppState;
use projections::permission::Viewer;
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::watch;

struct World {
    schema: ExtranetSchema,
    admin: Viewer,
    task: TaskId,
    group: WorkgroupId,
    _stop: watch::Sender<bool>,
}

impl World {
    /// An account, its administrator, one of their tasks and one of their groups.
    async fn new() -> Self {
        let services = DomainServices {
            clock: Arc::new(FixedClock(Timestamp(1_700_000_000_000))),
            nonces: Arc::new(FixedNonce("n".into())),
            secrets: SecretKey::from_bytes([6; 32]),
        };
        let db = projections::testing::fresh_sqlite().await;
        let (state, projector) = AppState::open(db, services).await.expect("state");
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(projector.run(stopped));
        let account = AccountId::new_random();
        let create = AccountCommand::Create {
            account,
            name: domain::AccountName::parse("Acme").unwrap(),
            plan: Plan::Standard,
        };
        state
            .execute::<Account>(AggregateKey::account(account), create, None)
            .await
            .expect("account");
        let admin = PersonId::new_random();
        let join = PersonCommand::Join {
            person: admin,
            kind: PersonKind::Employee,
            email: Email::parse("ada@acme.test").expect("email"),
            name: PersonName::parse("Ada", "Admin").expect("name"),
            administrator: true,
            password_hash: "$argon2id$stub".into(),
            invitation: None,
            sponsor: None,
            previous: None,
        };
        state
            .execute::<Person>(AggregateKey::new(account, admin.0), join, None)
            .await
            .expect("join");
        let task = TaskId::new_random();
        let create = TaskCommand::Create {
            task,
            title: domain::TaskTitle::parse("Print the catalogue").unwrap(),
            description: domain::TaskDescription::parse("").unwrap(),
            creator: admin,
            workgroup: None,
            deadline: None,
        };
        state
            .execute::<Task>(AggregateKey::new(account, task.0), create, Some(admin))
            .await
            .expect("task");
        let group = WorkgroupId::new_random();
        let create = WorkgroupCommand::Create {
            group,
            name: domain::WorkgroupName::parse("Sales").unwrap(),
            extranet: false,
            owner: admin,
        };
        state
            .execute::<Workgroup>(AggregateKey::new(account, group.0), create, Some(admin))
            .await
            .expect("group");
        let site = Site {
            public_url: "http://x".into(),
            limiter: RateLimiter::new(
                RateLimits::default(),
                state.db.clone(),
                state.secrets.clone(),
            ),
        };
        Self {
            schema: gateway::graphql::schema(state, Mode::Development, site),
            admin: Viewer {
                account,
                person: admin,
                kind: PersonKind::Employee,
                administrator: true,
            },
            task,
            group,
            _stop: stop,
        }
    }

    async fn ask(&self, query: &str, id: &str) -> Value {
        self.ask_with(query, json!({ "id": id })).await
    }

    /// Runs `query` as the administrator.
    async fn ask_with(&self, query: &str, variables: Value) -> Value {
        let request = Request::new(query)
            .variables(Variables::from_json(variables))
            .data(RequestAuth {
                viewer: Some(self.admin.clone()),
                token: None,
            });
        serde_json::to_value(self.schema.execute(request).await).expect("json")
    }
}

const TASK: &str = "query($id: ID!) { task(id: $id) { id title } }";
const PERSON: &str = "query($id: ID!) { person(id: $id) { id firstName } }";
const NODE: &str = "query($id: ID!) { node(id: $id) { id __typename \
    ... on Task { title } ... on Person { firstName } ... on Workgroup { name } } }";

/// The code and message of the first error; panics without one.
fn refusal(response: &Value) -> (String, String) {
    let error = &response["errors"][0];
    assert!(error.is_object(), "no error: {response}");
    (
        error["extensions"]["code"]
            .as_str()
            .unwrap_or_default()
            .into(),
        error["message"].as_str().unwrap_or_default().into(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_are_typed_and_anything_else_is_not_found() {
    let w = World::new().await;
    let task = id_of(w.task);
    let shown = w.ask(TASK, &task).await;
    assert_eq!(shown["data"]["task"]["id"], task.as_str(), "{shown}");
    assert!(uuid::Uuid::try_parse(&task).is_err());

    let unknown = w.ask(PERSON, &id_of(PersonId::new_random())).await;
    let (code, message) = refusal(&unknown);
    assert_eq!(code, "NOT_FOUND");
    for not_a_person in [
        task.to_string(),
        id_of(w.admin.account).to_string(),
        w.admin.person.to_string(),
        "garbage".to_string(),
    ] {
        let response = w.ask(PERSON, &not_a_person).await;
        assert_eq!(
            refusal(&response),
            (code.clone(), message.clone()),
            "{not_a_person} answers exactly as an unknown person does"
        );
    }
    let own = w.ask(PERSON, &id_of(w.admin.person)).await;
    assert_eq!(own["data"]["person"]["firstName"], "Ada", "{own}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_fetches_tasks_people_and_groups_by_id_alone() {
    let w = World::new().await;
    let task = w.ask(NODE, &id_of(w.task)).await;
    assert_eq!(task["data"]["node"]["__typename"], "Task", "{task}");
    assert_eq!(task["data"]["node"]["title"], "Print the catalogue");
    assert_eq!(task["data"]["node"]["id"], id_of(w.task).as_str());
    let person = w.ask(NODE, &id_of(w.admin.person)).await;
    assert_eq!(person["data"]["node"]["firstName"], "Ada", "{person}");
    let group = w.ask(NODE, &id_of(w.group)).await;
    assert_eq!(group["data"]["node"]["name"], "Sales", "{group}");

    // A group's members page on the store's ids, whatever the API calls them.
    let members = "query($id: ID!, $after: String) { workgroup(id: $id) { \
        members(first: 1, after: $after) { edges { node { person { id } } } \
        pageInfo { hasNextPage endCursor } } } }";
    let first = w.ask(members, &id_of(w.group)).await;
    let page = &first["data"]["workgroup"]["members"];
    assert_eq!(
        page["edges"][0]["node"]["person"]["id"],
        id_of(w.admin.person).as_str()
    );
    let cursor = page["pageInfo"]["endCursor"].as_str().expect("a cursor");
    let next = w
        .ask_with(
            members,
            json!({ "id": id_of(w.group).as_str(), "after": cursor }),
        )
        .await;
    assert_eq!(
        next["data"]["workgroup"]["members"]["edges"],
        json!([]),
        "{next}"
    );

    let unknown = refusal(&w.ask(NODE, &id_of(TaskId::new_random())).await);
    assert_eq!(unknown.0, "NOT_FOUND");
    for nothing in [
        id_of(InvitationId::new_random()).to_string(),
        id_of(w.admin.account).to_string(),
        w.task.to_string(),
        String::new(),
    ] {
        let response = w.ask(NODE, &nothing).await;
        assert_eq!(refusal(&response), unknown, "{nothing:?}: {response}");
        assert_eq!(response["data"]["node"], Value::Null, "{response}");
    }
}
