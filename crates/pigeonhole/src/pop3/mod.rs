//! POP3 (`serve --pop3 ADDR`): mail clients download the captured mail of one
//! inbox, as Mailpit's POP3 server lets them. The login name picks the inbox (an
//! SMTP AUTH user's inbox has that user's name; any other name gets the default
//! inbox); DELE deletes in Pigeonhole once the client QUITs, as RFC 1939 says.
//!
//! [`session`] is the protocol as a pure state machine; [`listener`] owns the
//! sockets, TLS (STLS), timeouts, the connection cap and the login checks
//! ([`crate::login`]).

pub mod listener;
pub mod session;
