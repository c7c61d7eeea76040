//! Every fixture in tests/fixtures/bad/ gives its specific message and exit code 2, never a panic.

mod common;

use std::process::Command;

struct Case {
    file: String,
    expected: String,
    command: Vec<String>,
}

fn manifest() -> Vec<Case> {
    let text = std::fs::read_to_string(common::fixture("bad/MANIFEST.tsv")).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 4, "manifest line: {l}");
            Case {
                file: cols[0].to_string(),
                expected: cols[1].to_string(),
                command: cols[3].split_whitespace().map(str::to_string).collect(),
            }
        })
        .collect()
}

#[test]
fn every_bad_fixture_fails_clearly() {
    let cases = manifest();
    assert!(cases.len() >= 14, "manifest has {} cases", cases.len());
    for case in cases {
        let path = common::fixture("bad").join(&case.file);
        let out = Command::new(common::bin())
            .args(&case.command)
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            !stderr.contains("panicked"),
            "{}: panic: {stderr}",
            case.file
        );
        if case.expected == "-" {
            // Valid but hostile content: loads, and no escape or control byte reaches the terminal.
            assert!(out.status.success(), "{}: {stderr}", case.file);
            for b in [0x1b_u8, 0x07, 0x9b] {
                assert!(
                    !out.stdout.contains(&b),
                    "{}: byte {b:#x} in output:\n{stdout}",
                    case.file
                );
            }
            continue;
        }
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}: status {:?}, stderr {stderr}",
            case.file,
            out.status
        );
        assert!(
            stderr.contains(&case.expected),
            "{}: expected {:?} in {stderr:?}",
            case.file,
            case.expected
        );
        assert!(
            stderr.contains(&case.file),
            "{}: the message must name the file: {stderr}",
            case.file
        );
    }
}

#[test]
fn hostile_names_are_sanitised_in_json_and_errors() {
    let path = common::fixture("bad/escape_sequences.csv");
    let out = Command::new(common::bin())
        .args(["profile", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!out.stdout.contains(&0x1b) && !out.stdout.contains(&0x07));
    serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("still valid JSON");
    // An error message quoting a hostile column name is sanitised too.
    let out = Command::new(common::bin())
        .args(["prepare", "--label", "\u{1b}[31mnope"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !out.stderr.contains(&0x1b),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
}

#[test]
fn unreadable_file_is_reported() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret.csv");
    std::fs::write(&path, "a,b\n1,2\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    let out = Command::new(common::bin())
        .arg("profile")
        .arg(&path)
        .output()
        .unwrap();
    if std::fs::File::open(&path).is_ok() {
        // Running as root: permissions do not apply, so the file must simply load. The mapping of
        // EACCES to the message is covered by `load::tests::open_errors_are_named`.
        assert!(out.status.success());
        return;
    }
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("permission denied"));
}

#[test]
fn bad_options_exit_2() {
    let cardio = common::shared_dataset("cardio");
    for args in [
        vec!["prepare", "--missing", "sometimes"],
        vec!["prepare", "--delimiter", "ab"],
        vec!["prepare", "--format", "xlsx"],
        vec!["prepare", "--features", "nope"],
        vec!["prepare", "--max-categories", "0"],
        vec!["profile", "--no-such-flag"],
    ] {
        let out = Command::new(common::bin())
            .args(&args)
            .arg(&cardio)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = Command::new(common::bin())
        .args(["profile", "demo:nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cardio"),
        "lists the demos"
    );
}

/// The loader's refusals are the same in every command that reads a data file: each fixture
/// that `profile` refuses is refused by `prepare`, `detect`, `automl` and `score` with the same
/// message and exit 2, never a panic.
#[test]
fn every_command_that_reads_a_file_refuses_the_bad_fixtures_alike() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.sqlite");
    let model = dir.path().join("hbos.model.json");
    for args in [
        vec!["detect", "demo:cardio", "-d", "hbos"],
        vec![
            "experiments",
            "export-model",
            "1",
            "-o",
            model.to_str().unwrap(),
        ],
    ] {
        let out = Command::new(common::bin())
            .arg("--store")
            .arg(&store)
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let model = model.to_str().unwrap();
    let commands: [&[&str]; 4] = [
        &["prepare"],
        &["detect", "-d", "hbos", "--no-store"],
        &["automl", "--trials", "2", "--no-store"],
        &["score", "--model", model],
    ];
    let cases: Vec<Case> = manifest()
        .into_iter()
        .filter(|c| c.expected != "-" && c.command == ["profile"])
        .collect();
    assert!(cases.len() >= 10, "{} loader cases", cases.len());
    for case in &cases {
        let path = common::fixture("bad").join(&case.file);
        for command in commands {
            let out = Command::new(common::bin())
                .args(command)
                .arg(&path)
                .env_remove("PYNOMALY_STORE")
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            let what = format!("{} {}", command[0], case.file);
            assert!(!stderr.contains("panicked"), "{what}: {stderr}");
            assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
            assert!(stderr.contains(&case.expected), "{what}: {stderr}");
        }
    }
}
