//! Email providers' HTTP send APIs (SendGrid, Postmark, Mailgun, Amazon SES,
//! Resend), so an app that sends through a provider's SDK can point its base URL
//! at Pigeonhole: each request is read as the provider documents it, built into a
//! real MIME message, and answered in the provider's own success and error shapes.
//!
//! * [`draft`]: a message as a send API describes it, built into MIME (also
//!   Mailpit's `POST /api/v1/send`).
//! * [`webhooks`]: the providers' event webhooks (delivered, bounced, opened …)
//!   posted to the app in each provider's format, signed as each provider signs.

pub mod draft;
pub mod webhooks;
