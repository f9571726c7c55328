//! Configuration errors: every problem with the stack file or a task definition, with where it is
//! (file, line and column when known, else the key path) and what was expected.
//!
//! Invariant: a `ConfigError` never contains a secret value; messages quote names, not values of
//! SecureString parameters.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_saphyr::{Location, Spanned};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line and column, when the parser or a `Spanned` field knows them.
    pub position: Option<(u64, u64)>,
    /// Key path such as `network.subnets.public-a.cidr`; empty for syntax errors.
    pub key_path: String,
    pub message: String,
}

impl ConfigError {
    pub fn at(file: &Path, location: Location, key_path: impl Into<String>, message: impl Into<String>) -> Self {
        let position = (location.line() > 0).then(|| (location.line(), location.column()));
        ConfigError { file: file.to_path_buf(), position, key_path: key_path.into(), message: message.into() }
    }

    pub fn spanned<T>(
        file: &Path,
        field: &Spanned<T>,
        key_path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::at(file, field.referenced, key_path, message)
    }

    pub fn path(file: &Path, key_path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError { file: file.to_path_buf(), position: None, key_path: key_path.into(), message: message.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, column)) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        if !self.key_path.is_empty() {
            write!(f, ": {}", self.key_path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// ` — did you mean `x`?` when one of `candidates` is a likely typo of `word` (at most a third of
/// its letters differ), else nothing.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let best = candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (edit_distance(&word.to_ascii_lowercase(), &c.to_ascii_lowercase()), c))
        .min();
    match best {
        Some((d, c)) if d <= (word.chars().count() / 3).max(1) => format!(" — did you mean `{c}`?"),
        _ => String::new(),
    }
}

/// Levenshtein distance: insertions, deletions and substitutions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// All problems found in one pass, so an operator fixes them in one go.
#[derive(Debug, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(f, "{n} problem{} in the stack definition:", if n == 1 { "" } else { "s" })?;
        for e in &self.0 {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_a_suggestion_and_strangers_none() {
        let keys = ["portMappings", "image", "environment"];
        assert_eq!(did_you_mean("portMapings", keys), " — did you mean `portMappings`?");
        assert_eq!(did_you_mean("Image", keys), " — did you mean `image`?");
        assert_eq!(did_you_mean("volumes", keys), "");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
