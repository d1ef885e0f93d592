//! What an uncaught exception in a plugin was, read from what the plugin
//! printed before it trapped: componentize-py prints a Python traceback,
//! componentize-js the JavaScript error it could not turn into a
//! `plugin-error`, a Rust plugin its panic message. One line names the
//! exception's type, message and where it was raised —
//! `KeyError: 'identifier' (app.py line 201, in list_employees)` — so a
//! plugin author sees their bug, not "wasm `unreachable` executed".
//!
//! The SDKs (sdk/python, sdk/js) catch exceptions themselves and return a
//! `fatal` error worded the same way; this covers plugins without them and
//! failures outside the SDK's guard (a wrong return type is found while the
//! result is handed to the host).

/// Frames named after the exception, innermost first.
const FRAMES_SHOWN: usize = 3;
/// What componentize-py's runtime panics with after printing the traceback
/// of an exception that escaped.
const PYTHON_RUNTIME_PANIC: &str = "Python function threw an unexpected exception";
/// The most characters of a summary: it becomes a run's error.
const SUMMARY_CHARS: usize = 500;

/// The exception in `output`, in one line, if it holds one: of several
/// (an exception the SDK caught and printed, then a panic), the last.
pub fn summarize(output: &str) -> Option<String> {
    let last = [
        output
            .rfind("Traceback (most recent call last):")
            .and_then(|at| Some((at, python(output)?))),
        output
            .rfind("(received `")
            .and_then(|at| Some((at, javascript(output)?))),
        // componentize-py's own panic after a traceback it printed is the
        // consequence, not another exception.
        output
            .rfind("panicked at ")
            .and_then(|at| Some((at, rust_panic(output)?)))
            .filter(|(_, panic)| !panic.contains(PYTHON_RUNTIME_PANIC)),
    ]
    .into_iter()
    .flatten()
    .max_by_key(|(at, _)| *at)?;
    Some(one_line(&last.1))
}

/// Whitespace and control characters as single spaces, cut to
/// [`SUMMARY_CHARS`]: the plugin wrote the text; the host's message stays
/// one line.
fn one_line(text: &str) -> String {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect();
    let line = words.join(" ");
    match line.char_indices().nth(SUMMARY_CHARS) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

/// The last traceback: `Traceback (most recent call last):`, frames as
/// `  File "/0/app.py", line 14, in evaluate` (each maybe followed by its
/// source line), then `KeyError: 'identifier'`.
fn python(output: &str) -> Option<String> {
    let start = output.rfind("Traceback (most recent call last):")?;
    let mut frames = Vec::new();
    let mut exception = None;
    for line in output[start..].lines().skip(1) {
        if let Some(frame) = line.trim_start().strip_prefix("File \"") {
            if let Some((file, rest)) = frame.split_once('"') {
                let line_no = rest
                    .split(", line ")
                    .nth(1)
                    .map(|r| r.split(',').next().unwrap_or(r).trim());
                let function = rest.split(", in ").nth(1).map(str::trim);
                frames.push(Frame {
                    file: script_name(file),
                    line: line_no.unwrap_or("?").to_string(),
                    function: function.unwrap_or("?").to_string(),
                });
            }
        } else if !line.starts_with(' ') && !line.trim().is_empty() {
            exception = Some(line.trim().to_string());
            break;
        }
    }
    Some(format!("uncaught {}", with_frames(exception?, frames)))
}

/// componentize-js: a value thrown out of an export that is not a
/// `plugin-error` is reported as ``... (received `TypeError: x is
/// undefined`) specified for `PluginError` `` with the stack of the glue
/// code, not of the throw; the thrown error's text is what names the bug.
fn javascript(output: &str) -> Option<String> {
    let start = output.rfind("(received `")? + "(received `".len();
    let end = output[start..].find("`)")? + start;
    let thrown = output[start..end].trim();
    if thrown.is_empty() {
        return None;
    }
    Some(format!(
        "uncaught {thrown} (thrown where a plugin-error was expected; return or throw one of the typed errors)"
    ))
}

/// `panicked at src/lib.rs:12:5:\nmessage`.
fn rust_panic(output: &str) -> Option<String> {
    let start = output.rfind("panicked at ")? + "panicked at ".len();
    let mut lines = output[start..].lines();
    let place = lines.next()?.trim().trim_end_matches(':');
    let message = lines.next().map(str::trim).unwrap_or_default();
    if message.is_empty() {
        return Some(format!("panicked at {place}"));
    }
    Some(format!("panicked: {message} ({place})"))
}

struct Frame {
    file: String,
    line: String,
    function: String,
}

/// `KeyError: 'x' (app.py line 8, in helper; app.py line 14, in evaluate)`:
/// the innermost frames of the plugin's own code first. Frames of the
/// Python library and of the SDK are left out unless there are no others:
/// unlike the SDKs' guards (whose own checks raise errors with no frame
/// worth naming), the host has only the traceback, and a library frame
/// says more than none.
fn with_frames(exception: String, frames: Vec<Frame>) -> String {
    let own: Vec<&Frame> = frames.iter().rev().filter(|f| !is_library(&f.file)).collect();
    let shown: Vec<&Frame> = if own.is_empty() {
        frames.iter().rev().collect()
    } else {
        own
    };
    let places: Vec<String> = shown
        .iter()
        .take(FRAMES_SHOWN)
        .map(|f| format!("{} line {}, in {}", f.file, f.line, f.function))
        .collect();
    if places.is_empty() {
        exception
    } else {
        format!("{exception} ({})", places.join("; "))
    }
}

/// componentize-py names files by their place on the Python path
/// (`/0/app.py`, `/1/hrsync_sdk/source.py`); the number says nothing to
/// the author.
fn script_name(file: &str) -> String {
    let trimmed = file.trim_start_matches('/');
    match trimmed.split_once('/') {
        Some((first, rest)) if first.chars().all(|c| c.is_ascii_digit()) => rest.to_string(),
        _ => file.to_string(),
    }
}

fn is_library(file: &str) -> bool {
    file.starts_with("hrsync_sdk/")
        || file.starts_with("python3")
        || file.contains("/python3.")
        || file.starts_with("wit_world/")
        || file.starts_with("componentize_py")
        || file.starts_with('<')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_python_traceback_names_the_exception_and_the_plugins_own_frames() {
        let output = "Traceback (most recent call last):\n  File \"/0/app.py\", line 14, in evaluate\n  File \"/1/hrsync_sdk/guard.py\", line 30, in call\n  File \"/0/app.py\", line 8, in helper\nKeyError: 'identifier'\n\nthread '<unnamed>' (1) panicked at runtime/src/lib.rs:1293:29:\nPython function threw an unexpected exception\n";
        assert_eq!(
            summarize(output).as_deref(),
            Some("uncaught KeyError: 'identifier' (app.py line 8, in helper; app.py line 14, in evaluate)")
        );
    }

    #[test]
    fn only_library_frames_are_still_named() {
        let output = "Traceback (most recent call last):\n  File \"/1/hrsync_sdk/source.py\", line 3, in describe\n    return x\nAttributeError: 'dict' object has no attribute 'name'\n";
        assert_eq!(
            summarize(output).as_deref(),
            Some("uncaught AttributeError: 'dict' object has no attribute 'name' (hrsync_sdk/source.py line 3, in describe)")
        );
    }

    #[test]
    fn a_javascript_throw_names_the_thrown_error() {
        let output = "invalid variant tag value `undefined` (received `TypeError: can't access property \"foo\", x is undefined`) specified for `PluginError`\nStack:\n  export@initializer.js:1809:17\n";
        let summary = summarize(output).unwrap_or_default();
        assert!(
            summary.starts_with("uncaught TypeError: can't access property \"foo\", x is undefined"),
            "{summary}"
        );
    }

    #[test]
    fn a_rust_panic_names_its_message_and_place() {
        let output =
            "thread '<unnamed>' panicked at src/lib.rs:12:5:\nno department\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(
            summarize(output).as_deref(),
            Some("panicked: no department (src/lib.rs:12:5)")
        );
    }

    #[test]
    fn the_last_exception_wins_and_stays_one_bounded_line() {
        let output = format!(
            "Traceback (most recent call last):\n  File \"/0/app.py\", line 3, in f\nKeyError: 'a'\nthread '<unnamed>' panicked at src/lib.rs:9:1:\nbad\x1b[31m\nnews {}\n",
            "x".repeat(2000)
        );
        let summary = summarize(&output).unwrap_or_default();
        assert!(summary.starts_with("panicked: bad"), "{summary}");
        assert!(!summary.contains('\n') && !summary.contains('\x1b'), "{summary}");
        assert!(summary.chars().count() <= SUMMARY_CHARS + 1, "{}", summary.len());
    }

    #[test]
    fn plain_output_is_no_exception() {
        assert_eq!(summarize("starting\nfetched 3 pages\n"), None);
    }
}
