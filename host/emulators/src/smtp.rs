//! A local SMTP sink: accepts every message (RFC 5321's plain dialogue,
//! no TLS, no auth) and keeps it, so that tests can read what hrsync sent.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Default)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// Headers and body as sent.
    pub data: String,
}

#[derive(Clone)]
pub struct SmtpSink {
    addr: SocketAddr,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    pub fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let mails = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&mails);
        std::thread::Builder::new()
            .name(format!("smtp-sink-{}", addr.port()))
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let keep = Arc::clone(&keep);
                    std::thread::spawn(move || {
                        if let Err(e) = session(stream, &keep) {
                            tracing::debug!("smtp sink session ended: {e}");
                        }
                    });
                }
            })?;
        Ok(Self { addr, mails })
    }

    /// `smtp://127.0.0.1:PORT`, for `hrsync serve --smtp-url`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

fn address(argument: &str) -> String {
    let text = argument.split_once(':').map(|(_, a)| a).unwrap_or(argument).trim();
    text.trim_start_matches('<').split('>').next().unwrap_or("").to_string()
}

fn session(stream: TcpStream, mails: &Mutex<Vec<Mail>>) -> std::io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut reply = |text: &str| writer.write_all(format!("{text}\r\n").as_bytes());
    reply("220 hrsync-smtp-sink ready")?;
    let mut mail = Mail::default();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_string();
        let verb = command.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => reply("250-hrsync-smtp-sink\r\n250 8BITMIME")?,
            "HELO" | "NOOP" | "RSET" => reply("250 ok")?,
            "MAIL" => {
                mail = Mail {
                    from: address(&command),
                    ..Mail::default()
                };
                reply("250 ok")?
            }
            "RCPT" => {
                mail.to.push(address(&command));
                reply("250 ok")?
            }
            "DATA" => {
                reply("354 end with <CRLF>.<CRLF>")?;
                loop {
                    line.clear();
                    if reader.read_line(&mut line)? == 0 {
                        return Ok(());
                    }
                    if line.trim_end_matches(['\r', '\n']) == "." {
                        break;
                    }
                    let text = line.strip_prefix('.').unwrap_or(&line);
                    mail.data.push_str(text);
                }
                if let Ok(mut mails) = mails.lock() {
                    mails.push(std::mem::take(&mut mail));
                }
                reply("250 queued")?
            }
            "QUIT" => {
                reply("221 bye")?;
                return Ok(());
            }
            _ => reply("502 not implemented")?,
        }
    }
}
