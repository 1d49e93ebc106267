//! Secrets from files, as Docker and Swarm secrets provide them: for a variable `NAME` the
//! configuration reads (an `OVERSEER…` variable, or one it names such as `api_key_env`),
//! `NAME_FILE` may name a file holding the value instead. A value set directly wins; the file's
//! trailing newline is dropped; a named file that cannot be read stops the start with its
//! path (never its content).

use super::Config;
use std::collections::BTreeSet;
use std::sync::OnceLock;

/// True when `var` sets a configuration key that is itself a file path
/// (`OVERSEER__HTTP__AUTH__JWKS_FILE`), not a secret's file.
pub fn is_file_key(var: &str) -> bool {
    // Derived from the configuration's schema once per process, not once per variable.
    static FILE_KEYS: OnceLock<BTreeSet<String>> = OnceLock::new();
    var.strip_prefix(super::ENV_PREFIX).and_then(|path| path.rsplit("__").next()).is_some_and(|last| {
        FILE_KEYS.get_or_init(super::reference::file_keys).contains(&last.to_ascii_lowercase())
    })
}

/// The variables the configuration names as holding secrets.
pub fn named_by(config: &Config) -> BTreeSet<String> {
    let mut names = BTreeSet::from([config.connections.llm.api_key_env.clone()]);
    names.extend(config.http.auth.hs256_secret_env.clone());
    if let Some(t) = &config.hitl.telegram {
        names.insert(t.webhook_secret_env.clone());
        names.insert(t.bot_token_env.clone());
    }
    for target in &config.hitl.notifications {
        names.extend(target.secret_env.clone());
        names.insert(target.bot_token_env.clone());
    }
    names
}

/// Sets every unset `NAME` that `wanted` accepts from its `NAME_FILE`; returns the names set.
/// Call before other threads start (it writes the process environment).
pub fn resolve(wanted: impl Fn(&str) -> bool) -> Result<Vec<String>, String> {
    let mut set = Vec::new();
    let files: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| !is_file_key(k))
        .filter_map(|(k, v)| Some((k.strip_suffix("_FILE")?.to_string(), v)))
        .filter(|(name, _)| !name.is_empty() && wanted(name))
        .collect();
    for (name, path) in files {
        if std::env::var_os(&name).is_some_and(|v| !v.is_empty()) {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("{name}_FILE names {path}, which cannot be read: {e}"))?;
        std::env::set_var(&name, text.trim_end_matches(['\n', '\r']));
        set.push(name);
    }
    set.sort();
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_are_file_paths_are_not_secret_files() {
        assert!(is_file_key("OVERSEER__HTTP__AUTH__HS256_SECRET_FILE"));
        assert!(is_file_key("OVERSEER__HTTP__AUTH__JWKS_FILE"));
        assert!(is_file_key("OVERSEER__CONNECTIONS__REDIS__CA_FILE"));
        assert!(!is_file_key("OVERSEER__CONNECTIONS__REDIS__URL_FILE"));
        assert!(!is_file_key("OVERSEER_JWT_SECRET_FILE"));
    }
}
