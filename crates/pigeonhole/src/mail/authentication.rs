//! Sender authentication: each DKIM signature, SPF for the sending IP and DMARC for
//! the From domain, verified with mail-auth into plain verdicts
//! ([`AuthResults`]) that the `auth.*` and `deliverability.bulk-sender` checks
//! read ([`crate::checks`]).
//!
//! Offline by default. Keys and records come from the file the user gives
//! (`serve --dkim-keys FILE`, [`records`]); DNS is asked for the rest only with
//! `--dns-lookups` (`--dns-server` picks the resolver). With DNS off, every name the
//! file lacks is answered here and the resolver has no server at all, so no query
//! leaves the machine; the checks then say "not available" (a notice), never
//! "failed".
//!
//! The API's check route gathers the verdicts ([`Verifier::verify`], async: it may
//! wait on DNS) before the pure report runs.

pub mod records;
#[cfg(test)]
mod tests;

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use mail_auth::common::crypto::{Algorithm, CryptoError};
use mail_auth::dkim::DkimError;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::dmarc::{Alignment, Policy};
use mail_auth::hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::hickory_resolver::proto::op::ResponseCode;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, DkimResult, DmarcResult, DnsError, Error, MessageAuthenticator, Parameters, ResolverCache,
    SpfOutput, SpfResult, Txt,
};

pub use records::{Records, RecordsError};

use crate::config::CheckConfig;
use crate::model::Envelope;

/// The name SPF macros see as the receiving host (`%{r}`).
const RECEIVING_HOST: &str = "pigeonhole.localhost";

/// Longest wait for one DNS answer, with `--dns-lookups`: a report waits on a few
/// lookups at most (SPF allows ten), so a dead resolver costs seconds, not minutes.
const DNS_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the verifier cannot be built: the engine refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum VerifierError {
    #[error(transparent)]
    Records(#[from] RecordsError),
    #[error("cannot set up the DNS resolver for --dns-lookups: {0}")]
    Resolver(String),
}

/// Verifies messages' DKIM, SPF and DMARC; built once by the engine from
/// [`CheckConfig`].
pub struct Verifier {
    authenticator: MessageAuthenticator,
    records: Records,
    dns_lookups: bool,
    auth_ip: Option<IpAddr>,
}

impl Verifier {
    /// Reads the records file, if any, and sets up the resolver: none at all
    /// unless `dns_lookups`; then `dns_server`, or the system's.
    pub fn new(config: &CheckConfig) -> Result<Verifier, VerifierError> {
        let records = match &config.dkim_keys {
            Some(path) => {
                let records = Records::load(path)?;
                tracing::info!("the authentication checks read {} records from {}", records.len(), path.display());
                records
            }
            None => Records::default(),
        };
        let options = {
            let mut options = ResolverOpts::default();
            options.timeout = DNS_TIMEOUT;
            options.attempts = 1;
            options
        };
        let authenticator = match (config.dns_lookups, config.dns_server) {
            // No name server: a lookup that reaches the resolver fails at once.
            (false, _) => MessageAuthenticator::new(ResolverConfig::from_name_servers(Vec::new()), options),
            (true, Some(server)) => {
                MessageAuthenticator::new(ResolverConfig::from_name_servers(vec![name_server(server)]), options)
            }
            (true, None) => MessageAuthenticator::new_system_conf(),
        }
        .map_err(|err| VerifierError::Resolver(err.to_string()))?;
        Ok(Verifier { authenticator, records, dns_lookups: config.dns_lookups, auth_ip: config.auth_ip })
    }

    /// The verdicts for one message as received with `envelope`.
    pub async fn verify(&self, raw: &[u8], envelope: &Envelope) -> AuthResults {
        let ip = self.auth_ip.or_else(|| envelope.peer.parse::<SocketAddr>().ok().map(|peer| peer.ip().to_canonical()));
        let mail_from_domain =
            envelope.mail_from.rsplit_once('@').map_or(envelope.helo.as_str(), |(_, domain)| domain).to_string();
        // `None` only for bytes with no header at all: nothing to verify but SPF.
        let message = AuthenticatedMessage::parse(raw);
        let answers = Answers::new(&self.records, self.dns_lookups, message.as_ref(), &mail_from_domain);

        let spf_output = match ip {
            Some(ip) => {
                let parameters = SpfParameters::verify(ip, &envelope.helo, RECEIVING_HOST, &envelope.mail_from);
                self.authenticator.verify_spf(Parameters::new(parameters).with_txt_cache(&answers)).await
            }
            None => SpfOutput::new(mail_from_domain.clone()),
        };
        let spf = SpfVerdict {
            ip,
            domain: if spf_output.domain().is_empty() {
                mail_from_domain.clone()
            } else {
                spf_output.domain().to_string()
            },
            outcome: match ip {
                Some(_) => self.spf_outcome(spf_output.result()),
                None => SpfOutcome::NoSendingIp,
            },
            explanation: spf_output.explanation().map(str::to_string),
        };
        let Some(message) = &message else {
            return AuthResults {
                dkim: Vec::new(),
                spf,
                dmarc: DmarcVerdict::default(),
                dns_lookups: self.dns_lookups,
            };
        };

        let dkim_outputs = self.authenticator.verify_dkim(Parameters::new(message).with_txt_cache(&answers)).await;
        let dkim = dkim_outputs
            .iter()
            .map(|output| {
                let signature = output.signature();
                DkimVerdict {
                    domain: signature.map(|s| s.d.clone()).unwrap_or_default(),
                    selector: signature.map(|s| s.s.clone()).unwrap_or_default(),
                    algorithm: signature.map_or("", |s| algorithm_name(s.a)),
                    outcome: self.dkim_outcome(output.result()),
                }
            })
            .collect();

        let dmarc_output = self
            .authenticator
            .verify_dmarc(
                Parameters::new(DmarcParameters::new(message, &dkim_outputs, &mail_from_domain, &spf_output))
                    .with_txt_cache(&answers),
            )
            .await;
        let record = dmarc_output.dmarc_record().map(|record| DmarcPolicy {
            policy: policy_name(dmarc_output.policy()),
            dkim_alignment: alignment_name(record.adkim),
            spf_alignment: alignment_name(record.aspf),
        });
        let outcome = match (dmarc_output.domain().is_empty(), &record, dmarc_output.result()) {
            (true, _, _) => DmarcOutcome::NoFromDomain,
            (false, None, DmarcResult::TempError(_) | DmarcResult::None) if !self.dns_lookups => {
                DmarcOutcome::NotAvailable
            }
            (false, None, DmarcResult::TempError(err)) => DmarcOutcome::TemporaryError(err.to_string()),
            (false, None, _) => DmarcOutcome::NoRecord,
            (false, Some(_), DmarcResult::Pass) => DmarcOutcome::Pass,
            (false, Some(_), DmarcResult::TempError(_)) if !self.dns_lookups => DmarcOutcome::NotAvailable,
            (false, Some(_), DmarcResult::TempError(err)) => DmarcOutcome::TemporaryError(err.to_string()),
            (false, Some(_), _) => DmarcOutcome::Fail,
        };
        let dmarc = DmarcVerdict {
            from_domain: dmarc_output.domain().to_string(),
            record,
            outcome,
            dkim_aligned: *dmarc_output.dkim_result() == DmarcResult::Pass,
            spf_aligned: *dmarc_output.spf_result() == DmarcResult::Pass,
        };
        AuthResults { dkim, spf, dmarc, dns_lookups: self.dns_lookups }
    }

    fn dkim_outcome(&self, result: &DkimResult) -> DkimOutcome {
        match result {
            DkimResult::Pass => DkimOutcome::Pass,
            DkimResult::Neutral(Error::Dkim(DkimError::FailedBodyHashMatch)) => DkimOutcome::BodyHashMismatch,
            DkimResult::Neutral(Error::Dkim(DkimError::SignatureExpired)) => DkimOutcome::Expired,
            DkimResult::Fail(Error::Crypto(CryptoError::FailedVerification)) => DkimOutcome::SignatureMismatch,
            DkimResult::TempError(_) if !self.dns_lookups => DkimOutcome::KeyNotAvailable,
            DkimResult::TempError(err) => DkimOutcome::TemporaryError(err.to_string()),
            DkimResult::PermError(Error::Dns(DnsError::RecordNotFound(_))) => DkimOutcome::KeyNotFound,
            DkimResult::PermError(Error::Dkim(DkimError::RevokedPublicKey))
            | DkimResult::Fail(Error::Dkim(DkimError::RevokedPublicKey)) => DkimOutcome::KeyRevoked,
            DkimResult::Neutral(err) | DkimResult::Fail(err) | DkimResult::PermError(err) => {
                DkimOutcome::Failed(err.to_string())
            }
            DkimResult::None => DkimOutcome::Failed("no result".to_string()),
        }
    }

    fn spf_outcome(&self, result: SpfResult) -> SpfOutcome {
        match result {
            SpfResult::Pass => SpfOutcome::Pass,
            SpfResult::Fail => SpfOutcome::Fail,
            SpfResult::SoftFail => SpfOutcome::SoftFail,
            SpfResult::Neutral => SpfOutcome::Neutral,
            SpfResult::None | SpfResult::TempError if !self.dns_lookups => SpfOutcome::NotAvailable,
            SpfResult::None => SpfOutcome::NoRecord,
            SpfResult::TempError => SpfOutcome::TemporaryError,
            SpfResult::PermError => SpfOutcome::PermanentError,
        }
    }
}

/// `server` as hickory's name server: UDP, then TCP for long answers (DKIM keys).
fn name_server(server: SocketAddr) -> NameServerConfig {
    let connections = [ConnectionConfig::udp(), ConnectionConfig::tcp()]
        .into_iter()
        .map(|mut connection| {
            connection.port = server.port();
            connection
        })
        .collect();
    NameServerConfig::new(server.ip(), true, connections)
}

/// What mail-auth's lookups get for one message: the file's records first; with
/// DNS off, "no such name" for the DMARC names the policy walk will ask and a
/// failed lookup for anything else, so no lookup reaches the resolver.
struct Answers<'a> {
    records: &'a Records,
    /// With DNS off: `_dmarc.` under every domain the message's DMARC evaluation
    /// may walk (From, DKIM d=, MAIL FROM), each "no such name". mail-auth's policy
    /// walk treats only that as "no policy here" and stops on any other failure.
    absent: HashMap<Box<str>, Txt>,
    dns_lookups: bool,
}

impl<'a> Answers<'a> {
    fn new(
        records: &'a Records,
        dns_lookups: bool,
        message: Option<&AuthenticatedMessage<'_>>,
        mail_from_domain: &str,
    ) -> Self {
        let mut absent = HashMap::new();
        if !dns_lookups {
            let from = message
                .into_iter()
                .flat_map(|message| &message.from)
                .filter_map(|address| address.rsplit_once('@').map(|(_, domain)| domain));
            let signers =
                message.into_iter().flat_map(|message| &message.dkim_headers).map(|header| header.header.d.as_str());
            for domain in from.chain(signers).chain([mail_from_domain]) {
                let domain = domain.trim_end_matches('.').to_ascii_lowercase();
                let mut suffix = domain.as_str();
                while !suffix.is_empty() {
                    let name = format!("_dmarc.{suffix}.").into_boxed_str();
                    absent.insert(name, Txt::Error(Error::Dns(DnsError::RecordNotFound(ResponseCode::NXDomain))));
                    suffix = suffix.split_once('.').map_or("", |(_, rest)| rest);
                }
            }
        }
        Answers { records, absent, dns_lookups }
    }
}

impl ResolverCache<Box<str>, Txt> for Answers<'_> {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(record) = self.records.get(name) {
            return Some(record.clone());
        }
        if self.dns_lookups {
            return None;
        }
        Some(self.absent.get(name).cloned().unwrap_or_else(|| {
            Txt::Error(Error::Dns(DnsError::Resolver("not in the DKIM keys file, and DNS lookups are off".into())))
        }))
    }

    fn remove<Q>(&self, _: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        None
    }

    /// DNS answers are not kept here: the resolver caches them itself.
    fn insert(&self, _: Box<str>, _: Txt, _: Instant) {}
}

fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::RsaSha1 => "rsa-sha1",
        Algorithm::RsaSha256 => "rsa-sha256",
        Algorithm::Ed25519Sha256 => "ed25519-sha256",
    }
}

fn policy_name(policy: Policy) -> &'static str {
    match policy {
        Policy::None | Policy::Unspecified => "none",
        Policy::Quarantine => "quarantine",
        Policy::Reject => "reject",
    }
}

fn alignment_name(alignment: Alignment) -> &'static str {
    match alignment {
        Alignment::Relaxed => "relaxed",
        Alignment::Strict => "strict",
    }
}

/// The DKIM, SPF and DMARC verdicts for one message.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthResults {
    /// One per DKIM-Signature header, in order (malformed ones included).
    pub dkim: Vec<DkimVerdict>,
    pub spf: SpfVerdict,
    pub dmarc: DmarcVerdict,
    /// Whether DNS was asked for what the records file lacks.
    pub dns_lookups: bool,
}

/// One DKIM signature's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct DkimVerdict {
    /// The signing domain (`d=`); empty when the signature did not parse.
    pub domain: String,
    /// The selector (`s=`).
    pub selector: String,
    /// `rsa-sha256`, `ed25519-sha256` or `rsa-sha1`.
    pub algorithm: &'static str,
    pub outcome: DkimOutcome,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DkimOutcome {
    Pass,
    /// The body's hash is not the one signed (`bh=`): the body changed after signing.
    BodyHashMismatch,
    /// The signature over the headers does not verify with the key: headers changed
    /// after signing, or the key is not the one that signed.
    SignatureMismatch,
    /// The key is neither in the records file nor looked up (DNS off).
    KeyNotAvailable,
    /// DNS says there is no key at `selector._domainkey.domain`.
    KeyNotFound,
    /// The published key is empty (`p=`): revoked.
    KeyRevoked,
    /// The signature's `x=` is past.
    Expired,
    /// A DNS failure while looking up the key.
    TemporaryError(String),
    /// Anything else: a malformed signature, an unsupported algorithm or key.
    Failed(String),
}

/// SPF for the sending IP and the MAIL FROM domain (the HELO name when MAIL FROM is
/// empty, or when the HELO name's own SPF fails).
#[derive(Debug, Clone, PartialEq)]
pub struct SpfVerdict {
    /// The IP checked: `--auth-ip`, or the SMTP client's.
    pub ip: Option<IpAddr>,
    /// The domain whose record decided.
    pub domain: String,
    pub outcome: SpfOutcome,
    /// The record's `exp=` explanation, for a failure.
    pub explanation: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpfOutcome {
    Pass,
    Fail,
    SoftFail,
    Neutral,
    /// DNS says the domain publishes no SPF record.
    NoRecord,
    /// The record (or one it includes) is neither in the records file nor looked up.
    NotAvailable,
    /// No IP to check: the message did not come over SMTP and `--auth-ip` is not set.
    NoSendingIp,
    TemporaryError,
    /// The record is broken (syntax, too many lookups).
    PermanentError,
}

/// DMARC for the From domain.
#[derive(Debug, Clone, PartialEq)]
pub struct DmarcVerdict {
    /// The From header's domain; empty when there is none.
    pub from_domain: String,
    /// The policy record found, if any.
    pub record: Option<DmarcPolicy>,
    pub outcome: DmarcOutcome,
    /// A passing DKIM signature's `d=` aligns with From.
    pub dkim_aligned: bool,
    /// SPF passed for a domain that aligns with From.
    pub spf_aligned: bool,
}

impl Default for DmarcVerdict {
    fn default() -> Self {
        DmarcVerdict {
            from_domain: String::new(),
            record: None,
            outcome: DmarcOutcome::NoFromDomain,
            dkim_aligned: false,
            spf_aligned: false,
        }
    }
}

/// What the DMARC record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcPolicy {
    /// The policy that applies to the From domain: `none`, `quarantine`, `reject`.
    pub policy: &'static str,
    /// `relaxed` or `strict` (`adkim=`).
    pub dkim_alignment: &'static str,
    /// `relaxed` or `strict` (`aspf=`).
    pub spf_alignment: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DmarcOutcome {
    /// DKIM or SPF passed aligned with From.
    Pass,
    /// Neither passed aligned: the policy applies.
    Fail,
    /// DNS says the From domain (and its organisational domain) publishes no record.
    NoRecord,
    /// No record in the records file, and DNS lookups are off.
    NotAvailable,
    TemporaryError(String),
    /// The message has no single From domain.
    NoFromDomain,
}
