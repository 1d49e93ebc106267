//! Who is calling: the user named by the `X-Overseer-User` header (until authentication binds
//! it to a verified identity) and the client address, for audit entries and approver lists.

use super::error::ApiError;
use crate::workflows::Actor;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::net::SocketAddr;

/// The header naming the user.
pub const USER_HEADER: &str = "x-overseer-user";
/// The user when the header is absent.
pub const ANONYMOUS: &str = "anonymous";

/// The caller of a request.
pub struct Caller(pub Actor);

fn valid_user(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let user = match parts.headers.get(USER_HEADER) {
            None => ANONYMOUS.to_string(),
            Some(value) => match value.to_str() {
                Ok(name) if valid_user(name) => name.to_string(),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "{USER_HEADER} must be 1..64 characters of letters, digits, '.', '_', '-', '@'"
                    )))
                }
            },
        };
        let from = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
        Ok(Self(Actor { user, from }))
    }
}

#[cfg(test)]
mod tests {
    use super::valid_user;

    #[test]
    fn user_names_are_short_and_plain() {
        assert!(valid_user("ada.lovelace@example.com"));
        assert!(!valid_user(""));
        assert!(!valid_user("ada\nadmin"));
        assert!(!valid_user(&"a".repeat(65)));
    }
}
