//! The store on SQLite (a file) and on PostgreSQL: the same checks on both.
//! PostgreSQL comes from `HRSYNC_TEST_POSTGRES_URL` (scripts/test sets it up
//! with scripts/postgres).

use hrsync_engine::correlate::{Link, LinkOrigin};
use hrsync_engine::identity::AccountKeys;
use hrsync_engine::storage::ItemRecord;
use hrsync_store::{new_id, Store};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The PostgreSQL server of the tests (scripts/test starts it).
fn postgres_url() -> String {
    std::env::var("HRSYNC_TEST_POSTGRES_URL").expect(
        "HRSYNC_TEST_POSTGRES_URL is not set: run the tests with scripts/test, which starts PostgreSQL, \
         or alone with HRSYNC_TEST_POSTGRES_URL=$(scripts/postgres) cargo test ...",
    )
}

/// Runs `check` against a fresh SQLite file and the PostgreSQL server.
fn on_both<F, Fut>(check: F)
where
    F: Fn(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let postgres = postgres_url();
    let sqlite = format!("sqlite://{}", dir.path().join("hrsync.db").display());
    for url in [sqlite, postgres] {
        runtime().block_on(async {
            let store = Store::connect(&url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
            check(store).await;
        });
    }
}

fn link(hr: &str, account: &str, origin: LinkOrigin) -> Link {
    Link {
        hr_id: hr.into(),
        account_id: account.into(),
        origin,
        keys: AccountKeys {
            email: Some(format!("p{hr}@example.com")),
            user_name: (hr != "2").then(|| format!("p{hr}@example.com")),
        },
    }
}

#[test]
fn links_are_saved_in_bulk_and_replaced() {
    on_both(|store| async move {
        let integration = new_id("int");
        let many: Vec<Link> = (0..1234)
            .map(|i| link(&format!("{i}"), &format!("acc-{i}"), LinkOrigin::Created))
            .collect();
        let all: Vec<&Link> = many.iter().collect();
        store.change_links(&integration, &all, &[]).await.unwrap();
        assert_eq!(store.links(&integration).await.unwrap().len(), 1234);

        // One link moves to another account, 1,232 go away.
        let moved = link("1", "acc-1b", LinkOrigin::Adopted);
        let removed: Vec<String> = (0..1234)
            .filter(|i| *i > 2)
            .map(|i| format!("{i}"))
            .chain(["0".into()])
            .collect();
        let removed: Vec<&str> = removed.iter().map(String::as_str).collect();
        store.change_links(&integration, &[&moved], &removed).await.unwrap();
        let mut stored = store.links(&integration).await.unwrap();
        stored.sort_by(|a, b| a.hr_id.cmp(&b.hr_id));
        assert_eq!(stored, vec![moved.clone(), link("2", "acc-2", LinkOrigin::Created)]);
        store.change_links(&integration, &[], &[]).await.unwrap();
        assert_eq!(store.links(&integration).await.unwrap().len(), 2, "no change, no loss");
        assert!(
            store.links(&new_id("other")).await.unwrap().is_empty(),
            "scoped to the integration"
        );
    });
}

#[test]
fn an_account_belongs_to_one_employee_and_moves_in_one_write() {
    on_both(|store| async move {
        let integration = new_id("int");
        let (old, manual) = (
            link("100", "acc-1", LinkOrigin::Created),
            link("7", "acc-7", LinkOrigin::Manual),
        );
        store.change_links(&integration, &[&old, &manual], &[]).await.unwrap();
        assert_eq!(
            store.link_of_account(&integration, "acc-7").await.unwrap(),
            Some(manual.clone()),
            "the manual origin and the account's keys are kept"
        );
        // A second employee on the same account is refused by the database.
        let twice = link("200", "acc-1", LinkOrigin::Adopted);
        assert!(store.change_links(&integration, &[&twice], &[]).await.is_err());
        assert_eq!(
            store.links(&integration).await.unwrap().len(),
            2,
            "the failed write changed nothing"
        );
        // A rehire: the old record's link goes and the new one takes the
        // account in the same write.
        store.change_links(&integration, &[&twice], &["100"]).await.unwrap();
        assert_eq!(store.link_of_account(&integration, "acc-1").await.unwrap(), Some(twice));
        assert_eq!(store.link_of_employee(&integration, "100").await.unwrap(), None);
    });
}

#[test]
fn runs_and_their_items() {
    on_both(|store| async move {
        let integration = new_id("int");
        let run = store
            .start_run(&integration, "manual", Some("admin@example.com"))
            .await
            .unwrap();
        let items: Vec<ItemRecord> = (0..700)
            .map(|i| ItemRecord {
                hr_id: Some(format!("{i}")),
                kind: "create-account".into(),
                summary: format!("create e{i}@example.com"),
                outcome: if i == 5 { "failed".into() } else { "done".into() },
                error: (i == 5).then(|| "invalid input in `email`".to_string()),
                attempts: 1,
            })
            .collect();
        store.record_items(&run, items[..600].to_vec()).await.unwrap();
        store.record_items(&run, items[600..].to_vec()).await.unwrap();
        let stored = store.items(&run).await.unwrap();
        assert_eq!(stored, items, "in order, across two appends");
        store
            .finish_run(
                &run,
                "succeeded",
                None,
                &serde_json::json!({ "created": 699, "failed": 1 }),
            )
            .await
            .unwrap();

        let failed = store.start_run(&integration, "schedule", None).await.unwrap();
        store
            .finish_run(
                &failed,
                "failed",
                Some("reading the source failed"),
                &serde_json::json!({}),
            )
            .await
            .unwrap();
        let runs = store.runs(Some(&integration), 10).await.unwrap();
        assert_eq!(runs.len(), 2);
        let first = runs.iter().find(|r| r.id == run).unwrap();
        assert_eq!((first.trigger.as_str(), first.status.as_str()), ("manual", "succeeded"));
        assert_eq!(first.started_by.as_deref(), Some("admin@example.com"));
        assert!(first.finished_at.is_some_and(|f| f >= first.started_at));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&first.counts).unwrap()["created"],
            699
        );
        let second = runs.iter().find(|r| r.id == failed).unwrap();
        assert_eq!(second.error.as_deref(), Some("reading the source failed"));
    });
}

#[test]
fn cursors_and_audit_events() {
    on_both(|store| async move {
        let integration = new_id("int");
        assert_eq!(store.cursor(&integration).await.unwrap(), None);
        assert_eq!(store.last_full_read(&integration).await.unwrap(), None);
        store
            .advance_cursor(&integration, "2026-11-21T10:00:00Z", Some("config-a"))
            .await
            .unwrap();
        let full = store.last_full_read(&integration).await.unwrap().expect("a full read");
        assert_eq!(full.config.as_deref(), Some("config-a"), "the configuration it applied");
        store
            .advance_cursor(&integration, "2026-11-21T11:00:00Z", None)
            .await
            .unwrap();
        assert_eq!(
            store.cursor(&integration).await.unwrap().as_deref(),
            Some("2026-11-21T11:00:00Z")
        );
        assert_eq!(
            store.last_full_read(&integration).await.unwrap(),
            Some(full),
            "an incremental run keeps the time and configuration of the last full read"
        );

        store
            .append_audit(
                Some(&integration),
                "admin@example.com",
                "integration.activate",
                &serde_json::json!({}),
            )
            .await
            .unwrap();
        store
            .append_audit(
                Some(&integration),
                "sync",
                "account.create",
                &serde_json::json!({ "hr_id": "7" }),
            )
            .await
            .unwrap();
        assert_eq!(
            store.audit_actions(&integration).await.unwrap(),
            ["integration.activate", "account.create"]
        );
    });
}

#[test]
fn bad_urls_are_named() {
    runtime().block_on(async {
        let error = Store::connect("mysql://localhost/x").await.err().expect("refused");
        assert!(error.to_string().contains("mysql://localhost/x"), "{error}");
    });
}

#[test]
fn the_cursor_advances_only_after_a_successful_run() {
    use hrsync_engine::apply::{ItemOutcome, ItemResult};
    use hrsync_engine::plan::Planned;
    use hrsync_engine::record;
    use hrsync_engine::run::RunReport;
    use hrsync_model::{Change, PluginError};

    on_both(|store| async move {
        let integration = new_id("int");
        let outcome = |result| ItemOutcome {
            planned: Box::new(Planned {
                hr_id: Some("7".into()),
                change: Change::DeactivateAccount("a7".into()),
            }),
            result,
            attempts: 1,
        };
        let ok = RunReport {
            outcomes: vec![outcome(ItemResult::Done { id: None })],
            links: vec![link("7", "a7", LinkOrigin::Created)],
            cursor: Some("2026-11-21T10:00:00Z".into()),
            ..RunReport::default()
        };
        let run = store.start_run(&integration, "schedule", None).await.unwrap();
        record::record(&store, &integration, &run, None, &[], &ok, "config")
            .await
            .unwrap();
        assert_eq!(
            store.cursor(&integration).await.unwrap().as_deref(),
            Some("2026-11-21T10:00:00Z")
        );
        assert_eq!(store.links(&integration).await.unwrap().len(), 1);
        let items = store.items(&run).await.unwrap();
        assert_eq!(
            (items[0].kind.as_str(), items[0].outcome.as_str()),
            ("deactivate-account", "done")
        );

        let partial = RunReport {
            outcomes: vec![outcome(ItemResult::Failed(PluginError::Fatal("boom".into())))],
            links: ok.links.clone(),
            cursor: Some("2026-11-21T11:00:00Z".into()),
            ..RunReport::default()
        };
        let run = store.start_run(&integration, "schedule", None).await.unwrap();
        record::record(&store, &integration, &run, None, &ok.links, &partial, "config")
            .await
            .unwrap();
        assert_eq!(store.links(&integration).await.unwrap().len(), 1, "links kept");
        assert_eq!(
            store.cursor(&integration).await.unwrap().as_deref(),
            Some("2026-11-21T10:00:00Z"),
            "unchanged"
        );
        let runs = store.runs(Some(&integration), 5).await.unwrap();
        assert_eq!(runs.iter().find(|r| r.id == run).unwrap().status, "partial");
        assert_eq!(
            store.items(&run).await.unwrap()[0].error.as_deref(),
            Some("fatal: boom")
        );

        let failed = store.start_run(&integration, "schedule", None).await.unwrap();
        record::record_failure(&store, &integration, &failed, None, "reading the source failed")
            .await
            .unwrap();
        assert_eq!(
            store.cursor(&integration).await.unwrap().as_deref(),
            Some("2026-11-21T10:00:00Z")
        );
    });
}

/// Like `on_both`, with a database of its own on both (PostgreSQL: a new
/// schema), for checks that damage what they test; `check` also gets the
/// URL, to reach the tables behind the store's back.
fn on_both_alone<F, Fut>(check: F)
where
    F: Fn(Store, String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let postgres = postgres_url();
    let schema = new_id("t").to_lowercase();
    runtime().block_on(async {
        sqlx::any::install_default_drivers();
        let admin = sqlx::AnyPool::connect(&postgres).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .unwrap();
    });
    let separator = if postgres.contains('?') { '&' } else { '?' };
    let postgres = format!("{postgres}{separator}options=-c%20search_path%3D{schema}");
    let sqlite = format!("sqlite://{}", dir.path().join("hrsync.db").display());
    for url in [sqlite, postgres] {
        runtime().block_on(async {
            let store = Store::connect(&url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
            check(store, url.clone()).await;
        });
    }
}

#[test]
fn the_audit_log_is_a_hash_chain_that_shows_tampering() {
    use hrsync_engine::storage::AuditEvent;

    on_both_alone(|store, url| async move {
        let event = |i: usize| AuditEvent {
            tenant: None,
            integration: Some("int-audit".into()),
            actor: "admin@example.com".into(),
            action: format!("test.{i}"),
            detail: serde_json::json!({ "n": i }),
        };
        store.append_audit_events((0..1200).map(event)).await.unwrap();
        store
            .append_audit(None, "sync", "run.finish", &serde_json::json!({}))
            .await
            .unwrap();
        let check = store.verify_audit().await.unwrap();
        assert_eq!((check.events, check.broken), (1201, None));

        let raw = sqlx::AnyPool::connect(&url).await.unwrap();
        let exec = |sql: &'static str| {
            let raw = raw.clone();
            async move { sqlx::query(sql).execute(&raw).await.unwrap() }
        };
        // An edited event.
        exec("UPDATE audit_events SET detail = '{\"n\":999}' WHERE seq = 700").await;
        let broken = store.verify_audit().await.unwrap().broken.expect("detected");
        assert_eq!(broken.seq, 700);
        assert!(broken.reason.contains("changed"), "{broken:?}");
        assert_eq!(store.verify_audit().await.unwrap().events, 699);

        // Put back, then remove one in the middle.
        exec("UPDATE audit_events SET detail = '{\"n\":699}' WHERE seq = 700").await;
        assert_eq!(store.verify_audit().await.unwrap().broken, None, "restored exactly");
        exec("DELETE FROM audit_events WHERE seq = 300").await;
        let broken = store.verify_audit().await.unwrap().broken.expect("detected");
        assert_eq!(broken.seq, 300);
        assert!(broken.reason.contains("missing"), "{broken:?}");

        // The newest removed: the head tells.
        exec("DELETE FROM audit_events WHERE seq < 1201").await;
        exec("DELETE FROM audit_events WHERE seq = 1201").await;
        let broken = store.verify_audit().await.unwrap().broken.expect("detected");
        assert!(broken.reason.contains("removed"), "{broken:?}");
    });
}

/// Runs left `running` by a process that died: interrupted once no live
/// lease covers them, or at once by the holder of their integration's
/// lease; a run under a live lease is left alone; the leases of a node's
/// earlier life are released by name only.
#[test]
fn runs_of_a_dead_process_are_interrupted_and_live_ones_are_not() {
    on_both_alone(|store, _| async move {
        let (dead, alive, taken) = (new_id("int"), new_id("int"), new_id("int"));
        let orphan = store.start_run(&dead, "manual", None).await.unwrap();
        let going = store.start_run(&alive, "manual", None).await.unwrap();
        let stale = store.start_run(&taken, "manual", None).await.unwrap();
        assert!(store.acquire_lease(&alive, "node_b/lease_1", 30_000).await.unwrap());
        assert!(
            store.acquire_lease(&dead, "node_a/lease_2", -1).await.unwrap(),
            "an expired lease"
        );
        assert_eq!(store.interrupt_orphaned_runs(None).await.unwrap(), 2);
        let status = |runs: Vec<hrsync_store::RunRecord>, id: &str| {
            runs.into_iter()
                .find(|r| r.id == id)
                .map(|r| (r.status, r.error.unwrap_or_default()))
        };
        let (state, why) = status(store.runs(Some(&dead), 10).await.unwrap(), &orphan).unwrap();
        assert_eq!(state, "interrupted");
        assert!(why.contains("killed or crashed"), "{why}");
        assert_eq!(
            status(store.runs(Some(&taken), 10).await.unwrap(), &stale).unwrap().0,
            "interrupted"
        );
        assert_eq!(
            status(store.runs(Some(&alive), 10).await.unwrap(), &going).unwrap().0,
            "running"
        );

        // `node_` must not match `nodeX` (the LIKE wildcard is escaped).
        assert!(store.acquire_lease(&dead, "nodeXb/lease_3", 30_000).await.is_ok());
        assert_eq!(store.release_node_leases("node_b").await.unwrap(), 1);
        assert_eq!(store.release_node_leases("node_b").await.unwrap(), 0);
        assert_eq!(store.interrupt_orphaned_runs(Some(&alive)).await.unwrap(), 1);
    });
}

/// Ids carry no counter: made one after another, their random parts are
/// not in order, so ids one tenant sees tell nothing of how many others
/// were made in between.
#[test]
fn ids_carry_no_counter() {
    let ids: Vec<String> = (0..200).map(|_| new_id("run")).collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 200);
    let random: Vec<&str> = ids.iter().map(|id| &id["run_".len() + 12..]).collect();
    assert!(random.iter().all(|r| r.len() == 20), "{random:?}");
    let rising = random.windows(2).filter(|pair| pair[0] < pair[1]).count();
    assert!((40..160).contains(&rising), "{rising} of 199 in order: a counter?");
}

/// What someone who can write the database but lacks the server's key can
/// do: edit an event and recompute every hash of the chain with plain
/// BLAKE3, exactly as the chain is defined (host/store/src/lib.rs,
/// `ChainLink::hash`), head included.
async fn rewrite_chain_without_the_key(url: &str) {
    use sqlx::Row;
    let raw = sqlx::AnyPool::connect(url).await.unwrap();
    sqlx::query("UPDATE audit_events SET actor = 'someone else' WHERE seq = 2")
        .execute(&raw)
        .await
        .unwrap();
    let rows = sqlx::query(
        "SELECT id, tenant_id, integration_id, at, actor, action, detail, seq FROM audit_events ORDER BY seq",
    )
    .fetch_all(&raw)
    .await
    .unwrap();
    let mut prev = "genesis".to_string();
    for row in rows {
        let mut hasher = blake3::Hasher::new();
        let mut field = |bytes: &[u8]| {
            hasher.update(&(bytes.len() as u64).to_le_bytes());
            hasher.update(bytes);
        };
        let (seq, at): (i64, i64) = (row.get("seq"), row.get("at"));
        let id: String = row.get("id");
        let tenant: Option<String> = row.get("tenant_id");
        let integration: Option<String> = row.get("integration_id");
        field(&seq.to_le_bytes());
        field(prev.as_bytes());
        field(id.as_bytes());
        field(integration.as_deref().unwrap_or("\u{0}none").as_bytes());
        field(&at.to_le_bytes());
        field(row.get::<String, _>("actor").as_bytes());
        field(row.get::<String, _>("action").as_bytes());
        field(row.get::<String, _>("detail").as_bytes());
        if let Some(tenant) = &tenant {
            field(tenant.as_bytes());
        }
        let hash = hasher.finalize().to_hex().to_string();
        sqlx::query("UPDATE audit_events SET prev_hash = $1, hash = $2 WHERE id = $3")
            .bind(&prev)
            .bind(&hash)
            .bind(&id)
            .execute(&raw)
            .await
            .unwrap();
        prev = hash;
    }
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
        .bind(&prev)
        .execute(&raw)
        .await
        .unwrap();
}

/// With the server's key the chain is sealed: a chain written before is
/// sealed once; a rewrite by someone without the key — every hash
/// recomputed — is detected, where an unkeyed chain would say intact.
#[test]
fn a_sealed_audit_chain_shows_a_rewrite_of_the_database() {
    use hrsync_engine::storage::AuditEvent;
    let key = [7u8; 32];
    on_both_alone(|store, url| async move {
        let event = |i: usize| AuditEvent {
            tenant: Some("t1".into()),
            integration: None,
            actor: "admin@example.com".into(),
            action: format!("test.{i}"),
            detail: serde_json::json!({ "n": i }),
        };
        // Written before the key, then sealed once.
        store.append_audit_events((0..3).map(event)).await.unwrap();
        let sealed = Store::connect(&url).await.unwrap().with_audit_key(key);
        assert_eq!(sealed.seal_audit_chain().await.unwrap(), 3);
        assert_eq!(sealed.seal_audit_chain().await.unwrap(), 0, "once");
        sealed.append_audit_events((3..5).map(event)).await.unwrap();
        let check = sealed.verify_audit().await.unwrap();
        assert_eq!((check.events, check.broken), (5, None));
        let without = store.verify_audit().await.unwrap().broken.expect("needs the key");
        assert!(without.reason.contains("HRSYNC_SECRET_KEY"), "{without:?}");

        rewrite_chain_without_the_key(&url).await;
        let broken = sealed
            .verify_audit()
            .await
            .unwrap()
            .broken
            .expect("the rewrite is detected");
        assert_eq!(broken.seq, 1);
        assert!(broken.reason.contains("without the key"), "{broken:?}");
        // What the chain without a key would have said: intact.
        assert_eq!(store.verify_audit().await.unwrap().broken, None);
    });
}

#[test]
fn config_versions_are_numbered_per_subject_and_skip_no_change() {
    use hrsync_store::versions::{Author, Baseline};
    use serde_json::json;
    on_both(|store| async move {
        let (old, new) = (new_id("int"), new_id("int"));
        let author = |action| Author {
            actor: "owner@example.com (live key)",
            action,
        };
        // A subject made before versions were kept: its state before the
        // change becomes version 1.
        let baseline = json!({ "schedule": "0 4 * * *" });
        let first = store
            .add_config_version(
                "ten_a",
                &old,
                author("integration.update"),
                &json!({ "schedule": "0 5 * * *" }),
                Some(Baseline {
                    config: &baseline,
                    at: 1,
                }),
            )
            .await
            .unwrap();
        assert_eq!(first, Some(2));
        let same = store
            .add_config_version(
                "ten_a",
                &old,
                author("integration.update"),
                &json!({ "schedule": "0 5 * * *" }),
                None,
            )
            .await
            .unwrap();
        assert_eq!(same, None, "no change, no version");
        let created = store
            .add_config_version("ten_b", &new, author("integration.create"), &json!({}), None)
            .await
            .unwrap();
        assert_eq!(created, Some(1), "numbered per subject");

        let versions = store.config_versions("ten_a", &old).await.unwrap();
        let listed: Vec<(i64, &str)> = versions.iter().map(|v| (v.version, v.action.as_str())).collect();
        assert_eq!(listed, [(2, "integration.update"), (1, "baseline")]);
        assert_eq!(versions[1].config, baseline);
        assert!(
            store.config_versions("ten_b", &old).await.unwrap().is_empty(),
            "another tenant's"
        );
        assert!(store.config_version("ten_b", &old, 1).await.unwrap().is_none());
    });
}

#[test]
fn console_sessions_end_with_time_sign_out_and_their_key() {
    use hrsync_store::tenants::{Mode, Role};
    on_both(|store| async move {
        let tenant = store.create_tenant("Acme").await.unwrap();
        let member = store
            .add_member(&tenant.id, "anna@acme.example", Role::Owner)
            .await
            .unwrap()
            .unwrap();
        let issued = store
            .issue_key(&tenant.id, &member.id, Mode::Live, "anna")
            .await
            .unwrap();
        let owner = store.key_owner(&issued.secret).await.unwrap().unwrap();

        let open = store.open_session(&owner, 60_000).await.unwrap();
        let found = store.session_owner(&open.secret).await.unwrap().unwrap();
        assert_eq!(
            (found.member_id.as_str(), found.role),
            (member.id.as_str(), Role::Owner)
        );
        let expired = store.open_session(&owner, -1).await.unwrap();
        assert!(store.session_owner(&expired.secret).await.unwrap().is_none());
        store.close_session(&open.secret).await.unwrap();
        assert!(store.session_owner(&open.secret).await.unwrap().is_none());

        let again = store.open_session(&owner, 60_000).await.unwrap();
        assert!(store.revoke_key(&tenant.id, &issued.key.id).await.unwrap());
        assert!(store.session_owner(&again.secret).await.unwrap().is_none());
    });
}

#[test]
fn the_audit_log_filters_by_actor_action_and_time() {
    use hrsync_engine::storage::AuditEvent;
    use hrsync_store::AuditFilter;
    on_both(|store| async move {
        let tenant = store.create_tenant("Acme").await.unwrap();
        let event = |actor: &str, action: &str| AuditEvent {
            tenant: Some(tenant.id.clone()),
            integration: None,
            actor: actor.into(),
            action: action.into(),
            detail: serde_json::json!({}),
        };
        store
            .append_audit_events([
                event("Anna@acme.example (live key)", "integration.create"),
                event("bob_x@acme.example (console, live key)", "key.revoke"),
                event("bobbx@acme.example (live key)", "integration.update"),
            ])
            .await
            .unwrap();
        let actions = |filter: AuditFilter| {
            let store = store.clone();
            let tenant = tenant.id.clone();
            async move {
                let mut found: Vec<String> = store
                    .tenant_audit(&tenant, &filter, 50)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|e| e.action)
                    .collect();
                found.sort();
                found
            }
        };
        let by_actor = |actor: &str| AuditFilter {
            actor: Some(actor.into()),
            ..AuditFilter::default()
        };
        assert_eq!(actions(by_actor("ANNA")).await, ["integration.create"]);
        // `_` and `%` are the actor's own characters, not wildcards.
        assert_eq!(actions(by_actor("bob_")).await, ["key.revoke"]);
        assert!(actions(by_actor("%")).await.is_empty());
        let by_action = AuditFilter {
            action: Some("integration.".into()),
            ..AuditFilter::default()
        };
        assert_eq!(actions(by_action).await, ["integration.create", "integration.update"]);
        let now = hrsync_model::clock::now_ms();
        let later = AuditFilter {
            from: Some(now + 3_600_000),
            ..AuditFilter::default()
        };
        assert!(actions(later).await.is_empty());
        let today = AuditFilter {
            from: Some(now - 3_600_000),
            until: Some(now + 3_600_000),
            ..AuditFilter::default()
        };
        assert_eq!(actions(today).await.len(), 3);
    });
}

#[test]
fn pushed_resources_keep_names_unique_and_refuse_a_write_on_a_stale_version() {
    use hrsync_store::pushed::{Keys, PushedKey, Written};
    use serde_json::json;
    on_both(|store| async move {
        // The PostgreSQL database outlives the test: ids of its own.
        let integration = new_id("int");
        let keys = |name: &str, external: &str| Keys {
            name: Some(name.to_lowercase()),
            external_id: Some(external.into()),
        };
        let body = json!({"userName": "Jörg@X"});
        let created = store
            .push_create(&integration, "User", "u1", &keys("Jörg@X", "e1"), &body)
            .await
            .unwrap();
        let Written::Done(first) = created else {
            panic!("{created:?}")
        };
        assert_eq!((first.version, first.body.clone()), (1, body.clone()));
        let twice = store
            .push_create(&integration, "User", "u2", &keys("JÖRG@x", "e2"), &body)
            .await
            .unwrap();
        assert_eq!(twice, Written::NameTaken, "userName is unique whatever its case");
        // Another integration has names of its own.
        let elsewhere = store
            .push_create(&new_id("int"), "User", "u1", &keys("Jörg@X", "e1"), &body)
            .await
            .unwrap();
        assert!(matches!(elsewhere, Written::Done(_)));
        // Groups have no unique name.
        for id in ["g1", "g2"] {
            let group = store
                .push_create(
                    &integration,
                    "Group",
                    id,
                    &Keys::default(),
                    &json!({"displayName": "IT"}),
                )
                .await
                .unwrap();
            assert!(matches!(group, Written::Done(_)), "{group:?}");
        }

        let changed = json!({"userName": "Jörg@X", "title": "Lead"});
        let replaced = store
            .push_replace(&integration, "User", "u1", 1, &keys("Jörg@X", "e1"), &changed)
            .await
            .unwrap();
        let Written::Done(second) = replaced else {
            panic!("{replaced:?}")
        };
        assert_eq!((second.version, second.body), (2, changed.clone()));
        let stale = store
            .push_replace(&integration, "User", "u1", 1, &keys("Jörg@X", "e1"), &body)
            .await
            .unwrap();
        assert_eq!(stale, Written::Stale);
        let missing = store
            .push_replace(&integration, "User", "nope", 1, &Keys::default(), &body)
            .await
            .unwrap();
        assert_eq!(missing, Written::Missing);

        let by_name = store
            .pushed_by_key(&integration, "User", PushedKey::Name, "jörg@x")
            .await
            .unwrap();
        assert_eq!(by_name.len(), 1);
        let by_external = store
            .pushed_by_key(&integration, "User", PushedKey::ExternalId, "e1")
            .await
            .unwrap();
        assert_eq!(by_external[0].id, "u1");
        assert_eq!(store.pushed_all(&integration, "Group").await.unwrap().len(), 2);
        assert!(store.push_delete(&integration, "User", "u1").await.unwrap());
        assert!(!store.push_delete(&integration, "User", "u1").await.unwrap());
        assert!(store.pushed(&integration, "User", "u1").await.unwrap().is_none());
    });
}

#[test]
fn invitations_are_noted_per_integration_and_again_without_a_duplicate() {
    on_both(|store| async move {
        let (integration, other) = (new_id("int"), new_id("int"));
        assert!(store.invited_accounts(&integration).await.unwrap().is_empty());
        store.record_invitations(&integration, &["a1", "a2"]).await.unwrap();
        store.record_invitations(&integration, &["a2", "a3"]).await.unwrap();
        store.record_invitations(&other, &["b1"]).await.unwrap();
        let mut invited = store.invited_accounts(&integration).await.unwrap();
        invited.sort();
        assert_eq!(invited, ["a1", "a2", "a3"]);
        assert_eq!(store.invited_accounts(&other).await.unwrap(), ["b1"]);
        store.record_invitations(&integration, &[]).await.unwrap();
    });
}

/// An active integration of `tenant` due at `due`, stored.
async fn due_integration(store: &Store, tenant: &str, name: &str, due: i64) -> String {
    use hrsync_store::integrations::{Integration, Notify, State};
    let integration = Integration {
        id: new_id("int"),
        mode: hrsync_store::tenants::Mode::Live,
        name: name.to_string(),
        source: "src".into(),
        rules: Vec::new(),
        target: "tgt".into(),
        options: Default::default(),
        schedule: "0 4 * * *".into(),
        timezone: "UTC".into(),
        state: State::Active,
        paused_reason: None,
        next_run_at: Some(due),
        notify: Notify::default(),
        last_run: None,
        created_at: due,
        updated_at: due,
        sealed_secrets: Default::default(),
    };
    store.add_integration(tenant, &integration).await.unwrap().unwrap();
    integration.id
}

/// One tenant with 200 integrations due first cannot hold back the daily
/// runs of the others: the scheduler's picks take each tenant's earliest
/// due integration in turn, and a tenant's runs going on count as turns it
/// had. Not yet due integrations are not picked; inactive ones neither.
#[test]
fn due_integrations_take_turns_between_tenants() {
    on_both_alone(|store, _| async move {
        let at = 1_800_000_000_000;
        let mut big = Vec::new();
        for n in 0..200 {
            big.push(due_integration(&store, "big", &format!("i{n}"), at).await);
        }
        let mut small = Vec::new();
        for tenant in ["t1", "t2", "t3", "t4"] {
            // Due a minute after all of the big tenant's.
            small.push(due_integration(&store, tenant, "daily", at + 60_000).await);
        }
        let later = due_integration(&store, "t5", "tomorrow", at + 86_400_000).await;
        let picked = |due: Vec<hrsync_store::integrations::Due>| due.into_iter().map(|d| d.id).collect::<Vec<_>>();

        let sorted = |ids: &[String]| {
            let mut ids = ids.to_vec();
            ids.sort();
            ids
        };
        // Equally due, a tenant's integrations go in the order of their ids.
        let big = sorted(&big);
        let first = picked(store.due_integrations(at + 120_000, 5).await.unwrap());
        assert_eq!(first[0], big[0], "the earliest due goes first");
        assert_eq!(
            sorted(&first[1..]),
            sorted(&small),
            "then one turn for every other tenant"
        );
        assert!(!first.contains(&later), "not yet due");

        // The big tenant has two runs going on (on any node): the others
        // are ahead of its next integrations, the earliest first.
        for id in &big[..2] {
            let run = store.start_scheduled_run(id, at, at + 86_400_000).await.unwrap();
            assert!(run.is_some(), "the slot was free");
        }
        let next = picked(store.due_integrations(at + 120_000, 6).await.unwrap());
        assert_eq!(sorted(&next[..4]), sorted(&small), "{next:?}");
        assert_eq!(&next[4..], &big[2..4]);
        assert_eq!(store.due_integrations(at + 120_000, 1000).await.unwrap().len(), 198 + 4);
    });
}

/// A scheduled slot is taken once, with its run recorded in the same
/// step: a second process gets nothing and records nothing. While an
/// integration's run lease is held (a manual run going on) its due slot
/// is passed over, and due again when the lease goes.
#[test]
fn a_scheduled_slot_starts_one_run_and_waits_for_the_run_going_on() {
    on_both_alone(|store, _| async move {
        let at = hrsync_model::clock::now_ms() - 1_000;
        let first = due_integration(&store, "t1", "daily", at).await;
        let second = due_integration(&store, "t2", "daily", at).await;
        let next = at + 86_400_000;
        let run = store.start_scheduled_run(&first, at, next).await.unwrap();
        let run = run.expect("the first process takes the slot");
        assert_eq!(store.start_scheduled_run(&first, at, next).await.unwrap(), None);
        let runs = store.runs(Some(&first), 10).await.unwrap();
        assert_eq!(runs.len(), 1, "one run for the slot: {runs:?}");
        assert_eq!(
            (runs[0].id.as_str(), runs[0].trigger.as_str()),
            (run.as_str(), "schedule")
        );
        let due = store.due_integrations(at + 60_000, 10).await.unwrap();
        assert_eq!(due.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), [second.as_str()]);

        assert!(store.acquire_lease(&second, "node/lease", 600_000).await.unwrap());
        assert!(
            store.due_integrations(at + 60_000, 10).await.unwrap().is_empty(),
            "a run of it is going on"
        );
        store.release_lease(&second, "node/lease").await.unwrap();
        assert_eq!(
            store.due_integrations(at + 60_000, 10).await.unwrap().len(),
            1,
            "due when it ended"
        );
    });
}
