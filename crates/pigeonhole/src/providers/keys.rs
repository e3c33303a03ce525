//! `--provider-keys FILE`: which keys each provider route takes, and which inbox
//! each key's mail lands in. A TOML file of `[[key]]` tables:
//!
//! ```toml
//! [[key]]
//! provider = "sendgrid"
//! key = "SG.abc.def"
//! inbox = "shop"        # optional; without it: sendgrid:SG.abc
//!
//! [[key]]
//! provider = "ses"
//! key = "AKIAEXAMPLE"   # an access key ID
//! secret = "…"          # optional: its secret access key, to check signatures
//! ```
//!
//! A provider with keys listed takes only those (any other is refused in its
//! shape); a provider with none takes any value, as long as its credential header
//! is there. Keys are kept as SHA-256 digests and compared as such, so the time a
//! comparison takes says nothing about a key.

use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{Credential, Provider};

/// The keys of a keys file; the default lists none (every provider takes any key).
#[derive(Debug, Default)]
pub struct ProviderKeys {
    keys: Vec<Key>,
}

#[derive(Debug)]
struct Key {
    provider: Provider,
    digest: [u8; 32],
    inbox: Option<String>,
    /// A secret the credential signs requests with (SES's secret access key).
    secret: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    #[serde(default)]
    key: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    provider: Provider,
    key: String,
    inbox: Option<String>,
    secret: Option<String>,
}

impl ProviderKeys {
    /// Read a keys file. The error says what is wrong and where.
    pub fn load(path: &Path) -> Result<ProviderKeys, String> {
        let text = std::fs::read_to_string(path).map_err(|err| format!("cannot read it: {err}"))?;
        ProviderKeys::parse(&text)
    }

    fn parse(text: &str) -> Result<ProviderKeys, String> {
        let file: KeysFile = toml::from_str(text).map_err(|err| err.to_string().trim_end().to_string())?;
        let mut keys: Vec<Key> = Vec::new();
        for (number, entry) in file.key.into_iter().enumerate().map(|(i, entry)| (i + 1, entry)) {
            if entry.key.trim().is_empty() {
                return Err(format!("key {number} ({}) is empty", entry.provider));
            }
            if entry.inbox.as_deref().is_some_and(|inbox| inbox.trim().is_empty()) {
                return Err(format!(
                    "key {number} ({}) has an empty inbox; leave it out for the default name",
                    entry.provider
                ));
            }
            let digest: [u8; 32] = Sha256::digest(&entry.key).into();
            if keys.iter().any(|key| key.provider == entry.provider && key.digest == digest) {
                return Err(format!("key {number} ({}) is listed twice", entry.provider));
            }
            if entry.secret.is_some() && entry.provider != Provider::Ses {
                return Err(format!("key {number} ({}) has a secret: only ses keys sign requests", entry.provider));
            }
            keys.push(Key {
                provider: entry.provider,
                digest,
                inbox: entry.inbox.map(|i| i.trim().to_string()),
                secret: entry.secret,
            });
        }
        Ok(ProviderKeys { keys })
    }

    /// The inbox mail sent with `credential` lands in: the name the file maps its
    /// key to, else `<provider>:<key name>`. `None` when the file lists keys for
    /// `provider` and this is none of them.
    pub fn inbox(&self, provider: Provider, credential: &Credential) -> Option<String> {
        let default = || format!("{provider}:{}", credential.name);
        let mut listed = self.keys.iter().filter(|key| key.provider == provider).peekable();
        if listed.peek().is_none() {
            return Some(default());
        }
        let digest: [u8; 32] = Sha256::digest(&credential.secret).into();
        listed.find(|key| key.digest == digest).map(|key| key.inbox.clone().unwrap_or_else(default))
    }

    /// The secret `credential` signs its requests with, when the file gives one.
    pub fn secret(&self, provider: Provider, credential: &Credential) -> Option<&str> {
        let digest: [u8; 32] = Sha256::digest(&credential.secret).into();
        let key = self.keys.iter().find(|key| key.provider == provider && key.digest == digest)?;
        key.secret.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credential(secret: &str, name: &str) -> Credential {
        Credential { secret: secret.into(), name: name.into() }
    }

    #[test]
    fn an_ses_key_may_carry_its_secret() {
        let keys = ProviderKeys::parse(
            r#"
            [[key]]
            provider = "ses"
            key = "AKIASIGNED"
            secret = "s3cret"

            [[key]]
            provider = "ses"
            key = "AKIAPLAIN"
            "#,
        )
        .unwrap();
        let signed = credential("AKIASIGNED", "AKIASIGNED");
        assert_eq!(keys.secret(Provider::Ses, &signed), Some("s3cret"));
        assert_eq!(keys.inbox(Provider::Ses, &signed).as_deref(), Some("ses:AKIASIGNED"));
        assert_eq!(keys.secret(Provider::Ses, &credential("AKIAPLAIN", "AKIAPLAIN")), None);
        assert_eq!(keys.secret(Provider::Ses, &credential("AKIAOTHER", "AKIAOTHER")), None);
        let err =
            ProviderKeys::parse("[[key]]\nprovider = \"sendgrid\"\nkey = \"SG.a.b\"\nsecret = \"x\"\n").unwrap_err();
        assert!(err.contains("only ses keys sign requests"), "{err}");
    }

    #[test]
    fn listed_keys_map_to_inboxes_and_others_are_refused() {
        let keys = ProviderKeys::parse(
            r#"
            [[key]]
            provider = "sendgrid"
            key = "SG.shop.secret"
            inbox = "shop"

            [[key]]
            provider = "sendgrid"
            key = "SG.blog.secret"
            "#,
        )
        .unwrap();
        let sendgrid = Provider::SendGrid;
        assert_eq!(keys.inbox(sendgrid, &credential("SG.shop.secret", "SG.shop")).as_deref(), Some("shop"));
        assert_eq!(keys.inbox(sendgrid, &credential("SG.blog.secret", "SG.blog")).as_deref(), Some("sendgrid:SG.blog"));
        assert_eq!(keys.inbox(sendgrid, &credential("SG.shop.wrong", "SG.shop")), None);
        // A provider without listed keys takes any.
        assert_eq!(keys.inbox(Provider::Resend, &credential("re_x", "re_x")).as_deref(), Some("resend:re_x"));
        assert_eq!(ProviderKeys::default().inbox(sendgrid, &credential("x", "x")).as_deref(), Some("sendgrid:x"));
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let refusal = |text: &str| ProviderKeys::parse(text).expect_err("refused");
        assert!(refusal("[[key]]\nprovider = \"sendmail\"\nkey = \"x\"\n").contains("unknown variant"));
        assert!(refusal("[[key]]\nprovider = \"ses\"\n").contains("missing field `key`"));
        assert!(refusal("[[key]]\nprovider = \"ses\"\nkey = \"x\"\nname = \"y\"\n").contains("unknown field"));
        assert!(refusal("[[key]]\nprovider = \"ses\"\nkey = \" \"\n").contains("key 1 (ses) is empty"));
        assert!(refusal("[[key]]\nprovider = \"ses\"\nkey = \"a\"\ninbox = \"\"\n").contains("empty inbox"));
        let twice = "[[key]]\nprovider = \"ses\"\nkey = \"a\"\n[[key]]\nprovider = \"ses\"\nkey = \"a\"\n";
        assert!(refusal(twice).contains("key 2 (ses) is listed twice"));
        assert!(ProviderKeys::parse("").unwrap().keys.is_empty());
    }
}
