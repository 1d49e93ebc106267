//! Masking secrets before a URL or a client setting is printed, logged or returned by the API.

/// What a masked secret looks like.
pub const MASK: &str = "***";

/// A secret read from the environment (a bot token, an HMAC key); `Debug` shows only that it
/// is there.
#[derive(Clone)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The URL with its password replaced by `***`. Text that is not a URL is masked whole, since
/// it cannot be known which part of it is secret.
pub fn mask_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) if url.has_host() => {
            if url.password().is_some() {
                // Setting a password only fails for URLs that cannot have one.
                let _ = url.set_password(Some(MASK));
            }
            if url.query_pairs().any(|(key, _)| is_secret_key(&key)) {
                url.set_query(None);
            }
            url.to_string()
        }
        _ => MASK.to_string(),
    }
}

/// True for setting names that hold secrets (`sasl.password`, `api_key`, `ssl.key.password`…).
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "secret", "token", "api_key", "apikey", "credential"].iter().any(|word| key.contains(word))
}

/// `text` with the password of `url` (if it has one and it appears) replaced by `***`, for
/// relaying a client library's error message.
pub fn scrub(text: &str, url: &str) -> String {
    match url::Url::parse(url).ok().and_then(|u| u.password().map(str::to_string)) {
        Some(password) if !password.is_empty() => text.replace(&password, MASK),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_and_the_rest_kept() {
        assert_eq!(mask_url("amqp://guest:s3cret@127.0.0.1:5672/%2f"), "amqp://guest:***@127.0.0.1:5672/%2f");
        assert_eq!(mask_url("redis://:pw@h:6379/0"), "redis://:***@h:6379/0");
        assert_eq!(mask_url("redis://127.0.0.1:6379/0"), "redis://127.0.0.1:6379/0");
    }

    #[test]
    fn secret_query_parameters_drop_the_query() {
        let masked = mask_url("https://h/v1?api_key=abc&x=1");
        assert!(!masked.contains("abc"), "{masked}");
    }

    #[test]
    fn scrub_removes_the_password_from_library_messages() {
        let url = "amqp://guest:s3cret@h:5672/%2f";
        assert_eq!(scrub("failed for s3cret@h", url), "failed for ***@h");
        assert_eq!(scrub("plain", "amqp://h:5672"), "plain");
    }

    #[test]
    fn text_that_is_not_a_url_is_masked_whole() {
        assert_eq!(mask_url("user:pw@nowhere"), MASK);
    }
}
