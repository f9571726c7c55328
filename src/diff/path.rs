//! Typed field paths and the delta an update acts on (tags aside: the runner sets them). Each kind declares the paths its `fields`
//! may report (`Resource::FIELDS`) as constants that `fields`, `update`, `REPLACE_ON`,
//! `widens_access` and `cost` share, so a misspelt path is a compile error, not an update
//! silently skipped.
//!
//! Invariants: a path matches the change paths it names — one field (`scan_on_push`), a group and
//! its members (`health_check`, `health_check.path`), or any path (fields keyed by their own name,
//! such as DNS records). A `Delta` remembers which of its changes `update` asked about: `unread`
//! lists those it never looked at, which the runner refuses as a reconciler bug.

use std::sync::atomic::{AtomicBool, Ordering};

use super::FieldChange;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// Exactly this path.
    Field,
    /// This path and every path under it (`name.…`).
    Group,
    /// Any path: the kind names each field by its own key.
    Keyed,
}

/// A field (or group of fields) of one kind, as `fields` reports it and `update` asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Path {
    name: &'static str,
    form: Form,
}

/// Every kind's tags: `tags` on create, `tags.KEY` per key after.
pub const TAGS: Path = Path::group("tags");

impl Path {
    pub const fn field(name: &'static str) -> Path {
        Path { name, form: Form::Field }
    }

    pub const fn group(name: &'static str) -> Path {
        Path { name, form: Form::Group }
    }

    /// Fields named by their own key (`api.example.com A`); `what` says what they are.
    pub const fn keyed(what: &'static str) -> Path {
        Path { name: what, form: Form::Keyed }
    }

    pub fn name(self) -> &'static str {
        self.name
    }

    pub fn matches(self, path: &str) -> bool {
        match self.form {
            Form::Field => path == self.name,
            Form::Group => path == self.name || path.strip_prefix(self.name).is_some_and(|rest| rest.starts_with('.')),
            Form::Keyed => true,
        }
    }

    /// The path of one member of a group: `inline_policies.NAME`.
    pub fn at(self, key: &str) -> String {
        format!("{}.{key}", self.name)
    }
}

impl AsRef<str> for Path {
    fn as_ref(&self) -> &str {
        self.name
    }
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)?;
        match self.form {
            Form::Field => Ok(()),
            Form::Group => f.write_str("[.…]"),
            Form::Keyed => f.write_str(" (keyed)"),
        }
    }
}

impl FieldChange {
    /// Whether this change is of `path`.
    pub fn is(&self, path: Path) -> bool {
        path.matches(&self.path)
    }
}

/// The field changes a step carries out, and which of them `update` has asked about.
pub struct Delta<'a> {
    changes: &'a [FieldChange],
    read: Vec<AtomicBool>,
}

impl<'a> Delta<'a> {
    pub fn new(changes: &'a [FieldChange]) -> Delta<'a> {
        Delta { changes, read: changes.iter().map(|_| AtomicBool::new(false)).collect() }
    }

    fn ask(&self, mut which: impl FnMut(&FieldChange) -> bool) -> bool {
        let mut any = false;
        for (c, read) in self.changes.iter().zip(&self.read) {
            if which(c) {
                read.store(true, Ordering::Relaxed);
                any = true;
            }
        }
        any
    }

    /// Whether `path` changed.
    pub fn has(&self, path: Path) -> bool {
        self.ask(|c| c.is(path))
    }

    /// Marks `path` as handled by what the update does whatever changed (a state it waits for).
    pub fn handled(&self, path: Path) {
        self.ask(|c| c.is(path));
    }

    /// Every change: for an update that acts on each one.
    pub fn all(&self) -> &'a [FieldChange] {
        self.ask(|_| true);
        self.changes
    }

    /// The paths `update` never asked about.
    pub fn unread(&self) -> Vec<&'a str> {
        let unread = self.changes.iter().zip(&self.read).filter(|(_, r)| !r.load(Ordering::Relaxed));
        unread.map(|(c, _)| c.path.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_matches_its_field_its_group_or_any_key() {
        assert!(Path::field("size").matches("size"));
        assert!(!Path::field("size").matches("size.max"));
        let hc = Path::group("health_check");
        assert!(hc.matches("health_check") && hc.matches("health_check.path"));
        assert!(!hc.matches("health_check_grace") && !hc.matches("health"));
        assert!(TAGS.matches("tags.Team") && TAGS.matches("tags"));
        assert!(Path::keyed("record").matches("api.example.com A"));
        assert_eq!(Path::group("inline_policies").at("deploy"), "inline_policies.deploy");
    }

    #[test]
    fn a_delta_tells_which_changes_update_never_asked_about() {
        let changes = [
            FieldChange::new("scan_on_push", None, None),
            FieldChange::new("tags.Team", None, None),
            FieldChange::new("tag_mutability", None, None),
        ];
        let delta = Delta::new(&changes);
        assert!(delta.has(Path::field("scan_on_push")));
        assert!(!delta.has(Path::field("lifecycle_policy")));
        assert_eq!(delta.unread(), vec!["tags.Team", "tag_mutability"]);
        delta.handled(TAGS);
        assert_eq!(delta.unread(), vec!["tag_mutability"]);
        assert_eq!(delta.all().len(), 3);
        assert!(delta.unread().is_empty());
    }
}
