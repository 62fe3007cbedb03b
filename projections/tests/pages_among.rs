//! A page read among a set of ids is the page read whole with everyone outside the
//! set left out: the same order, the same cursor, across chunks of the set. On both
//! backends.

mod support;

use domain::{AccountId, PersonId, WorkgroupId};
use projections::{directory, workgroups, Database};
use std::collections::HashSet;

/// More than one chunk of ids (500), so the merge of chunks is what is tested.
const PEOPLE: usize = 1300;

async fn insert_people(db: &Database, account: AccountId) -> Vec<PersonId> {
    let mut ids = Vec::new();
    for batch in 0..PEOPLE / 100 {
        let mut values = Vec::new();
        for i in 0..100 {
            let person = PersonId::new_random();
            // Few distinct times: ties are ordered by id, across chunks too.
            let joined_at = ((batch * 100 + i) % 7) as i64;
            values.push(format!(
                "('{account}', '{person}', 'guest', 'active', 'p{batch}-{i}@acme.test', 'P', 'Q', 0, 'x', {joined_at})"
            ));
            ids.push(person);
        }
        sqlx::query(&format!(
            "INSERT INTO people (account_id, person_id, kind, status, email, first_name, last_name, administrator, password_hash, joined_at) VALUES {}",
            values.join(", ")
        ))
        .execute(&db.any)
        .await
        .expect("insert people");
    }
    ids
}

async fn people_pages_agree(db: Database) {
    let account = AccountId::new_random();
    let ids = insert_people(&db, account).await;
    // Someone of another account, who must never come back.
    let elsewhere = insert_people(&db, AccountId::new_random()).await;
    let mut among: HashSet<PersonId> = ids.iter().copied().step_by(2).collect();
    among.insert(elsewhere[0]);

    let whole = directory::page(&db, account, None, PEOPLE as i64 + 1)
        .await
        .expect("whole");
    let expected: Vec<PersonId> = whole
        .iter()
        .map(|p| p.id)
        .filter(|id| among.contains(id))
        .collect();
    assert_eq!(expected.len(), PEOPLE / 2);

    for limit in [3_i64, 200, 2000] {
        let mut after = None;
        let mut walked = Vec::new();
        loop {
            let page = directory::page_among(&db, account, &among, after, limit)
                .await
                .expect("page");
            assert!(page.len() as i64 <= limit);
            let Some(last) = page.last() else { break };
            after = Some((last.joined_at, last.id));
            walked.extend(page.iter().map(|p| p.id));
            if (page.len() as i64) < limit {
                break;
            }
        }
        assert_eq!(walked, expected, "pages of {limit}");
    }
    let none = directory::page_among(&db, account, &HashSet::new(), None, 10)
        .await
        .expect("empty set");
    assert!(none.is_empty());
}

async fn group_pages_agree(db: Database) {
    let account = AccountId::new_random();
    let mut groups = Vec::new();
    for i in 0..30 {
        let group = WorkgroupId::new_random();
        sqlx::query(
            "INSERT INTO workgroups (account_id, workgroup_id, name, extranet, invite_policy, created_at)
             VALUES ($1, $2, $3, 1, 'owner', $4)",
        )
        .bind(account.to_string())
        .bind(group.to_string())
        .bind(format!("g{i}"))
        .bind((i % 4) as i64)
        .execute(&db.any)
        .await
        .expect("insert group");
        groups.push(group);
    }
    let among: HashSet<WorkgroupId> = groups.iter().copied().step_by(3).collect();
    let whole = workgroups::page(&db, account, None, 100)
        .await
        .expect("whole");
    let expected: Vec<WorkgroupId> = whole
        .iter()
        .map(|g| g.id)
        .filter(|id| among.contains(id))
        .collect();
    let mut after = None;
    let mut walked = Vec::new();
    loop {
        let page = workgroups::page_among(&db, account, &among, after, 2)
            .await
            .expect("page");
        let Some(last) = page.last() else { break };
        after = Some((last.created_at, last.id));
        walked.extend(page.iter().map(|g| g.id));
    }
    assert_eq!(walked, expected);
}

#[tokio::test]
async fn postgres_people_pages_among_agree() {
    people_pages_agree(support::fresh_postgres().await).await;
}

#[tokio::test]
async fn sqlite_people_pages_among_agree() {
    people_pages_agree(support::fresh_sqlite().await).await;
}

#[tokio::test]
async fn postgres_group_pages_among_agree() {
    group_pages_agree(support::fresh_postgres().await).await;
}

#[tokio::test]
async fn sqlite_group_pages_among_agree() {
    group_pages_agree(support::fresh_sqlite().await).await;
}
