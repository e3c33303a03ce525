//! SNS's subscription handshake, for the SES endpoint. SNS posts nothing to an
//! HTTP endpoint but a signed `SubscriptionConfirmation` until the endpoint
//! visits that message's `SubscribeURL`; an app that takes SES events through
//! SNS carries code for that first contact, and this makes it run here too.
//!
//! * Saving the SES endpoint posts a `SubscriptionConfirmation` to it (a new URL
//!   gets a new subscription; one not yet confirmed gets its confirmation again).
//! * `GET /api/v1/webhooks/sns?Action=ConfirmSubscription&TopicArn=…&Token=…` (the
//!   `SubscribeURL`) confirms it, answered with SNS's XML; `?Action=Unsubscribe&
//!   SubscriptionArn=…` (every notification's `UnsubscribeURL`) ends it.
//! * Until it is confirmed, and after it ends, SES events are not posted: the
//!   delivery log says so and what to do.
//!
//! The subscription lives in `webhooks.json`, so a confirmation outlasts a
//! restart, as SNS's does. The routes take no UI password (the app that visits
//! them has none); the token, or the random ID in the subscription's ARN, is what
//! a request must know, so a page elsewhere cannot confirm or end one.

use axum::http::StatusCode;
use ring::rand::SystemRandom;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;

use super::keys::{self, Keys};
use super::payload::{Outgoing, SNS_TOPIC_ARN, sns_time};

/// The path of the `SubscribeURL` and `UnsubscribeURL` on our HTTP port.
pub const SNS_ACTIONS_PATH: &str = "/api/v1/webhooks/sns";

/// SNS's XML namespace, in its answers.
const XMLNS: &str = "http://sns.amazonaws.com/doc/2010-03-31/";

/// Where a signed SNS message points: the certificate it is verified with, and
/// the route that confirms and ends subscriptions.
#[derive(Debug, Clone, Default)]
pub(super) struct SnsUrls {
    pub certificate: String,
    pub actions: String,
}

/// The SES endpoint's subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Subscription {
    /// The endpoint it is for: another URL needs a subscription of its own.
    #[serde(rename = "URL")]
    pub url: String,
    /// What the `SubscribeURL` carries.
    pub token: String,
    /// The last part of its ARN: random, so its `UnsubscribeURL` cannot be guessed.
    #[serde(rename = "ID")]
    pub id: String,
    pub confirmed: bool,
}

impl Subscription {
    /// A new subscription of `url`, waiting for its confirmation.
    pub fn new(url: &str) -> Result<Subscription, String> {
        let token = keys::hex(&keys::random::<32>(&SystemRandom::new())?);
        Ok(Subscription { url: url.to_string(), token, id: uuid::Uuid::new_v4().to_string(), confirmed: false })
    }

    /// Its SubscriptionArn.
    pub fn arn(&self) -> String {
        format!("{SNS_TOPIC_ARN}:{}", self.id)
    }

    /// Whether SNS would post to `url` under it.
    pub fn delivers_to(&self, url: &str) -> bool {
        self.confirmed && self.url == url
    }
}

/// Why SNS posts nothing to `url`, as the delivery log says it.
pub(super) fn not_subscribed(url: &str) -> String {
    format!(
        "not posted: SNS delivers to {url} only once its subscription is confirmed. The endpoint must visit the \
         SubscribeURL of the SubscriptionConfirmation Pigeonhole posted to it (in this log); save the SES webhook \
         again to post another"
    )
}

/// What an SNS notification names besides its message: the certificate it is
/// verified with and the subscription it was delivered under.
#[derive(Debug, Clone, Default)]
pub(super) struct NotificationContext {
    pub certificate_url: String,
    pub subscription_arn: String,
    pub unsubscribe_url: String,
}

impl NotificationContext {
    pub fn new(urls: &SnsUrls, subscription: &Subscription) -> NotificationContext {
        let subscription_arn = subscription.arn();
        let unsubscribe_url = format!("{}?Action=Unsubscribe&SubscriptionArn={subscription_arn}", urls.actions);
        NotificationContext { certificate_url: urls.certificate.clone(), subscription_arn, unsubscribe_url }
    }
}

/// The `SubscriptionConfirmation` for `subscription`, signed as SNS signs it
/// (SignatureVersion 2, over its fields in SNS's order).
pub(super) fn confirmation(subscription: &Subscription, keys: &Keys, urls: &SnsUrls) -> Result<Outgoing, String> {
    let message_id = uuid::Uuid::new_v4().to_string();
    let token = &subscription.token;
    let message = format!(
        "You have chosen to subscribe to the topic {SNS_TOPIC_ARN}.\nTo confirm the subscription, visit the \
         SubscribeURL included in this message."
    );
    let subscribe_url = format!("{}?Action=ConfirmSubscription&TopicArn={SNS_TOPIC_ARN}&Token={token}", urls.actions);
    let sent = sns_time(OffsetDateTime::now_utc());
    let canonical = format!(
        "Message\n{message}\nMessageId\n{message_id}\nSubscribeURL\n{subscribe_url}\nTimestamp\n{sent}\nToken\n\
         {token}\nTopicArn\n{SNS_TOPIC_ARN}\nType\nSubscriptionConfirmation\n"
    );
    let body = json!({
        "Type": "SubscriptionConfirmation",
        "MessageId": message_id,
        "Token": token,
        "TopicArn": SNS_TOPIC_ARN,
        "Message": message,
        "SubscribeURL": subscribe_url,
        "Timestamp": sent,
        "SignatureVersion": "2",
        "Signature": keys.sns_signature(&canonical)?,
        "SigningCertURL": urls.certificate,
    });
    Ok(Outgoing {
        body: serde_json::to_vec(&body).expect("JSON values serialize"),
        headers: vec![
            ("Content-Type".into(), "text/plain; charset=UTF-8".into()),
            ("x-amz-sns-message-type".into(), "SubscriptionConfirmation".into()),
            ("x-amz-sns-message-id".into(), message_id),
            ("x-amz-sns-topic-arn".into(), SNS_TOPIC_ARN.into()),
        ],
    })
}

/// The query of a `SubscribeURL` or `UnsubscribeURL`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "PascalCase")]
#[into_params(parameter_in = Query)]
pub struct SnsAction {
    /// `ConfirmSubscription` or `Unsubscribe`.
    pub action: Option<String>,
    /// `ConfirmSubscription`'s: the topic.
    pub topic_arn: Option<String>,
    /// `ConfirmSubscription`'s: the token of the `SubscriptionConfirmation`.
    pub token: Option<String>,
    /// `Unsubscribe`'s: the subscription.
    pub subscription_arn: Option<String>,
}

/// What SNS answers an action: its status and XML body.
pub type SnsAnswer = (StatusCode, String);

/// Carry out `action` on `subscription` (which it may end), answered as SNS does.
pub(super) fn act(subscription: &mut Option<Subscription>, action: &SnsAction) -> SnsAnswer {
    let request_id = uuid::Uuid::new_v4();
    match action.action.as_deref() {
        Some("ConfirmSubscription") => {
            let current = subscription.as_mut().filter(|s| {
                action.token.as_deref() == Some(s.token.as_str()) && action.topic_arn.as_deref() == Some(SNS_TOPIC_ARN)
            });
            let Some(current) = current else {
                return error(StatusCode::BAD_REQUEST, "InvalidParameter", "Invalid token", request_id);
            };
            current.confirmed = true;
            let arn = current.arn();
            (
                StatusCode::OK,
                format!(
                    "<ConfirmSubscriptionResponse xmlns=\"{XMLNS}\"><ConfirmSubscriptionResult><SubscriptionArn>{arn}\
                     </SubscriptionArn></ConfirmSubscriptionResult><ResponseMetadata><RequestId>{request_id}\
                     </RequestId></ResponseMetadata></ConfirmSubscriptionResponse>"
                ),
            )
        }
        Some("Unsubscribe") => {
            let known = subscription.as_ref().is_some_and(|s| action.subscription_arn.as_deref() == Some(&s.arn()));
            if !known {
                return error(StatusCode::NOT_FOUND, "NotFound", "Subscription does not exist", request_id);
            }
            *subscription = None;
            (
                StatusCode::OK,
                format!(
                    "<UnsubscribeResponse xmlns=\"{XMLNS}\"><ResponseMetadata><RequestId>{request_id}</RequestId>\
                     </ResponseMetadata></UnsubscribeResponse>"
                ),
            )
        }
        _ => error(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            "Action must be ConfirmSubscription or Unsubscribe",
            request_id,
        ),
    }
}

/// SNS's error answer. Its texts are ours, never the request's.
fn error(status: StatusCode, code: &str, message: &str, request_id: uuid::Uuid) -> SnsAnswer {
    let kind = if status.is_client_error() { "Sender" } else { "Receiver" };
    (
        status,
        format!(
            "<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}\
             </Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn confirm(token: &str) -> SnsAction {
        SnsAction {
            action: Some("ConfirmSubscription".into()),
            topic_arn: Some(SNS_TOPIC_ARN.into()),
            token: Some(token.into()),
            subscription_arn: None,
        }
    }

    #[test]
    fn only_the_token_confirms_and_only_the_arn_ends() {
        let made = Subscription::new("http://127.0.0.1:3000/sns").unwrap();
        assert_eq!(made.token.len(), 64);
        assert!(!made.delivers_to(&made.url));
        let mut subscription = Some(made.clone());

        let (status, body) = act(&mut subscription, &confirm("0000"));
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("<Code>InvalidParameter</Code>"), "{body}");
        assert!(!subscription.as_ref().unwrap().confirmed);

        let (status, body) = act(&mut subscription, &confirm(&made.token));
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains(&format!("<SubscriptionArn>{}</SubscriptionArn>", made.arn())), "{body}");
        assert!(subscription.as_ref().unwrap().delivers_to(&made.url));
        assert!(!subscription.as_ref().unwrap().delivers_to("http://127.0.0.1:3000/other"));

        let unsubscribe = |arn: &str| SnsAction {
            action: Some("Unsubscribe".into()),
            subscription_arn: Some(arn.into()),
            ..SnsAction::default()
        };
        let guessed = format!("{SNS_TOPIC_ARN}:00000000-0000-0000-0000-000000000000");
        assert_eq!(act(&mut subscription, &unsubscribe(&guessed)).0, StatusCode::NOT_FOUND);
        assert!(subscription.is_some());
        let (status, body) = act(&mut subscription, &unsubscribe(&made.arn()));
        assert_eq!(status, StatusCode::OK);
        assert!(body.starts_with("<UnsubscribeResponse"), "{body}");
        assert!(subscription.is_none());

        let (status, body) = act(&mut subscription, &SnsAction::default());
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("InvalidAction"), "{body}");
    }
}
