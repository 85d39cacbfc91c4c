//! The one error of the server functions: a sentence for the person, and
//! the HTTP status that goes with it, set in one place ([`ApiError::status`],
//! applied as the error is sent). Server-side failures are logged in full
//! and reach the page as a sentence that leaks nothing internal — never a
//! token, never a query.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// Why a server function did not do what was asked, in words a person can act on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ApiError {
    /// Nobody is signed in.
    #[error("Sign in first.")]
    SignIn,
    /// Signed in, but not allowed; the sentence says who is.
    #[error("{0}")]
    Forbidden(String),
    /// What the request names does not exist.
    #[error("{0}")]
    NotFound(String),
    /// It existed, but is no longer in a state that allows this.
    #[error("{0}")]
    Conflict(String),
    /// The request cannot be carried out as given (bad input, a rule it
    /// breaks, demo mode off, busy); the sentence says what to change.
    #[error("{0}")]
    Refused(String),
    /// authwatch failed; the details are in the server's log.
    #[error("{0}: an internal error occurred; it has been logged")]
    Internal(String),
    /// The call itself failed (arguments, transport), before or after the function ran.
    #[error("{0}")]
    Call(String),
}

impl ApiError {
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(message.into())
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }

    pub fn refused(message: impl Into<String>) -> Self {
        Self::Refused(message.into())
    }

    /// The HTTP status of the answer that carries this error: only
    /// authwatch's own failure is a 500, so that logs and monitoring tell a
    /// refused request from a broken server.
    pub fn status(&self) -> u16 {
        match self {
            Self::Call(_) => 400,
            Self::SignIn => 401,
            Self::Forbidden(_) => 403,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::Refused(_) => 422,
            Self::Internal(_) => 500,
        }
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        Self::Call(value.to_string())
    }

    /// Encodes the error for the answer, and on the server sets the answer's
    /// status from [`ApiError::status`]: every error goes through here.
    fn ser(&self) -> leptos::server_fn::Bytes {
        #[cfg(feature = "ssr")]
        ssr::set_status(self.status());
        <JsonEncoding as leptos::server_fn::Encodes<Self>>::encode(self)
            .unwrap_or_else(|_| leptos::server_fn::Bytes::from_static(br#"{"Call":"The error could not be encoded."}"#))
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::ApiError;

    impl ApiError {
        /// Sets the answer's status now, from [`ApiError::status`]: for a
        /// refusal met while a page renders, where the server function is
        /// called directly and its error is not sent as an answer of its own.
        pub(crate) fn now(self) -> Self {
            set_status(self.status());
            self
        }
    }

    pub(super) fn set_status(status: u16) {
        if let (Some(response), Ok(status)) =
            (leptos::prelude::use_context::<leptos_axum::ResponseOptions>(), axum::http::StatusCode::from_u16(status))
        {
            response.set_status(status);
        }
    }

    /// A server-side failure: logged in full here, named for the page in
    /// words, with nothing of the error itself.
    pub(crate) fn internal(what: &str, error: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(error = %error, "{what}");
        ApiError::Internal(what.to_owned())
    }

    impl From<sqlx::Error> for ApiError {
        fn from(e: sqlx::Error) -> Self {
            internal("Reading or writing the database failed", &e)
        }
    }

    impl From<crate::server::lifecycle::AccountError> for ApiError {
        fn from(e: crate::server::lifecycle::AccountError) -> Self {
            use crate::server::lifecycle::AccountError;
            match e {
                AccountError::UnknownAccount(_) => ApiError::not_found("No such account."),
                other => internal("The account's tokens could not be read or recorded", &other),
            }
        }
    }

    impl From<tower_sessions::session::Error> for ApiError {
        fn from(e: tower_sessions::session::Error) -> Self {
            internal("Reading the session failed", &e)
        }
    }

    impl From<leptos::server_fn::error::ServerFnErrorErr> for ApiError {
        fn from(e: leptos::server_fn::error::ServerFnErrorErr) -> Self {
            internal("The request could not be read", &e)
        }
    }
}

#[cfg(feature = "ssr")]
pub(crate) use ssr::internal;
