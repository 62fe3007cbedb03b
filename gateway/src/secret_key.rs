//! The invitation-signing key: 32 random bytes in a file, made on first start.

use domain::invitation::SecretKey;
use rand::RngCore;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum SecretKeyError {
    #[error("could not read or create the secret key file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the secret key file {0} does not hold 64 hex characters; delete it to make a new key (all invitation links sent so far will stop working)")]
    Malformed(String),
}

pub fn load_or_create(path: &Path) -> Result<SecretKey, SecretKeyError> {
    let io = |source| SecretKeyError::Io {
        path: path.display().to_string(),
        source,
    };
    if !path.exists() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        write_private(path, &hex::encode(bytes)).map_err(io)?;
        tracing::info!(path = %path.display(), "created a new secret key");
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    let bytes = hex::decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| SecretKeyError::Malformed(path.display().to_string()))?;
    Ok(SecretKey::from_bytes(bytes))
}

/// Creates the file readable by its owner only. `create_new` makes a concurrent
/// second start fail instead of overwriting the first one's key.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => file.write_all(contents.as_bytes()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}
