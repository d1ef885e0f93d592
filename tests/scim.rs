//! The `scim` target plugin against the SCIM emulator, over HTTP on loopback.

use hrsync_emulators::scim::{ScimEmulator, ENTERPRISE};
use hrsync_emulators::Fault;
use hrsync_model::{
    AccountDraft, AccountUpdate, Attribute, AttributeValue, Change, FieldChange, ManagerLink, Membership, PluginError,
    TeamDraft, TeamRename,
};
use hrsync_runtime::{HttpPolicy, Sandbox, Secret, Secrets, TargetSession};
use hrsync_tests::load;

const TOKEN: &str = "scim-token-5d4c3b2a";

fn session(emulator: &ScimEmulator, token: &str) -> TargetSession {
    let mut secrets = Secrets::new();
    secrets.insert("token".into(), Secret::new(token));
    let sandbox = Sandbox {
        config: serde_json::json!({ "base_url": emulator.base_url() }),
        secrets,
        http: HttpPolicy::with_grants(&[emulator.origin()]).unwrap(),
        ..Sandbox::default()
    };
    let plugin = load("scim");
    plugin.validate(&sandbox).expect("installation fits the manifest");
    plugin.target(&sandbox).expect("session")
}

fn text(value: &str) -> AttributeValue {
    AttributeValue::Text(value.into())
}

fn draft(user_name: &str) -> AccountDraft {
    AccountDraft {
        external_id: "1001".into(),
        user_name: user_name.into(),
        email: Some(user_name.into()),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        attributes: vec![
            Attribute {
                name: "title".into(),
                value: text("Engineer"),
            },
            Attribute {
                name: "department".into(),
                value: text("IT"),
            },
        ],
        invite: false,
    }
}

/// Applies one change and returns its outcome.
fn apply(session: &mut TargetSession, change: Change) -> Result<Option<String>, PluginError> {
    let mut outcomes = session.apply_batch(vec![change]).expect("apply-batch call");
    outcomes.remove(0).map(|applied| applied.id)
}

#[test]
fn lists_accounts_page_by_page() {
    let emulator = ScimEmulator::start(TOKEN).unwrap();
    for i in 0..250 {
        emulator.add_user(&format!("user{i}@example.com"), "U", &format!("{i}"), i % 10 != 0);
    }
    let mut session = session(&emulator, TOKEN);
    assert!(session.test_connection().is_ok());
    let (mut accounts, mut page, mut pages) = (Vec::new(), None, 0);
    loop {
        let result = session.list_accounts(page.as_deref(), 100).expect("page");
        pages += 1;
        accounts.extend(result.accounts);
        match result.next_page {
            Some(next) => page = Some(next),
            None => break,
        }
    }
    assert_eq!((accounts.len(), pages), (250, 3));
    assert_eq!(accounts.iter().filter(|a| !a.active).count(), 25);
    assert_eq!(accounts[3].email.as_deref(), Some("user3@example.com"));
}

#[test]
fn creates_users_with_enterprise_attributes() {
    let emulator = ScimEmulator::start(TOKEN).unwrap();
    let mut session = session(&emulator, TOKEN);
    let id = apply(&mut session, Change::CreateAccount(draft("ada@example.com")))
        .expect("created")
        .expect("id");
    let user = emulator.user_by_name("ada@example.com").expect("user");
    assert_eq!(user["id"], id.as_str());
    assert_eq!(user["externalId"], "1001");
    assert_eq!(user["name"]["givenName"], "Ada");
    assert_eq!(user["title"], "Engineer");
    assert_eq!(user[ENTERPRISE]["department"], "IT");
    assert_eq!(user["emails"][0]["value"], "ada@example.com");

    let accounts = session.list_accounts(None, 10).unwrap().accounts;
    let account = &accounts[0];
    assert_eq!(account.external_id.as_deref(), Some("1001"));
    assert!(account
        .attributes
        .iter()
        .any(|a| a.name == "department" && a.value == text("IT")));
}

#[test]
fn an_existing_user_is_reported_with_its_id_not_duplicated() {
    let emulator = ScimEmulator::start(TOKEN).unwrap();
    let existing = emulator.add_user("Ada@Example.com", "Ada", "L", true);
    let mut session = session(&emulator, TOKEN);
    let error = apply(&mut session, Change::CreateAccount(draft("ada@example.com"))).expect_err("409");
    match error {
        PluginError::Conflict(conflict) => assert_eq!(conflict.existing_id.as_deref(), Some(existing.as_str())),
        other => panic!("expected conflict, got {other:?}"),
    }
    assert_eq!(emulator.users().len(), 1);
}

#[test]
fn updates_deactivates_and_reactivates() {
    let emulator = ScimEmulator::start(TOKEN).unwrap();
    let mut session = session(&emulator, TOKEN);
    let id = apply(&mut session, Change::CreateAccount(draft("ada@example.com")))
        .unwrap()
        .unwrap();
    let update = AccountUpdate {
        id: id.clone(),
        changes: vec![
            FieldChange {
                field: "last_name".into(),
                before: Some(text("Lovelace")),
                after: Some(text("Byron")),
            },
            FieldChange {
                field: "department".into(),
                before: Some(text("IT")),
                after: None,
            },
            FieldChange {
                field: "email".into(),
                before: None,
                after: Some(text("ada.byron@example.com")),
            },
        ],
    };
    apply(&mut session, Change::UpdateAccount(update)).expect("updated");
    let user = emulator.user_by_name("ada@example.com").unwrap();
    assert_eq!(user["name"]["familyName"], "Byron");
    assert_eq!(user["name"]["givenName"], "Ada", "untouched fields stay");
    assert!(user[ENTERPRISE].get("department").is_none());
    assert_eq!(user["emails"][0]["value"], "ada.byron@example.com");

    apply(&mut session, Change::DeactivateAccount(id.clone())).unwrap();
    assert_eq!(emulator.user_by_name("ada@example.com").unwrap()["active"], false);
    apply(&mut session, Change::ReactivateAccount(id.clone())).unwrap();
    assert_eq!(emulator.user_by_name("ada@example.com").unwrap()["active"], true);

    let error = apply(&mut session, Change::DeactivateAccount("nobody".into())).expect_err("404");
    assert!(matches!(error, PluginError::NotFound(_)), "{error:?}");
}

#[test]
fn teams_members_and_managers() {
    let emulator = ScimEmulator::start(TOKEN).unwrap();
    let mut session = session(&emulator, TOKEN);
    let boss = apply(&mut session, Change::CreateAccount(draft("boss@example.com")))
        .unwrap()
        .unwrap();
    let ada = apply(&mut session, Change::CreateAccount(draft("ada@example.com")))
        .unwrap()
        .unwrap();
    let team = apply(
        &mut session,
        Change::CreateTeam(TeamDraft {
            name: "Abteilung IT".into(),
            external_id: Some("dept:it".into()),
        }),
    )
    .unwrap()
    .expect("team id");
    apply(
        &mut session,
        Change::AddMember(Membership {
            team_id: team.clone(),
            account_id: ada.clone(),
        }),
    )
    .unwrap();
    apply(
        &mut session,
        Change::AddMember(Membership {
            team_id: team.clone(),
            account_id: boss.clone(),
        }),
    )
    .unwrap();
    apply(
        &mut session,
        Change::RenameTeam(TeamRename {
            id: team.clone(),
            before: "Abteilung IT".into(),
            after: "Abteilung Technik".into(),
        }),
    )
    .unwrap();
    apply(
        &mut session,
        Change::RemoveMember(Membership {
            team_id: team.clone(),
            account_id: boss.clone(),
        }),
    )
    .unwrap();
    let teams = session.list_teams(None, 10).unwrap().teams;
    assert_eq!(teams.len(), 1);
    assert_eq!(teams[0].name, "Abteilung Technik");
    assert_eq!(teams[0].external_id.as_deref(), Some("dept:it"));
    assert_eq!(teams[0].member_ids, vec![ada.clone()]);

    apply(
        &mut session,
        Change::LinkManager(ManagerLink {
            account_id: ada.clone(),
            manager_id: Some(boss.clone()),
        }),
    )
    .unwrap();
    let accounts = session.list_accounts(None, 10).unwrap().accounts;
    assert_eq!(
        accounts.iter().find(|a| a.id == ada).unwrap().manager_id.as_deref(),
        Some(boss.as_str())
    );
    apply(
        &mut session,
        Change::LinkManager(ManagerLink {
            account_id: ada.clone(),
            manager_id: None,
        }),
    )
    .unwrap();
    assert!(emulator.user_by_name("ada@example.com").unwrap()[ENTERPRISE]
        .get("manager")
        .is_none());
}

#[test]
fn one_bad_change_fails_that_item_only() {
    let emulator = ScimEmulator::start(TOKEN).unwrap();
    let mut session = session(&emulator, TOKEN);
    let mut bad = draft("bad@example.com");
    bad.attributes.push(Attribute {
        name: "shoe_size".into(),
        value: text("44"),
    });
    let outcomes = session
        .apply_batch(vec![
            Change::CreateAccount(draft("a@example.com")),
            Change::CreateAccount(bad),
            Change::CreateAccount(draft("c@example.com")),
        ])
        .unwrap();
    assert!(outcomes[0].is_ok() && outcomes[2].is_ok());
    assert!(
        matches!(&outcomes[1], Err(PluginError::InvalidInput(field)) if field.field == "shoe_size"),
        "{:?}",
        outcomes[1]
    );
    assert_eq!(emulator.users().len(), 2);
}

#[test]
fn rate_limits_server_errors_and_bad_tokens_are_typed() {
    let emulator = ScimEmulator::start(TOKEN).unwrap();
    let mut session = session(&emulator, TOKEN);
    emulator.fail_after(
        0,
        Fault {
            status: 429,
            retry_after_secs: Some(3),
        },
    );
    match apply(&mut session, Change::CreateAccount(draft("a@example.com"))) {
        Err(PluginError::RateLimited(hint)) => assert_eq!(hint.retry_after_ms, Some(3000)),
        other => panic!("expected rate-limited, got {other:?}"),
    }
    emulator.fail_after(
        0,
        Fault {
            status: 503,
            retry_after_secs: None,
        },
    );
    assert!(matches!(
        apply(&mut session, Change::CreateAccount(draft("a@example.com"))),
        Err(PluginError::Retryable(_))
    ));
    assert!(
        apply(&mut session, Change::CreateAccount(draft("a@example.com"))).is_ok(),
        "works once the fault is gone"
    );

    let mut wrong = self::session(&emulator, "not-the-token");
    let error = wrong.test_connection().expect_err("401");
    assert!(
        matches!(error.plugin_error(), Some(PluginError::Unauthorized(_))),
        "{error}"
    );
    assert!(!error.to_string().contains("not-the-token"));
}

/// A batch goes out as one `/Bulk` request when the service offers it, and
/// as one request per change when it does not; the outcomes are the same.
#[test]
fn batches_use_bulk_when_offered_and_fall_back_when_not() {
    for bulk in [true, false] {
        let emulator = ScimEmulator::start(TOKEN).unwrap();
        emulator.set_bulk(bulk);
        let by_hand = emulator.add_user("taken@example.com", "Hand", "Made", true);
        let mut target = session(&emulator, TOKEN);
        let mut bad = draft("bad@example.com");
        bad.attributes.push(Attribute {
            name: "shoe_size".into(),
            value: text("44"),
        });
        let changes = vec![
            Change::CreateAccount(draft("one@example.com")),
            Change::CreateAccount(draft("taken@example.com")),
            Change::CreateAccount(bad),
            Change::CreateAccount(draft("two@example.com")),
            Change::DeactivateAccount("u-missing".into()),
            Change::CreateTeam(TeamDraft {
                name: "Abteilung IT".into(),
                external_id: None,
            }),
        ];
        let requests = emulator.requests();
        let outcomes = target.apply_batch(changes.clone()).expect("apply-batch call");
        assert_eq!(outcomes.len(), 6, "bulk {bulk}");
        let one = outcomes[0].as_ref().expect("created").id.clone().expect("an id");
        assert_eq!(emulator.user_by_name("one@example.com").unwrap()["id"], one.as_str());
        match &outcomes[1] {
            Err(PluginError::Conflict(c)) => assert_eq!(c.existing_id.as_deref(), Some(by_hand.as_str())),
            other => panic!("bulk {bulk}: expected a conflict, got {other:?}"),
        }
        assert!(matches!(&outcomes[2], Err(PluginError::InvalidInput(f)) if f.field == "shoe_size"));
        assert!(outcomes[3].as_ref().unwrap().id.is_some());
        assert!(
            matches!(&outcomes[4], Err(PluginError::NotFound(_))),
            "{:?}",
            outcomes[4]
        );
        assert!(outcomes[5]
            .as_ref()
            .unwrap()
            .id
            .as_deref()
            .is_some_and(|id| id.starts_with('g')));
        let made = emulator.requests() - requests;
        if bulk {
            assert_eq!(emulator.bulk_requests(), 1);
            // The bulk request and the lookup of the taken user (the
            // service provider config is read without auth, uncounted).
            assert_eq!(made, 2, "requests with bulk");
        } else {
            assert_eq!(emulator.bulk_requests(), 0);
            assert_eq!(made, 6, "one per change that was sent, plus the lookup");
        }
    }
}
