//! Pages at any startIndex hold exactly the rows that an OFFSET over the list in creation
//! order (or newest first) would, and totalResults counts them, also after deletions (on
//! SQLite unfiltered deep pages go through per-block row counts kept by triggers, filtered
//! ones through a seek; a wrong count or a wrong direction shows up here).

use roster_core::filter::parse_filter;
use roster_core::schema::{resolve, Resource};
use roster_core::{NewUser, UserName};
use roster_store::{Store, WriteCtx};

mod common;
use common::{fresh_store, user_names, user_names_in};

async fn page(store: &dyn Store, start_index: i64, count: i64) -> (Vec<String>, i64) {
    user_names(store, None, start_index, count).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_pages_match_an_offset_over_the_remaining_users() {
    let dir = tempfile::tempdir().unwrap();
    let (_url, store) = fresh_store(dir.path(), "pages").await;
    let ctx = WriteCtx::default();

    // 2,300 users span three blocks of 1,024 seq values.
    let mut ids = Vec::new();
    for i in 0..2300 {
        let u = store
            .create_user(
                &common::admin(),
                &ctx,
                &NewUser::new(UserName::parse(&format!("u{i:04}")).unwrap()),
            )
            .await
            .unwrap();
        ids.push((u.id, u.user_name.as_str().to_owned()));
    }
    // Delete every 7th user, and every user around the first block boundary.
    let mut remaining = Vec::new();
    for (i, (id, name)) in ids.into_iter().enumerate() {
        if i % 7 == 3 || (1000..1100).contains(&i) {
            store
                .delete_user(&common::admin(), &ctx, id, None)
                .await
                .unwrap();
        } else {
            remaining.push(name);
        }
    }
    let n = remaining.len() as i64;

    let newest: Vec<String> = remaining.iter().rev().cloned().collect();
    // A filter every user matches takes the seek path instead of the block counts.
    let all = resolve(Resource::User, &parse_filter("userName sw \"u\"").unwrap()).unwrap();
    for (newest_first, filter, order) in [
        (false, None, &remaining),
        (true, None, &newest),
        (false, Some(all.clone()), &remaining),
        (true, Some(all), &newest),
    ] {
        for start in [
            1,
            2,
            100,
            900,
            1000,
            1023,
            1024,
            1025,
            1500,
            1899,
            n - 1,
            n,
            n + 1,
            n + 500,
        ] {
            for count in [1, 37, 100] {
                let (got, total) =
                    user_names_in(&*store, filter.clone(), start, count, newest_first).await;
                let from = (start - 1).clamp(0, n) as usize;
                let to = (from + count as usize).min(n as usize);
                let what = format!(
                    "startIndex {start}, count {count}, newest first {newest_first}, filtered {}",
                    filter.is_some()
                );
                assert_eq!(got, order[from..to], "{what}");
                assert_eq!(total, n, "totalResults at {what}");
            }
        }
    }
    // count=0 asks for the total alone.
    assert_eq!(page(&*store, 1, 0).await, (vec![], n));

    // New users after the deletions land in the last block and are paged in order too.
    store
        .create_user(
            &common::admin(),
            &ctx,
            &NewUser::new(UserName::parse("late").unwrap()),
        )
        .await
        .unwrap();
    let (got, total) = page(&*store, n + 1, 10).await;
    assert_eq!((got, total), (vec!["late".to_owned()], n + 1));
}

/// A group's members are listed from the memberships key (not by a whole-set `IN`): every
/// page, filtered or not, either direction, holds what an OFFSET over the members in user
/// order would, and totalResults counts them (also after some members were deleted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_groups_member_pages_match_an_offset_over_its_members() {
    use roster_core::group::NewMember;
    use roster_core::NewGroup;
    use roster_store::UserQuery;

    let dir = tempfile::tempdir().unwrap();
    let (_url, store) = fresh_store(dir.path(), "members").await;
    let ctx = WriteCtx::default();
    let mut users = Vec::new();
    for i in 0..300 {
        let u = store
            .create_user(
                &common::admin(),
                &ctx,
                &NewUser::new(UserName::parse(&format!("m{i:03}")).unwrap()),
            )
            .await
            .unwrap();
        users.push(u);
    }
    // Every third user, added in an order unlike the users' own.
    let mut members: Vec<_> = users.iter().step_by(3).collect();
    members.reverse();
    let new = NewGroup {
        display_name: "crew".into(),
        external_id: None,
        members: members.iter().map(|u| NewMember::new(u.id, None)).collect(),
    };
    let op = roster_core::policy::Operator::local("test");
    let g = store
        .create_group(&op.group_manager().creator(), &ctx, &new)
        .await
        .unwrap();
    for u in members.iter().filter(|u| u.seq % 5 == 0) {
        store
            .delete_user(&common::admin(), &ctx, u.id, None)
            .await
            .unwrap();
    }
    let mut expected: Vec<String> = users
        .iter()
        .step_by(3)
        .filter(|u| u.seq % 5 != 0)
        .map(|u| u.user_name.as_str().to_owned())
        .collect();
    // Their roles in one lookup: members as members, anyone else absent.
    let probe: Vec<i64> = users.iter().take(9).map(|u| u.seq).collect();
    let mut roles = store.member_roles(g.seq, &probe).await.unwrap();
    roles.sort_unstable_by_key(|(s, _)| *s);
    let want: Vec<(i64, roster_core::group::Role)> = users
        .iter()
        .take(9)
        .step_by(3)
        .filter(|u| u.seq % 5 != 0)
        .map(|u| (u.seq, roster_core::group::Role::Member))
        .collect();
    assert_eq!(roles, want);
    let ends_in_1 = resolve(Resource::User, &parse_filter("userName ew \"1\"").unwrap()).unwrap();
    let oldest_first = expected.clone();
    expected.reverse();
    for (newest_first, filter) in [
        (false, None),
        (true, None),
        (false, Some(ends_in_1.clone())),
        (true, Some(ends_in_1)),
    ] {
        let base = if newest_first {
            &expected
        } else {
            &oldest_first
        };
        let order: Vec<&String> = base
            .iter()
            .filter(|n| filter.is_none() || n.ends_with('1'))
            .collect();
        let n = order.len() as i64;
        for start in [1, 2, 37, 50, 51, n - 1, n, n + 1] {
            for count in [1, 50] {
                let page = store
                    .list_users(
                        &common::admin().reader(),
                        &UserQuery {
                            filter: filter.clone(),
                            newest_first,
                            member_of: Some(g.seq),
                            page: roster_core::PageRequest {
                                start_index: start.max(1),
                                count,
                            },
                            ..Default::default()
                        },
                    )
                    .await
                    .unwrap();
                let got: Vec<&str> = page.items.iter().map(|u| u.user_name.as_str()).collect();
                let from = (start.max(1) - 1).clamp(0, n) as usize;
                let to = (from + count as usize).min(n as usize);
                let want: Vec<&str> = order[from..to].iter().map(|s| s.as_str()).collect();
                let what = format!(
                    "start {start}, count {count}, newest first {newest_first}, filtered {}",
                    filter.is_some()
                );
                assert_eq!(got, want, "{what}");
                assert_eq!(page.total, n, "totalResults at {what}");
            }
        }
    }
}
