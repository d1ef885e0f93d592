//! The `perks` target plugin (4Geeks Perks) against its emulator, over HTTP
//! on loopback.

use hrsync_emulators::perks::{Mode, PerksEmulator};
use hrsync_emulators::Fault;
use hrsync_model::{AccountDraft, AccountUpdate, Attribute, AttributeValue, Change, FieldChange, PluginError};
use hrsync_runtime::{HttpPolicy, Sandbox, Secret, Secrets, TargetSession};
use hrsync_tests::load;

const TEST_KEY: &str = "sk_test_51HfT3st";
const LIVE_KEY: &str = "sk_live_51HfL1ve";

fn session(emulator: &PerksEmulator, environment: &str, key: &str) -> TargetSession {
    let mut secrets = Secrets::new();
    secrets.insert("api-key".into(), Secret::new(key));
    let sandbox = Sandbox {
        config: serde_json::json!({ "base_url": emulator.base_url(), "environment": environment }),
        secrets,
        http: HttpPolicy::with_grants(&[emulator.base_url()]).unwrap(),
        ..Sandbox::default()
    };
    let plugin = load("perks");
    plugin.validate(&sandbox).expect("installation fits the manifest");
    plugin.target(&sandbox).expect("session")
}

fn draft(email: &str) -> AccountDraft {
    AccountDraft {
        external_id: "4711".into(),
        user_name: email.into(),
        email: Some(email.into()),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        attributes: vec![
            Attribute {
                name: "benefits_package".into(),
                value: AttributeValue::Text("New Hire".into()),
            },
            Attribute {
                name: "department".into(),
                value: AttributeValue::Text("IT".into()),
            },
        ],
        invite: false,
    }
}

fn apply(session: &mut TargetSession, change: Change) -> Result<Option<String>, PluginError> {
    let mut outcomes = session.apply_batch(vec![change]).expect("apply-batch call");
    outcomes.remove(0).map(|applied| applied.id)
}

#[test]
fn creates_a_wallet_with_the_documented_payload_and_archives_it() {
    let perks = PerksEmulator::start(TEST_KEY, LIVE_KEY).unwrap();
    let mut target = session(&perks, "sandbox", TEST_KEY);
    target.test_connection().expect("test connection");

    let id = apply(&mut target, Change::CreateAccount(draft("ada@example.com")))
        .expect("create")
        .expect("an id");
    let user = perks.user_by_email(Mode::Sandbox, "ada@example.com").expect("created");
    assert_eq!(user["id"], id.as_str());
    assert_eq!(user["first_name"], "Ada");
    assert_eq!(user["last_name"], "Lovelace");
    assert_eq!(user["role"], "employee");
    assert_eq!(user["status"], "active");
    assert_eq!(user["benefits_package"], "New Hire");
    assert_eq!(user["employee_id"], "4711");
    assert!(
        perks.users(Mode::Live).is_empty(),
        "a test key never touches live wallets"
    );

    let page = target.list_accounts(None, 50).expect("list");
    let account = &page.accounts[0];
    assert_eq!(
        (account.id.as_str(), account.email.as_deref(), account.active),
        (id.as_str(), Some("ada@example.com"), true)
    );
    assert_eq!(account.external_id.as_deref(), Some("4711"));

    // Leaver: the wallet is frozen at once; a returning employee gets it back.
    apply(&mut target, Change::DeactivateAccount(id.clone())).expect("archive");
    assert_eq!(
        perks.user_by_email(Mode::Sandbox, "ada@example.com").unwrap()["status"],
        "archived"
    );
    assert!(!target.list_accounts(None, 50).unwrap().accounts[0].active);
    apply(&mut target, Change::ReactivateAccount(id.clone())).expect("reactivate");
    assert_eq!(
        perks.user_by_email(Mode::Sandbox, "ada@example.com").unwrap()["status"],
        "active"
    );

    apply(
        &mut target,
        Change::UpdateAccount(AccountUpdate {
            id: id.clone(),
            changes: vec![FieldChange {
                field: "last_name".into(),
                before: Some(AttributeValue::Text("Lovelace".into())),
                after: Some(AttributeValue::Text("King".into())),
            }],
        }),
    )
    .expect("update");
    assert_eq!(
        perks.user_by_email(Mode::Sandbox, "ada@example.com").unwrap()["last_name"],
        "King"
    );

    apply(&mut target, Change::Invite(id)).expect("invite");
    assert_eq!(
        perks.user_by_email(Mode::Sandbox, "ada@example.com").unwrap()["invited"],
        true
    );
    assert_eq!(perks.writes().creates, 1);
}

#[test]
fn user_already_exists_returns_the_existing_wallet_by_email() {
    let perks = PerksEmulator::start(TEST_KEY, LIVE_KEY).unwrap();
    let by_hand = perks.add_user(Mode::Sandbox, "Grace.Hopper@example.com", "Grace", "Hopper");
    let mut target = session(&perks, "sandbox", TEST_KEY);
    match apply(&mut target, Change::CreateAccount(draft("grace.hopper@example.com"))) {
        Err(PluginError::Conflict(conflict)) => assert_eq!(conflict.existing_id.as_deref(), Some(by_hand.as_str())),
        other => panic!("expected a conflict with the existing id, got {other:?}"),
    }
    assert_eq!(perks.users(Mode::Sandbox).len(), 1, "never duplicated");
}

#[test]
fn live_and_sandbox_keys_select_their_environment() {
    let perks = PerksEmulator::start(TEST_KEY, LIVE_KEY).unwrap();
    let mut live = session(&perks, "live", LIVE_KEY);
    apply(&mut live, Change::CreateAccount(draft("live@example.com"))).expect("create live");
    assert_eq!(perks.users(Mode::Live).len(), 1);
    assert!(perks.users(Mode::Sandbox).is_empty());

    // A live key in a sandbox installation is refused before any request.
    let mut mixed = session(&perks, "sandbox", LIVE_KEY);
    let error = mixed.test_connection().expect_err("live key in sandbox");
    let message = error.to_string();
    assert!(message.contains("live") && message.contains("sk_test_"), "{message}");
    assert!(!message.contains(LIVE_KEY), "the key never appears: {message}");

    let mut foreign = session(&perks, "sandbox", "pk_123");
    let message = foreign.test_connection().expect_err("not a 4Geeks key").to_string();
    assert!(
        message.contains("sk_test_") && message.contains("sk_live_"),
        "{message}"
    );

    let mut revoked = session(&perks, "sandbox", "sk_test_revoked");
    assert!(matches!(
        revoked.test_connection().expect_err("revoked").plugin_error(),
        Some(PluginError::Unauthorized(_))
    ));
}

#[test]
fn errors_are_typed_and_name_the_field() {
    let perks = PerksEmulator::start(TEST_KEY, LIVE_KEY).unwrap();
    let mut target = session(&perks, "sandbox", TEST_KEY);
    perks.fail_after(
        0,
        Fault {
            status: 429,
            retry_after_secs: Some(2),
        },
    );
    match apply(&mut target, Change::CreateAccount(draft("a@example.com"))) {
        Err(PluginError::RateLimited(hint)) => assert_eq!(hint.retry_after_ms, Some(2000)),
        other => panic!("expected rate-limited, got {other:?}"),
    }
    let mut bad = draft("b@example.com");
    bad.attributes.push(Attribute {
        name: "shoe_size".into(),
        value: AttributeValue::Integer(44),
    });
    match apply(&mut target, Change::CreateAccount(bad)) {
        Err(PluginError::InvalidInput(field)) => assert_eq!(field.field, "shoe_size"),
        other => panic!("expected invalid input naming shoe_size, got {other:?}"),
    }
    let mut bad_role = draft("c@example.com");
    bad_role.attributes.push(Attribute {
        name: "role".into(),
        value: AttributeValue::Text("superuser".into()),
    });
    match apply(&mut target, Change::CreateAccount(bad_role)) {
        Err(PluginError::InvalidInput(field)) => assert!(field.message.contains("role"), "{field:?}"),
        other => panic!("expected the API's refusal naming role, got {other:?}"),
    }
    assert!(matches!(
        apply(&mut target, Change::DeactivateAccount("usr_missing".into())),
        Err(PluginError::NotFound(_))
    ));
    assert!(matches!(
        apply(
            &mut target,
            Change::LinkManager(hrsync_model::ManagerLink {
                account_id: "x".into(),
                manager_id: None
            })
        ),
        Err(PluginError::Unsupported(_))
    ));
}
