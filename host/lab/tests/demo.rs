//! `hrsync-lab demo`, run as a newcomer runs it (`scripts/demo`).

use std::process::Command;

#[test]
fn demo_syncs_changes_and_then_nothing() {
    let cache = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_hrsync-lab"))
        .arg("demo")
        .env("HRSYNC_CACHE_DIR", cache.path())
        .output()
        .expect("run hrsync-lab");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let squashed = squash(&text);
    // First sync: 10 created, Anna's hand-made account adopted and updated.
    assert!(squashed.contains("(full read, 12 employees) succeeded"), "{text}");
    assert!(squashed.contains("users 10 1 0 0 0"), "{text}");
    assert!(squashed.contains("teams 3 0 - - 0"), "{text}");
    assert!(squashed.contains("no changes: zero writes"), "{text}");
    // Third sync: incremental, a hire and a leaver.
    assert!(squashed.contains("(incremental read, 3 employees) succeeded"), "{text}");
    assert!(squashed.contains("users 1 0 1 0 0"), "{text}");
    assert!(text.contains("excluded by filter `externals`"), "{text}");
    assert!(squashed.contains("jonas.becker@example.com INACTIVE"), "{text}");
    // Fourth sync: a rehire, a shared e-mail and a mistyped one.
    assert!(squashed.contains("users 0 1 0 1 0"), "{text}");
    assert!(
        squashed.contains("15 left as is: e-mail nina.frank@example.com is also the e-mail of employee 11"),
        "{text}"
    );
    assert!(squashed.contains("14 takes account"), "{text}");
    assert!(squashed.contains("16 no valid e-mail"), "{text}");
    // Fifth: Mia's own e-mail gets her an account, and Jonas is back.
    let last = squashed.rsplit("The app now:").next().unwrap_or_default();
    assert!(last.contains("mia.hoffmann@example.com active"), "{text}");
    assert!(last.contains("jonas.becker@example.com active"), "{text}");
}

/// Runs of spaces as one, so tables compare by content.
fn squash(text: &str) -> String {
    text.lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}
