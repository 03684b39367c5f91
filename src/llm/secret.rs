//! Clients' LLM keys at rest: encrypted with a 32-byte key kept in a file
//! beside (not in) the database, so a copy of `berth.db` (a backup, a
//! support dump) holds no usable key. berth needs the plaintext again for
//! every container it (re)creates, so "only in the container's env" would
//! lose the key at the first recreate; encrypted at rest it is.

use std::io::Write;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;

const NONCE_LEN: usize = 12;

/// Encrypts and decrypts stored keys. Cheap to clone.
#[derive(Clone)]
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<key>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{path}: {why}")]
    KeyFile { path: PathBuf, why: String },
    #[error("a stored LLM key does not decrypt (was the secret file replaced?)")]
    Corrupt,
}

impl Sealer {
    /// Reads the key file, creating it (mode 0600, its directory 0700) with
    /// a random key the first time.
    pub fn open_or_create(path: &Path) -> Result<Self, SecretError> {
        let fail = |why: String| SecretError::KeyFile {
            path: path.to_owned(),
            why,
        };
        let bytes = match std::fs::read_to_string(path) {
            Ok(text) => hex::decode(text.trim()).map_err(|e| fail(format!("not hex: {e}")))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                create_key_file(path).map_err(|e| fail(e.to_string()))?
            }
            Err(e) => return Err(fail(e.to_string())),
        };
        if bytes.len() != 32 {
            return Err(fail(format!("holds {} bytes, not 32", bytes.len())));
        }
        Ok(Self::from_key(&bytes))
    }

    pub fn from_key(key: &[u8]) -> Self {
        Self {
            cipher: ChaCha20Poly1305::new(Key::from_slice(key)),
        }
    }

    /// nonce || ciphertext (with its tag).
    pub fn seal(&self, plaintext: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .expect("ChaCha20-Poly1305 encrypts any message shorter than 256 GiB");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        out
    }

    pub fn open(&self, sealed: &[u8]) -> Result<String, SecretError> {
        if sealed.len() <= NONCE_LEN {
            return Err(SecretError::Corrupt);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), body)
            .map_err(|_| SecretError::Corrupt)?;
        String::from_utf8(plain).map_err(|_| SecretError::Corrupt)
    }
}

fn create_key_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let mut key = vec![0u8; 32];
    rand::rng().fill_bytes(&mut key);
    // create_new: two processes starting together must not each write a
    // key and encrypt with different ones; the loser reads the winner's.
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut file) => {
            file.write_all(hex::encode(&key).as_bytes())?;
            file.sync_all()?;
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path)?;
            hex::decode(text.trim()).map_err(std::io::Error::other)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_tampering_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets").join("llm.key");
        let sealer = Sealer::open_or_create(&path).unwrap();
        let sealed = sealer.seal("sk-or-v1-secret");
        assert!(!sealed.windows(b"secret".len()).any(|w| w == b"secret"));
        assert_eq!(sealer.open(&sealed).unwrap(), "sk-or-v1-secret");
        // The same file gives the same key; another key cannot open it.
        let again = Sealer::open_or_create(&path).unwrap();
        assert_eq!(again.open(&sealed).unwrap(), "sk-or-v1-secret");
        assert!(Sealer::from_key(&[7; 32]).open(&sealed).is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(sealer.open(&tampered).is_err());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_bad_key_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("llm.key");
        std::fs::write(&path, "abcd").unwrap();
        let err = Sealer::open_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("llm.key") && err.contains("2 bytes"), "{err}");
    }
}
