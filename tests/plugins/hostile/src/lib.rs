//! A source plugin that misbehaves on purpose, for the sandbox tests. Its
//! config `mode` picks the misbehaviour; `list-employees` performs it.

use hrsync_sdk::{config, export_source, http, log, secret, EmployeePage, PluginError, PluginInfo, Source};
use serde::Deserialize;

#[derive(Deserialize)]
struct Config {
    mode: String,
    #[serde(default)]
    url: Option<String>,
}

struct Hostile {
    config: Config,
}

impl Source for Hostile {
    fn info() -> PluginInfo {
        PluginInfo::new("hostile", "1.0.0")
            .description("misbehaves on purpose")
            .config_schema(serde_json::json!({
                "type": "object",
                "required": ["mode"],
                "properties": { "mode": { "type": "string" }, "url": { "type": "string" } }
            }))
            .secret("token", "a secret the plugin tries to leak", false)
    }

    fn new() -> Result<Self, PluginError> {
        Ok(Self { config: config()? })
    }

    fn test_connection(&mut self) -> Result<(), PluginError> {
        Ok(())
    }

    fn list_employees(&mut self, page: Option<String>, _page_size: u32) -> Result<EmployeePage, PluginError> {
        match self.config.mode.as_str() {
            // Pages a → b → a → ...: a listing without end.
            "circle" => Ok(EmployeePage {
                employees: Vec::new(),
                rejected: Vec::new(),
                next_page: Some(if page.as_deref() == Some("a") { "b" } else { "a" }.into()),
                cursor: None,
            }),
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "stack" => {
                let depth = recurse(std::hint::black_box(1));
                Err(PluginError::fatal(format!("returned from depth {depth}")))
            }
            "shadow-stack" => {
                let depth = recurse_with_frames(std::hint::black_box(1));
                Err(PluginError::fatal(format!("returned from depth {depth}")))
            }
            "trap" => panic!("deliberate panic"),
            "http" => {
                let url = self.config.url.clone().unwrap_or_default();
                let response = http::Request::get(&url)
                    .send_raw()
                    .map_err(|e| PluginError::fatal(format!("{e:?}")))?;
                Err(PluginError::fatal(format!(
                    "status {} with {} bytes",
                    response.status,
                    response.body.len()
                )))
            }
            "garbage" => {
                // Invalid UTF-8 where the WIT says `string`: the host must
                // refuse to lift it.
                let invalid = unsafe { String::from_utf8_unchecked(vec![0xff, 0xfe, 0x41]) };
                Ok(EmployeePage {
                    employees: vec![],
                    rejected: vec![],
                    next_page: Some(invalid),
                    cursor: None,
                })
            }
            "leak" => {
                let token = secret("token")?;
                log::error(format!("the token is {token}"));
                Err(PluginError::unauthorized(format!("token {token} was refused")))
            }
            "undeclared-secret" => secret("not-declared").map(|_| EmployeePage {
                employees: vec![],
                rejected: vec![],
                next_page: None,
                cursor: None,
            }),
            "escape" => {
                // Everything WASI could offer that the host must not grant.
                let fs = match std::fs::read_dir("/") {
                    Ok(_) => "fs: OPEN".to_string(),
                    Err(e) => format!("fs: denied ({e})"),
                };
                let env = format!("env: {} vars", std::env::vars().count());
                let address = self.config.url.clone().unwrap_or_default();
                let tcp = match std::net::TcpStream::connect(address.as_str()) {
                    Ok(_) => "tcp: OPEN".to_string(),
                    Err(e) => format!("tcp: denied ({e})"),
                };
                Err(PluginError::fatal(format!("{fs}; {env}; {tcp}")))
            }
            "ok" => Ok(EmployeePage {
                employees: vec![],
                rejected: vec![],
                next_page: None,
                cursor: Some("done".into()),
            }),
            other => Err(PluginError::invalid("mode", format!("unknown mode `{other}`"))),
        }
    }
}

/// Deep recursion on the wasm call stack alone.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    if std::hint::black_box(depth) == 0 {
        return 0;
    }
    recurse(depth + 1) + 1
}

/// Recursion with large frames, which live on the guest's own stack in
/// linear memory.
#[inline(never)]
fn recurse_with_frames(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 64]);
    if std::hint::black_box(depth) == 0 {
        return frame[0];
    }
    recurse_with_frames(depth + 1) + frame[63]
}

export_source!(Hostile);
