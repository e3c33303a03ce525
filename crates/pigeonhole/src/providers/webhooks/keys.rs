//! The secrets each provider's webhook signature is made with, and the signing.
//!
//! Made once per data folder and kept in `webhooks.json` (owner-only), so an app
//! configured with Pigeonhole's public key or secret keeps verifying across runs:
//! SendGrid's ECDSA P-256 key (the app verifies with its public key), Mailgun's
//! HTTP webhook signing key, Resend's Svix secret and the message webhooks'
//! Standard Webhooks secret (shared secrets, shown to the user), and the RSA key
//! and self-signed certificate that sign SNS notifications (made on first use:
//! RSA key generation takes a moment).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use rsa::pkcs8::EncodePrivateKey as _;
use serde::{Deserialize, Serialize};

/// What a P-256 public key is, in DER, before its 65 point bytes: the
/// SubjectPublicKeyInfo header (id-ecPublicKey, prime256v1) that SendGrid's
/// verifier expects around the key.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
    0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The keys as `webhooks.json` keeps them (`"Keys": {…}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct Keys {
    /// SendGrid's signing key: PKCS#8 DER, base64.
    pub sendgrid_private_key: String,
    /// Mailgun's HTTP webhook signing key.
    pub mailgun_signing_key: String,
    /// Resend's (Svix's) endpoint secret, `whsec_<base64>`.
    pub resend_signing_secret: String,
    /// SNS's RSA signing key: PKCS#8 DER, base64; empty until SES is first used.
    pub sns_private_key: String,
    /// The self-signed certificate of `sns_private_key`, PEM.
    pub sns_certificate: String,
    /// What message webhooks are signed with (Standard Webhooks), `whsec_<base64>`.
    pub message_signing_secret: String,
}

impl Keys {
    /// Fill in every missing key but SNS's; true when one was made.
    pub fn fill(&mut self) -> Result<bool, String> {
        let rng = SystemRandom::new();
        let mut made = false;
        if self.sendgrid_private_key.is_empty() {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
                .map_err(|_| "cannot make an ECDSA key")?;
            self.sendgrid_private_key = STANDARD.encode(pkcs8.as_ref());
            made = true;
        }
        if self.mailgun_signing_key.is_empty() {
            self.mailgun_signing_key = hex(&random::<16>(&rng)?);
            made = true;
        }
        if self.resend_signing_secret.is_empty() {
            self.resend_signing_secret = format!("whsec_{}", STANDARD.encode(random::<24>(&rng)?));
            made = true;
        }
        if self.message_signing_secret.is_empty() {
            self.message_signing_secret = format!("whsec_{}", STANDARD.encode(random::<24>(&rng)?));
            made = true;
        }
        Ok(made)
    }

    /// Make the SNS key and certificate if missing; true when they were made.
    pub fn fill_sns(&mut self, certificate_url: &str) -> Result<bool, String> {
        if !self.sns_private_key.is_empty() && !self.sns_certificate.is_empty() {
            return Ok(false);
        }
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).map_err(|e| e.to_string())?;
        let pkcs8 = key.to_pkcs8_der().map_err(|e| e.to_string())?;
        let signer = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8.as_bytes().into(), &rcgen::PKCS_RSA_SHA256)
            .map_err(|e| e.to_string())?;
        let host = certificate_url.split("//").nth(1).and_then(|rest| rest.split(['/', ':']).next());
        let params =
            rcgen::CertificateParams::new(vec![host.unwrap_or("localhost").to_string()]).map_err(|e| e.to_string())?;
        let certificate = params.self_signed(&signer).map_err(|e| e.to_string())?;
        self.sns_private_key = STANDARD.encode(pkcs8.as_bytes());
        self.sns_certificate = certificate.pem();
        Ok(true)
    }

    /// SendGrid's verification key: the public key, base64 SubjectPublicKeyInfo DER
    /// (what SendGrid's settings page shows and `@sendgrid/eventwebhook` takes).
    pub fn sendgrid_public_key(&self) -> String {
        let public = self.sendgrid_pair().map(|pair| pair.public_key().as_ref().to_vec()).unwrap_or_default();
        STANDARD.encode([&P256_SPKI_PREFIX[..], &public].concat())
    }

    fn sendgrid_pair(&self) -> Option<EcdsaKeyPair> {
        let pkcs8 = STANDARD.decode(&self.sendgrid_private_key).ok()?;
        EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8, &SystemRandom::new()).ok()
    }

    /// SendGrid's `X-Twilio-Email-Event-Webhook-Signature`: ECDSA P-256 with
    /// SHA-256 over the timestamp followed by the payload, DER, base64.
    pub fn sendgrid_signature(&self, timestamp: &str, payload: &[u8]) -> Result<String, String> {
        let pair = self.sendgrid_pair().ok_or("the SendGrid key in webhooks.json is not a P-256 PKCS#8 key")?;
        let signed = pair
            .sign(&SystemRandom::new(), &[timestamp.as_bytes(), payload].concat())
            .map_err(|_| "ECDSA signing failed")?;
        Ok(STANDARD.encode(signed.as_ref()))
    }

    /// Mailgun's `signature`: hex HMAC-SHA256 of timestamp + token under the
    /// signing key.
    pub fn mailgun_signature(&self, timestamp: &str, token: &str) -> String {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, self.mailgun_signing_key.as_bytes());
        hex(ring::hmac::sign(&key, format!("{timestamp}{token}").as_bytes()).as_ref())
    }

    /// Svix's `svix-signature` (Svix is Standard Webhooks under its own header
    /// names), under Resend's secret.
    pub fn svix_signature(&self, id: &str, timestamp: &str, body: &[u8]) -> Result<String, String> {
        standard_signature(&self.resend_signing_secret, id, timestamp, body)
            .map_err(|_| "the Resend signing secret is not whsec_<base64>".into())
    }

    /// A message webhook's `webhook-signature`, under the message signing secret.
    pub fn message_signature(&self, id: &str, timestamp: &str, body: &[u8]) -> Result<String, String> {
        standard_signature(&self.message_signing_secret, id, timestamp, body)
            .map_err(|_| "the message signing secret in webhooks.json is not whsec_<base64>".into())
    }

    /// SNS's `Signature` (SignatureVersion 2): RSA PKCS#1 v1.5 with SHA-256 over
    /// the canonical string, base64.
    pub fn sns_signature(&self, canonical: &str) -> Result<String, String> {
        let pkcs8 = STANDARD.decode(&self.sns_private_key).map_err(|_| "the SNS key in webhooks.json is not base64")?;
        let pair = RsaKeyPair::from_pkcs8(&pkcs8).map_err(|e| format!("the SNS key in webhooks.json: {e}"))?;
        let mut signed = vec![0; pair.public().modulus_len()];
        pair.sign(&signature::RSA_PKCS1_SHA256, &SystemRandom::new(), canonical.as_bytes(), &mut signed)
            .map_err(|_| "RSA signing failed")?;
        Ok(STANDARD.encode(signed))
    }
}

/// A Standard Webhooks signature: `v1,` and base64 HMAC-SHA256 of
/// `id.timestamp.body` under the `whsec_` secret's decoded bytes.
fn standard_signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> Result<String, base64::DecodeError> {
    let secret = STANDARD.decode(secret.strip_prefix("whsec_").unwrap_or(secret))?;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
    let signed = [id.as_bytes(), b".", timestamp.as_bytes(), b".", body].concat();
    Ok(format!("v1,{}", STANDARD.encode(ring::hmac::sign(&key, &signed).as_ref())))
}

/// Whether `secret` is a Svix endpoint secret: `whsec_` and base64.
pub(super) fn is_svix_secret(secret: &str) -> bool {
    secret.strip_prefix("whsec_").is_some_and(|key| STANDARD.decode(key).is_ok_and(|key| !key.is_empty()))
}

/// `N` random bytes from the system's generator.
pub(super) fn random<const N: usize>(rng: &SystemRandom) -> Result<[u8; N], String> {
    let mut bytes = [0; N];
    rng.fill(&mut bytes).map_err(|_| "the system's random generator failed")?;
    Ok(bytes)
}

/// Lower-case hex.
pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
