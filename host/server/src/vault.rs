//! Secrets at rest: installation secrets and webhook secrets are sealed
//! with ChaCha20-Poly1305 under the server's key before they reach the
//! database. Each sealed value is bound to where it belongs (installation
//! and name), so a value copied into another row does not open.

use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use hrsync_runtime::Secret;

const VERSION: &str = "v1.";

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("the secret key must be 64 hex digits (32 bytes)")]
    Key,
    #[error("secret key file {path}: {source}")]
    File { path: String, source: std::io::Error },
    #[error("no randomness: {0}")]
    Random(String),
    #[error("a sealed secret of {0} does not open with this server's key")]
    Open(String),
}

pub struct Vault {
    cipher: ChaCha20Poly1305,
    /// Derived from the key: tags that only servers sharing the key can
    /// make or check ([`Vault::tag`]).
    tag_key: [u8; 32],
    /// Derived from the key: seals the audit chain ([`Vault::audit_key`]).
    audit_key: [u8; 32],
    /// Derived from the key, one-way: what the database records so that
    /// a process with another key is refused ([`check_shared_key`]).
    key_check: String,
}

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// `n` random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], VaultError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| VaultError::Random(e.to_string()))?;
    Ok(bytes)
}

impl Vault {
    /// From 64 hex digits.
    pub fn from_hex_key(text: &str) -> Result<Self, VaultError> {
        let bytes = from_hex(text.trim()).filter(|b| b.len() == 32).ok_or(VaultError::Key)?;
        Ok(Self {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&bytes)),
            tag_key: blake3::derive_key("hrsync 2026-12 request tags", &bytes),
            audit_key: blake3::derive_key("hrsync 2026-12 audit chain", &bytes),
            key_check: to_hex(&blake3::derive_key("hrsync 2026-12 key check", &bytes)),
        })
    }

    /// Reads the key file, or creates it with a new random key (readable by
    /// the owner only) when it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, VaultError> {
        let file_error = |source| VaultError::File {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_hex_key(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = to_hex(&random_bytes::<32>()?);
                write_private(path, &key).map_err(file_error)?;
                Self::from_hex_key(&key)
            }
            Err(e) => Err(file_error(e)),
        }
    }

    /// The key that seals the audit chain: the database does not hold it,
    /// so a rewrite of the database cannot make hashes that verify.
    pub fn audit_key(&self) -> [u8; 32] {
        self.audit_key
    }

    /// A tag of `subject` that proves a server holding this key made it
    /// (128 bits, hex).
    pub fn tag(&self, subject: &str) -> String {
        to_hex(&blake3::keyed_hash(&self.tag_key, subject.as_bytes()).as_bytes()[..16])
    }

    /// Seals `plaintext` for `context` (e.g. `ins_123/client-secret`).
    pub fn seal(&self, context: &str, plaintext: &str) -> Result<String, VaultError> {
        let nonce = random_bytes::<12>()?;
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Open(context.to_string()))?;
        Ok(format!("{VERSION}{}{}", to_hex(&nonce), to_hex(&sealed)))
    }

    pub fn open(&self, context: &str, sealed: &str) -> Result<Secret, VaultError> {
        let fail = || VaultError::Open(context.to_string());
        let bytes = sealed.strip_prefix(VERSION).and_then(from_hex).ok_or_else(fail)?;
        if bytes.len() < 12 {
            return Err(fail());
        }
        let (nonce, body) = bytes.split_at(12);
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| fail())?;
        String::from_utf8(plain).map(Secret::new).map_err(|_| fail())
    }
}

/// Why a process may not use a database with its secret key.
#[derive(Debug, thiserror::Error)]
pub enum SharedKeyError {
    #[error(
        "this server's secret key is not the one the database's secrets were sealed with ({0}): every process \
         sharing a database needs the same key (HRSYNC_SECRET_KEY or --secret-key, else <data-dir>/secret.key); \
         see docs/operations.md, \"Several nodes\""
    )]
    Mismatch(&'static str),
    #[error(transparent)]
    Store(#[from] hrsync_store::StoreError),
}

/// Refuses a key other than the one the processes sharing `store` hold:
/// checked against the value the first of them recorded, or, in a
/// database from before that record, against a secret sealed in it;
/// then recorded. Without it a node with another key starts and answers
/// 500 for every secret it cannot open.
pub async fn check_shared_key(vault: &Vault, store: &hrsync_store::Store) -> Result<(), SharedKeyError> {
    if !store.server_key_recorded().await? {
        if let Some((context, sealed)) = store.some_sealed_secret().await? {
            if vault.open(&context, &sealed).is_err() {
                return Err(SharedKeyError::Mismatch("a sealed secret does not open with it"));
            }
        }
    }
    if store.record_server_key(&vault.key_check).await? != vault.key_check {
        return Err(SharedKeyError::Mismatch("the database recorded another key"));
    }
    Ok(())
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_in_their_place_and_with_their_key() {
        let vault = Vault::from_hex_key(&"ab".repeat(32)).unwrap();
        let sealed = vault.seal("ins_1/token", "s3cret-value").unwrap();
        assert!(!sealed.contains("s3cret"));
        assert_eq!(vault.open("ins_1/token", &sealed).unwrap().expose(), "s3cret-value");
        assert!(vault.open("ins_2/token", &sealed).is_err());
        let other = Vault::from_hex_key(&"cd".repeat(32)).unwrap();
        let message = other.open("ins_1/token", &sealed).unwrap_err().to_string();
        assert!(
            message.contains("ins_1/token") && !message.contains("s3cret"),
            "{message}"
        );
        assert!(Vault::from_hex_key("too short").is_err());
    }

    #[test]
    fn a_new_key_file_is_created_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/secret.key");
        let sealed = Vault::load_or_create(&path).unwrap().seal("x", "y").unwrap();
        let again = Vault::load_or_create(&path).unwrap();
        assert_eq!(again.open("x", &sealed).unwrap().expose(), "y");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
