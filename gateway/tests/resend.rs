//! Sending an invitation again: an expired one takes a place under the plan's limit
//! again, so the count stays right whether the reactor gave the place back before the
//! resend or only gets to the expiry after it (docs/domain.md, Seats).

mod world;

use domain::invitation::InvitationState;
use domain::person::PersonKind;
use gateway::usecase::invite_people::{invite_many, Destination, InviteMany, Outcome};
use gateway::usecase::resend_invitation::resend_invitation;
use projections::reactor::Reactor;
use projections::scheduler::Scheduler;
use projections::{accounts, invitations, Database, EventLog};
use std::sync::Arc;
use std::time::Duration;
use world::World;

const DAY: i64 = 24 * 60 * 60;

/// Until the read models hold the whole log and the reactor finds nothing new to
/// react to (a place given back by its hold is then counted by the account).
async fn settle(w: &World, reactor: &Reactor) {
    let log = EventLog::new(w.state.db.clone());
    loop {
        let head = log.head().await.expect("head");
        w.state
            .read_models
            .caught_up_or_stalled(head)
            .await
            .expect("read models");
        if reactor.catch_up().await.expect("react") == 0 {
            break;
        }
    }
}

async fn seats(w: &World) -> i64 {
    accounts::get(&w.state.db, w.account)
        .await
        .expect("read")
        .expect("account")
        .seats_in_use
}

async fn an_expired_invitation_sent_again_holds_a_place(db: Database, reactor_first: bool) {
    let w = World::new(db).await;
    let reactor = Reactor::new(
        w.state.db.clone(),
        w.state.bus.clone(),
        &w.state.read_models,
    )
    .await
    .expect("reactor");
    let scheduler = Scheduler {
        db: w.state.db.clone(),
        bus: w.state.bus.clone(),
        clock: Arc::new(w.clock.clone()),
        hold_deadline: Duration::from_secs(600),
    };
    settle(&w, &reactor).await;
    let before = seats(&w).await;

    let (_, outcomes) = invite_many(
        &w.state,
        &w.admin,
        InviteMany {
            addresses: "late@client.test".into(),
            kind: PersonKind::Employee,
            destination: Destination::Company { department: None },
        },
    )
    .await
    .expect("invite");
    let Some(Outcome::Invited { invitation, .. }) = outcomes.first() else {
        panic!("invited: {outcomes:?}");
    };
    settle(&w, &reactor).await;
    assert_eq!(seats(&w).await, before + 1, "the invitation holds a place");

    w.clock.advance_secs(31 * DAY);
    let recorded = scheduler.run_once().await.expect("scheduler");
    assert_eq!(recorded.invitations_expired, 1);
    if reactor_first {
        settle(&w, &reactor).await;
        assert_eq!(
            seats(&w).await,
            before,
            "the expired invitation gave its place back"
        );
    }

    resend_invitation(&w.state, &w.admin, *invitation)
        .await
        .expect("resend");
    settle(&w, &reactor).await;
    let record = invitations::get(&w.state.db.any, w.account, *invitation)
        .await
        .expect("read")
        .expect("invitation");
    assert_eq!(record.state, InvitationState::Pending);
    assert_eq!(
        seats(&w).await,
        before + 1,
        "the resent invitation holds exactly one place"
    );

    // Past the holds' deadline, the sweeper finds the resend took its place up.
    w.clock.advance_secs(DAY);
    scheduler.run_once().await.expect("scheduler");
    settle(&w, &reactor).await;
    assert_eq!(seats(&w).await, before + 1, "the place was not swept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_expired_invitation_sent_again_holds_a_place() {
    let db = projections::testing::fresh_postgres().await;
    an_expired_invitation_sent_again_holds_a_place(db, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_an_expired_invitation_sent_again_holds_a_place() {
    let db = projections::testing::fresh_sqlite().await;
    an_expired_invitation_sent_again_holds_a_place(db, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_resend_before_the_reactor_saw_the_expiry_holds_one_place() {
    let db = projections::testing::fresh_postgres().await;
    an_expired_invitation_sent_again_holds_a_place(db, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_resend_before_the_reactor_saw_the_expiry_holds_one_place() {
    let db = projections::testing::fresh_sqlite().await;
    an_expired_invitation_sent_again_holds_a_place(db, false).await;
}
