//! Reading configuration sources into one TOML tree while remembering, for every leaf key,
//! which file or environment variable set it.

use super::problem::{ConfigProblem, Origin};
use std::collections::BTreeMap;
use std::path::Path;
use toml::{Table, Value};

/// Prefix of environment variables that override configuration keys. The rest of the name is
/// the key path with `__` between parts: `OVERSEER__CONNECTIONS__AMQP__URL`.
pub const ENV_PREFIX: &str = "OVERSEER__";

/// The merged tree and where each of its leaves came from.
#[derive(Debug, Default)]
pub(crate) struct Sources {
    pub(crate) tree: Table,
    origins: BTreeMap<String, Origin>,
}

impl Sources {
    /// Reads every `*.toml` file of `dir` (sorted by name), then applies `env` overrides.
    pub(crate) fn read(
        dir: &Path,
        env: impl IntoIterator<Item = (String, String)>,
        problems: &mut Vec<ConfigProblem>,
    ) -> Self {
        let mut sources = Self::default();
        let files = match toml_files(dir) {
            Ok(files) if !files.is_empty() => files,
            Ok(_) => {
                problems.push(whole(dir, "no *.toml files in this directory"));
                Vec::new()
            }
            Err(e) => {
                problems.push(whole(dir, &format!("cannot read the directory: {e}")));
                Vec::new()
            }
        };
        for path in files {
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) => {
                    problems.push(whole(&path, &format!("cannot read: {e}")));
                    continue;
                }
            };
            match text.parse::<Table>() {
                Ok(table) => sources.merge(table, &Origin::File(path), problems),
                Err(e) => problems.push(whole(&path, &format!("not valid TOML: {e}"))),
            }
        }
        // `…_FILE` names the file a value comes from (secret_files.rs), unless it is a key of
        // its own (`…__JWKS_FILE`).
        let mut overrides: Vec<_> = env
            .into_iter()
            .filter(|(k, _)| {
                k.starts_with(ENV_PREFIX) && (!k.ends_with("_FILE") || super::secret_files::is_file_key(k))
            })
            .collect();
        overrides.sort();
        for (var, raw) in overrides {
            sources.apply_env(&var, &raw, problems);
        }
        sources
    }

    /// Where `key` (a dotted path) was set: the leaf itself, the leaf above it, or the first
    /// leaf below it (for a problem about a whole entry).
    pub(crate) fn origin_of(&self, key: &str) -> Origin {
        if let Some(origin) = self.origins.get(key) {
            return origin.clone();
        }
        let above = self
            .origins
            .iter()
            .filter(|(leaf, _)| key.starts_with(&format!("{leaf}.")))
            .max_by_key(|(leaf, _)| leaf.len());
        if let Some((_, origin)) = above {
            return origin.clone();
        }
        let below = format!("{key}.");
        self.origins
            .iter()
            .find(|(leaf, _)| leaf.starts_with(&below))
            .map(|(_, origin)| origin.clone())
            .unwrap_or(Origin::Default)
    }

    fn merge(&mut self, table: Table, origin: &Origin, problems: &mut Vec<ConfigProblem>) {
        let mut dst = std::mem::take(&mut self.tree);
        self.merge_into(&mut dst, table, "", origin, problems);
        self.tree = dst;
    }

    fn merge_into(
        &mut self,
        dst: &mut Table,
        src: Table,
        prefix: &str,
        origin: &Origin,
        problems: &mut Vec<ConfigProblem>,
    ) {
        for (key, value) in src {
            let path = join(prefix, &key);
            match (dst.get_mut(&key), value) {
                (Some(Value::Table(existing)), Value::Table(incoming)) => {
                    self.merge_into(existing, incoming, &path, origin, problems);
                }
                (Some(_), _) => problems.push(ConfigProblem {
                    origin: origin.clone(),
                    key: path.clone(),
                    message: format!("also set in {}; set it in one place", self.origin_of(&path)),
                }),
                (None, value) => {
                    self.record(&path, &value, origin);
                    dst.insert(key, value);
                }
            }
        }
    }

    fn record(&mut self, path: &str, value: &Value, origin: &Origin) {
        match value {
            Value::Table(table) if !table.is_empty() => {
                for (key, inner) in table {
                    self.record(&join(path, key), inner, origin);
                }
            }
            _ => {
                self.origins.insert(path.to_string(), origin.clone());
            }
        }
    }

    fn apply_env(&mut self, var: &str, raw: &str, problems: &mut Vec<ConfigProblem>) {
        let origin = Origin::Env(var.to_string());
        let parts: Vec<String> = var[ENV_PREFIX.len()..].split("__").map(str::to_ascii_lowercase).collect();
        if parts.iter().any(String::is_empty) {
            problems.push(ConfigProblem {
                origin,
                key: String::new(),
                message: "empty key part: use OVERSEER__SECTION__KEY".into(),
            });
            return;
        }
        let path = parts.join(".");
        let Some((leaf, parents)) = parts.split_last() else {
            return;
        };
        let mut table = &mut self.tree;
        for part in parents {
            let entry = table.entry(part.clone()).or_insert_with(|| Value::Table(Table::new()));
            match entry {
                Value::Table(inner) => table = inner,
                _ => {
                    problems.push(ConfigProblem {
                        origin,
                        key: path,
                        message: format!("`{part}` is a value, not a section"),
                    });
                    return;
                }
            }
        }
        let value = env_value(raw, table.get(leaf));
        table.insert(leaf.clone(), value);
        self.origins.insert(path, origin);
    }
}

/// An environment value keeps the type of the value it replaces: a string stays a string even
/// when it looks like a number (an API token of digits), a number or bool is parsed as one.
fn env_value(raw: &str, replaced: Option<&Value>) -> Value {
    let parsed = || format!("v = {raw}").parse::<Table>().ok().and_then(|mut t| t.remove("v"));
    match replaced {
        Some(Value::String(_)) => Value::String(raw.to_string()),
        _ => parsed().unwrap_or_else(|| Value::String(raw.to_string())),
    }
}

fn toml_files(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

fn whole(path: &Path, message: &str) -> ConfigProblem {
    ConfigProblem {
        origin: Origin::File(path.to_path_buf()),
        key: String::new(),
        message: message.to_string(),
    }
}

pub(crate) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}
