//! `overseer healthcheck`: asks a running replica's `GET /health` and exits 0 only on a 200
//! (`healthy`); a 503 (`degraded`: a queue in meltdown, Redis or RabbitMQ away), any other
//! answer, no answer within the timeout or a refused connection is a failure. For a
//! container's HEALTHCHECK, which then needs no curl in the image.

use std::time::Duration;

/// The `/health` URL of the replica listening on `bind` (a wildcard address is asked on
/// loopback).
pub fn url_for(bind: &str) -> Result<String, String> {
    let addr: std::net::SocketAddr =
        bind.parse().map_err(|_| format!("http.bind `{bind}` is not an address with a port"))?;
    let host = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_string(),
        ip if ip.is_unspecified() => "[::1]".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        std::net::IpAddr::V4(ip) => ip.to_string(),
    };
    Ok(format!("http://{host}:{}/health", addr.port()))
}

/// The Host header to send: one the replica allows (`http.allowed_hosts`).
pub fn host_for(allowed: &[String]) -> String {
    allowed
        .iter()
        .find(|h| h.as_str() != "*")
        .map_or("localhost".to_string(), |h| h.trim_matches(['[', ']']).to_string())
}

/// Ok with the replica's status line when it is healthy; Err with why not.
pub async fn check(url: &str, host: &str, timeout: Duration) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let response = client
        .get(url)
        .header(reqwest::header::HOST, host)
        .send()
        .await
        .map_err(|e| format!("{url}: no answer: {}", e.without_url()))?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let said = body["status"].as_str().unwrap_or("?").to_string();
    if status.is_success() && said == "healthy" {
        Ok(format!("{url}: {said}"))
    } else {
        Err(format!("{url}: HTTP {} ({said})", status.as_u16()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_binds_are_asked_on_loopback() {
        assert_eq!(url_for("0.0.0.0:8001").as_deref(), Ok("http://127.0.0.1:8001/health"));
        assert_eq!(url_for("[::]:9000").as_deref(), Ok("http://[::1]:9000/health"));
        assert_eq!(url_for("10.0.0.5:80").as_deref(), Ok("http://10.0.0.5:80/health"));
        assert!(url_for("localhost").is_err());
        assert_eq!(host_for(&["*".into(), "overseer.example".into()]), "overseer.example");
        assert_eq!(host_for(&[]), "localhost");
    }
}
