//! Who is calling: the principal the guard verified from the request's token, and the client
//! address. Nothing a client writes about itself (a name header, a body field) is trusted.

use super::error::ApiError;
use super::guard::ClientAddr;
use crate::auth::Principal;
use crate::workflows::Actor;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The verified caller of a request.
pub struct Caller {
    pub principal: Principal,
    pub from: Option<String>,
}

impl Caller {
    /// The caller as an audit subject.
    pub fn actor(&self) -> Actor {
        Actor { user: self.principal.subject.clone(), from: self.from.clone() }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // The guard puts the principal there for every route that needs one; a handler asking
        // for a caller on a route without one refuses (fail closed).
        let principal = parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("no verified caller"))?;
        let from = parts.extensions.get::<ClientAddr>().and_then(|c| c.0).map(|ip| ip.to_string());
        Ok(Self { principal, from })
    }
}
