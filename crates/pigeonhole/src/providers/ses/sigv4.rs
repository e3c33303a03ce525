//! AWS Signature Version 4, as the SES clients sign their requests: the
//! `Authorization` header read into its parts (the access key ID names the
//! inbox), and, when the user gave the key's secret, the signature checked by
//! AWS's documented algorithm (canonical request → string to sign → HMAC-SHA256
//! with a key derived from the secret, the date, the region and the service).

use axum::http::{HeaderMap, Method, Uri};
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// What SigV4 leaves to escape: everything but its unreserved characters.
const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// A SigV4 `Authorization` header, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub access_key_id: String,
    /// The credential scope: `YYYYMMDD/region/service/aws4_request`.
    pub scope: String,
    date: String,
    region: String,
    service: String,
    /// Lower-case names, as the client listed them.
    signed_headers: Vec<String>,
    signature: String,
}

/// Why a request's signature is refused, in AWS's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization` header: AWS's `MissingAuthenticationToken`.
    Missing,
    /// A header that is not a SigV4 authorization: `IncompleteSignature`.
    Malformed(String),
    /// A signature that does not match the request: `SignatureDoesNotMatch`.
    Mismatch,
}

impl Refusal {
    /// AWS's message for it.
    pub fn message(&self) -> String {
        match self {
            Refusal::Missing => "Missing Authentication Token".into(),
            Refusal::Malformed(why) => why.clone(),
            Refusal::Mismatch => "The request signature we calculated does not match the signature you provided. \
                                  Check your AWS Secret Access Key and signing method. Consult the service \
                                  documentation for details."
                .into(),
        }
    }
}

impl Authorization {
    /// The request's `Authorization` header, read as SigV4 (presence and shape
    /// only; [`Authorization::verify`] checks the signature).
    pub fn from_headers(headers: &HeaderMap) -> Result<Authorization, Refusal> {
        let value = headers.get(axum::http::header::AUTHORIZATION).ok_or(Refusal::Missing)?;
        let value = value.to_str().map_err(|_| malformed("Authorization header is not ASCII"))?;
        let parameters = value
            .strip_prefix(ALGORITHM)
            .filter(|rest| rest.starts_with(' '))
            .ok_or_else(|| malformed(&format!("Authorization header requires the {ALGORITHM} algorithm")))?;
        let (mut credential, mut signed_headers, mut signature) = (None, None, None);
        for parameter in parameters.split(',') {
            let (name, value) = parameter.trim().split_once('=').unwrap_or((parameter.trim(), ""));
            match name {
                "Credential" => credential = Some(value),
                "SignedHeaders" => signed_headers = Some(value),
                "Signature" => signature = Some(value),
                _ => {}
            }
        }
        let missing = |name: &str| malformed(&format!("Authorization header requires '{name}' parameter"));
        let credential = credential.ok_or_else(|| missing("Credential"))?;
        let signed_headers = signed_headers.ok_or_else(|| missing("SignedHeaders"))?;
        let signature = signature.ok_or_else(|| missing("Signature"))?;

        let parts: Vec<&str> = credential.split('/').collect();
        let [access_key_id, date, region, service, "aws4_request"] = parts[..] else {
            return Err(malformed(&format!(
                "Credential should be scoped to a valid region, service and terminator 'aws4_request', not '{credential}'"
            )));
        };
        let is_date = date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit());
        if access_key_id.is_empty() || !access_key_id.bytes().all(|b| b.is_ascii_alphanumeric()) || !is_date {
            return Err(malformed(&format!("Credential is not an access key ID and a date: '{credential}'")));
        }
        if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(malformed("Signature is not 64 hexadecimal digits"));
        }
        Ok(Authorization {
            access_key_id: access_key_id.to_string(),
            scope: format!("{date}/{region}/{service}/aws4_request"),
            date: date.to_string(),
            region: region.to_string(),
            service: service.to_string(),
            signed_headers: signed_headers.split(';').map(str::to_ascii_lowercase).collect(),
            signature: signature.to_ascii_lowercase(),
        })
    }

    /// Whether the signature is this request's, made with `secret`.
    pub fn verify(
        &self,
        secret: &str,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), Refusal> {
        let amz_date = headers.get("x-amz-date").and_then(|v| v.to_str().ok()).ok_or(Refusal::Mismatch)?;
        let canonical = canonical_request(method, uri, headers, &self.signed_headers, body);
        let string_to_sign = format!("{ALGORITHM}\n{amz_date}\n{}\n{}", self.scope, hex(&Sha256::digest(&canonical)));
        let mut key = format!("AWS4{secret}").into_bytes();
        for part in [&self.date, &self.region, &self.service, "aws4_request"] {
            key = hmac(&key, part.as_bytes());
        }
        let given: Vec<u8> = (0..self.signature.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&self.signature[i..i + 2], 16).ok())
            .collect();
        // verify_slice compares in constant time.
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes a key of any length");
        mac.update(string_to_sign.as_bytes());
        mac.verify_slice(&given).map_err(|_| Refusal::Mismatch)
    }
}

fn malformed(why: &str) -> Refusal {
    Refusal::Malformed(why.to_string())
}

/// The canonical request SigV4 signs: method, path, sorted query, the signed
/// headers (lower-case names, values with runs of spaces folded), their names,
/// and the body's SHA-256.
fn canonical_request(method: &Method, uri: &Uri, headers: &HeaderMap, signed: &[String], body: &[u8]) -> String {
    // Every service but S3 signs the path encoded once more than it is sent.
    let path = uri.path().split('/').map(|segment| utf8_percent_encode(segment, ESCAPED).to_string());
    let path = path.collect::<Vec<_>>().join("/");
    let mut query: Vec<(String, String)> = form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .map(|(name, value)| {
            (utf8_percent_encode(&name, ESCAPED).to_string(), utf8_percent_encode(&value, ESCAPED).to_string())
        })
        .collect();
    query.sort();
    let query = query.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("&");
    let header_lines: String = signed
        .iter()
        .map(|name| {
            let values: Vec<String> = headers
                .get_all(name.as_str())
                .iter()
                .map(|value| String::from_utf8_lossy(value.as_bytes()).split_whitespace().collect::<Vec<_>>().join(" "))
                .collect();
            format!("{name}:{}\n", values.join(","))
        })
        .collect();
    format!("{method}\n{path}\n{query}\n{header_lines}\n{}\n{}", signed.join(";"), hex(&Sha256::digest(body)))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's own worked example (the `get-vanilla` case of the SigV4 test suite):
    /// the secret, the request and the signature it gives.
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const VANILLA: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                           SignedHeaders=host;x-amz-date, \
                           Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

    fn vanilla_headers(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("host", "example.amazonaws.com".parse().unwrap());
        headers.insert("x-amz-date", "20150830T123600Z".parse().unwrap());
        headers.insert("authorization", authorization.parse().unwrap());
        headers
    }

    #[test]
    fn verifies_aws_worked_example() {
        let headers = vanilla_headers(VANILLA);
        let auth = Authorization::from_headers(&headers).unwrap();
        assert_eq!(auth.access_key_id, "AKIDEXAMPLE");
        assert_eq!(auth.scope, "20150830/us-east-1/service/aws4_request");
        let uri: Uri = "/".parse().unwrap();
        assert_eq!(auth.verify(SECRET, &Method::GET, &uri, &headers, b""), Ok(()));
        assert_eq!(auth.verify("wrong", &Method::GET, &uri, &headers, b""), Err(Refusal::Mismatch));
        assert_eq!(auth.verify(SECRET, &Method::GET, &uri, &headers, b"x"), Err(Refusal::Mismatch));
        assert_eq!(auth.verify(SECRET, &Method::POST, &uri, &headers, b""), Err(Refusal::Mismatch));
    }

    #[test]
    fn refuses_what_is_not_sigv4() {
        assert_eq!(Authorization::from_headers(&HeaderMap::new()), Err(Refusal::Missing));
        for bad in [
            "Bearer abc",
            "AWS4-HMAC-SHA256Credential=x",
            "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/ses, SignedHeaders=host, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            "AWS4-HMAC-SHA256 Credential=AKID/2015/us-east-1/ses/aws4_request, SignedHeaders=host, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/ses/aws4_request, SignedHeaders=host, Signature=xyz",
        ] {
            let refusal = Authorization::from_headers(&vanilla_headers(bad)).unwrap_err();
            assert!(matches!(refusal, Refusal::Malformed(_)), "{bad}: {refusal:?}");
        }
    }
}
