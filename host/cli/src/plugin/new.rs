//! `hrsync plugin new NAME --kind source|target|rule --lang rust|python|js`:
//! writes one of the templates of sdk/templates/ into a new folder, with
//! the WIT files and what its language needs, ready to build. The
//! templates are compiled into the binary, so the command works anywhere.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use hrsync_model::PluginKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    Source,
    Target,
    Rule,
}

impl Kind {
    /// As the WIT worlds are named.
    fn world(self) -> &'static str {
        match self {
            Kind::Source => PluginKind::Source,
            Kind::Target => PluginKind::Target,
            Kind::Rule => PluginKind::Rule,
        }
        .name()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The plugin's name: lowercase letters, digits and `-` (`hibob`,
    /// `acme-hr`); also the folder's, unless `--dir` says otherwise.
    name: String,
    #[arg(long, value_enum)]
    kind: Kind,
    #[arg(long, value_enum)]
    lang: Lang,
    /// Where to write the plugin [default: ./NAME]; must not exist or be
    /// empty.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Rust: the hrsync-sdk crate (the `sdk` folder of an hrsync checkout)
    /// [default: the checkout this binary was built from].
    #[arg(long)]
    sdk: Option<PathBuf>,
}

/// A file of a template: its path in the new folder and its text.
type File = (&'static str, &'static str);

const WIT: &[File] = &[
    ("wit/types.wit", include_str!("../../../../wit/types.wit")),
    ("wit/host.wit", include_str!("../../../../wit/host.wit")),
    ("wit/worlds.wit", include_str!("../../../../wit/worlds.wit")),
];

const JS_SDK: &[File] = &[
    ("hrsync-sdk/index.js", include_str!("../../../../sdk/js/index.js")),
    ("hrsync-sdk/index.d.ts", include_str!("../../../../sdk/js/index.d.ts")),
];

macro_rules! template {
    ($folder:literal, [$($file:literal),* $(,)?]) => {
        &[$(($file, include_str!(concat!("../../../../sdk/templates/", $folder, "/", $file)))),*]
    };
}

/// A file of sdk/templates/shared/ under the name it gets in the plugin.
macro_rules! shared {
    ($file:literal as $name:literal) => {
        ($name, include_str!(concat!("../../../../sdk/templates/shared/", $file)))
    };
}

/// The code of a template: what differs by language (a rule's
/// installation too: its config is the code's).
fn code(kind: Kind, lang: Lang) -> &'static [File] {
    match (lang, kind) {
        (Lang::Python, Kind::Source) => template!("python-source", ["app.py"]),
        (Lang::Python, Kind::Target) => template!("python-target", ["app.py"]),
        (Lang::Python, Kind::Rule) => template!("python-rule", ["app.py", "installation.toml"]),
        (Lang::Js, Kind::Source) => template!("js-source", ["app.js"]),
        (Lang::Js, Kind::Target) => template!("js-target", ["app.js"]),
        (Lang::Js, Kind::Rule) => template!("js-rule", ["app.js", "installation.toml"]),
        (Lang::Rust, Kind::Source) => template!("rust-source", ["Cargo.toml", "src/lib.rs"]),
        (Lang::Rust, Kind::Target) => template!("rust-target", ["Cargo.toml", "src/lib.rs"]),
        (Lang::Rust, Kind::Rule) => template!("rust-rule", ["Cargo.toml", "src/lib.rs", "installation.toml"]),
    }
}

/// What the templates of a kind share whatever the language: the
/// installation against the tiny emulators, sample input for `plugin
/// test`, and an integration file that syncs through the new plugin with
/// `hrsync-lab emulate`'s APIs and hrsync's own plugins.
fn shared(kind: Kind) -> &'static [File] {
    match kind {
        Kind::Source => &[
            shared!("source-installation.toml" as "installation.toml"),
            shared!("source-integration.toml" as "integration.toml"),
        ],
        Kind::Target => &[
            shared!("target-installation.toml" as "installation.toml"),
            shared!("changes.json" as "changes.json"),
            shared!("target-integration.toml" as "integration.toml"),
        ],
        Kind::Rule => &[
            shared!("employees.json" as "employees.json"),
            shared!("rule-integration.toml" as "integration.toml"),
        ],
    }
}

/// The sdk folder of the checkout this binary was built from.
fn built_from_sdk() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk")
}

pub fn run(args: NewArgs) -> Result<ExitCode, String> {
    check_name(&args.name)?;
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(&args.name));
    if dir.exists() && std::fs::read_dir(&dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(format!(
            "{} exists and is not empty; choose another name or --dir",
            dir.display()
        ));
    }
    let crate_name = args.name.replace('-', "_");
    let sdk = match args.lang {
        Lang::Rust => {
            let sdk = args.sdk.clone().unwrap_or_else(built_from_sdk);
            let manifest = sdk.join("Cargo.toml");
            if !manifest.is_file() {
                return Err(format!(
                    "no hrsync-sdk crate at {}; pass --sdk with the `sdk` folder of an hrsync checkout",
                    sdk.display()
                ));
            }
            sdk.canonicalize()
                .map_err(|e| format!("{}: {e}", sdk.display()))?
                .display()
                .to_string()
        }
        _ => String::new(),
    };
    let plugins = built_from_sdk().join("../target/wasm32-wasip2/plugin");
    let plugins = plugins.canonicalize().unwrap_or(plugins).display().to_string();
    let mut files: Vec<File> = [code(args.kind, args.lang), shared(args.kind)].concat();
    // A rule's integration file carries the config of its installation file.
    let rule_config = files
        .iter()
        .find(|(path, _)| *path == "installation.toml")
        .and_then(|(_, text)| text.split_once("[config]\n"))
        .map(|(_, config)| config.trim_end().to_string())
        .unwrap_or_default();
    match args.lang {
        Lang::Python => files.extend_from_slice(WIT),
        Lang::Js => {
            files.extend_from_slice(WIT);
            files.extend_from_slice(JS_SDK);
            files.push(shared!("jsconfig.json" as "jsconfig.json"));
        }
        Lang::Rust => {}
    }
    for (path, text) in files {
        let text = text
            .replace("{{name}}", &args.name)
            .replace("{{crate}}", &crate_name)
            .replace("{{sdk}}", &toml_escaped(&sdk))
            .replace("{{plugins}}", &toml_escaped(&plugins))
            .replace("{{rule_config}}", &rule_config);
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&target, text).map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    }
    let kind = args.kind.world();
    println!("wrote a {kind} plugin in {} to {}", language(args.lang), dir.display());
    println!(
        "build, check and try it (also at the top of its {}):",
        main_file(args.lang)
    );
    println!("  cd {}", dir.display());
    for command in commands(args.lang, args.kind, &args.name, &crate_name) {
        println!("  {command}");
    }
    println!("then sync with it through the emulators of `hrsync-lab emulate`: see integration.toml");
    Ok(ExitCode::SUCCESS)
}

/// A path inside a TOML basic string (the templates quote it).
fn toml_escaped(path: &str) -> String {
    path.replace('\\', "\\\\").replace('"', "\\\"")
}

fn language(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => "Rust",
        Lang::Python => "Python",
        Lang::Js => "JavaScript",
    }
}

fn main_file(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => "src/lib.rs",
        Lang::Python => "app.py",
        Lang::Js => "app.js",
    }
}

/// The commands the template's header repeats (sdk/README.md explains
/// them); `hrsync-lab emulate` serves the APIs the templates talk to.
fn commands(lang: Lang, kind: Kind, name: &str, crate_name: &str) -> Vec<String> {
    // This binary, wherever it is: `hrsync` need not be on PATH.
    let hrsync = std::env::current_exe()
        .map(|exe| exe.display().to_string())
        .unwrap_or_else(|_| "hrsync".into());
    let test = match kind {
        Kind::Source => {
            format!("TINY_HR_TOKEN=tiny-hr-token {hrsync} plugin test {name}.wasm --config installation.toml")
        }
        Kind::Target => format!(
            "TINY_APP_KEY=tiny-app-key {hrsync} plugin test {name}.wasm --config installation.toml --apply changes.json"
        ),
        Kind::Rule => format!("{hrsync} plugin test {name}.wasm --config installation.toml --employees employees.json"),
    };
    let kind = kind.world();
    match lang {
        Lang::Python => vec![
            format!("componentize-py -d wit -w {kind} bindings bindings"),
            "MYPYPATH=bindings mypy --strict app.py".to_string(),
            format!("componentize-py -d wit -w {kind} componentize app -o {name}.wasm"),
            test,
        ],
        Lang::Js => vec![
            format!("jco guest-types wit -n {kind} -o types"),
            "tsc -p jsconfig.json".to_string(),
            format!("componentize-js app.js --wit wit -n {kind} -d http -d fetch-event -o {name}.wasm"),
            test,
        ],
        Lang::Rust => vec![
            "cargo build --release --target wasm32-wasip2".to_string(),
            format!("cp target/wasm32-wasip2/release/{crate_name}.wasm {name}.wasm"),
            test,
        ],
    }
}

/// As manifests require (host/runtime/src/manifest.rs), starting with a
/// letter so it is also a crate and a file name.
fn check_name(name: &str) -> Result<(), String> {
    if hrsync_runtime::manifest::valid_name(name) && name.starts_with(|c: char| c.is_ascii_lowercase()) {
        Ok(())
    } else {
        Err(format!(
            "plugin name {name:?}: use lowercase letters, digits and `-`, starting with a letter (e.g. `acme-hr`)"
        ))
    }
}
