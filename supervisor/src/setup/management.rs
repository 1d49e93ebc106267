//! The RabbitMQ management HTTP API, read only: the arguments of an existing queue, to show
//! both argument sets when a queue conflicts with the configuration, and the unacknowledged
//! deliveries per queue for the queue monitor (AMQP itself tells only ready and consumers).

use super::desired::{Arg, Args};
use std::collections::HashMap;
use std::sync::LazyLock;

/// One HTTP client for every call (the queue monitor polls every few seconds; building a client
/// loads the system's root certificates each time).
static CLIENT: LazyLock<reqwest::Client> = LazyLock::new(reqwest::Client::new);

/// The vhost named by an AMQP URL (`/%2f` and an empty path are the default vhost `/`).
pub fn vhost_of(amqp_url: &str) -> String {
    let Ok(url) = url::Url::parse(amqp_url) else {
        return "/".into();
    };
    let path = url.path().trim_start_matches('/');
    if path.is_empty() {
        return "/".into();
    }
    url::form_urlencoded::parse(format!("v={path}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| "/".into())
}

/// `GET /api/<parts…>?<query>` (each part percent-encoded, `/` included) with the URL's
/// credentials.
pub async fn get_json(
    management_url: &str,
    parts: &[&str],
    query: &[(&str, &str)],
) -> Result<serde_json::Value, String> {
    let mut url = url::Url::parse(management_url).map_err(|e| format!("bad management URL: {e}"))?;
    let user = url.username().to_string();
    let password = url.password().map(str::to_string);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    {
        let mut segments =
            url.path_segments_mut().map_err(|_| "management URL cannot have a path".to_string())?;
        segments.pop_if_empty().push("api");
        for part in parts {
            segments.push(part);
        }
    }
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    let response = CLIENT
        .get(url)
        .basic_auth(user, password)
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await
        .map_err(|e| format!("management API unreachable: {}", e.without_url()))?;
    if !response.status().is_success() {
        return Err(format!("management API answered {}", response.status()));
    }
    response.json().await.map_err(|e| format!("management API sent bad JSON: {e}"))
}

/// The arguments of `queue` in the vhost of `amqp_url`.
pub async fn queue_arguments(management_url: &str, amqp_url: &str, queue: &str) -> Result<Args, String> {
    let vhost = vhost_of(amqp_url);
    let body = get_json(management_url, &["queues", &vhost, queue], &[]).await?;
    Ok(args_from_json(body.get("arguments")))
}

/// Unacknowledged deliveries of every queue in the vhost of `amqp_url`, by queue name.
pub async fn unacked(management_url: &str, amqp_url: &str) -> Result<HashMap<String, u64>, String> {
    let vhost = vhost_of(amqp_url);
    let columns = [("columns", "name,messages_unacknowledged")];
    let body = get_json(management_url, &["queues", &vhost], &columns).await?;
    let queues = body.as_array().ok_or("management API sent no queue list")?;
    Ok(queues
        .iter()
        .filter_map(|q| {
            let name = q.get("name")?.as_str()?.to_string();
            // A queue whose figures are not collected yet has no count: left out.
            Some((name, q.get("messages_unacknowledged")?.as_u64()?))
        })
        .collect())
}

/// Management API arguments (a JSON object) as [`Args`].
pub fn args_from_json(value: Option<&serde_json::Value>) -> Args {
    let mut args = Args::new();
    if let Some(map) = value.and_then(serde_json::Value::as_object) {
        for (key, value) in map {
            let arg = match value {
                serde_json::Value::Number(n) => n.as_i64().map(Arg::Int),
                serde_json::Value::String(s) => Some(Arg::Str(s.clone())),
                other => Some(Arg::Str(other.to_string())),
            };
            if let Some(arg) = arg {
                args.insert(key.clone(), arg);
            }
        }
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vhosts_are_read_from_the_amqp_url() {
        assert_eq!(vhost_of("amqp://g:g@h:5672/%2f"), "/");
        assert_eq!(vhost_of("amqp://g:g@h:5672"), "/");
        assert_eq!(vhost_of("amqp://g:g@h:5672/prod"), "prod");
        assert_eq!(vhost_of("amqp://g:g@h:5672/a%2Fb"), "a/b");
    }
}
