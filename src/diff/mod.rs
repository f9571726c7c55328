//! Field-level differences between a desired and an observed resource.
//!
//! Invariants: values are compared after normalisation (see `normalize`); a sensitive field never
//! carries its value, only the fact that it differs.

pub mod normalize;
pub mod path;
pub mod taskdef;

pub use path::{Delta, Path, TAGS};

use serde_json::Value;

use crate::model::tags::Tags;

/// A value as it may be shown to a person or written as JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    Value(Value),
    /// A secret: shown as `(sensitive value)`.
    Sensitive,
    /// A secret whose environment variable (named here) is not set: `diff` can still plan;
    /// `up` refuses to apply until it is set.
    Unset(String),
}

impl Shown {
    /// The value `true` (a flag turned on).
    pub fn is_true(&self) -> bool {
        matches!(self, Shown::Value(Value::Bool(true)))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    /// Dotted path such as `lifecycle_policy.keep_last_images` or `tags.Project`.
    pub path: String,
    /// `None`: the field is absent (on create, or when it is being added).
    pub before: Option<Shown>,
    /// `None`: the field will be removed.
    pub after: Option<Shown>,
    /// One member of a set (subnets, rules, policies): `before`/`after` say whether it goes or comes.
    pub member: bool,
}

impl FieldChange {
    pub fn new(path: impl Into<String>, before: Option<Shown>, after: Option<Shown>) -> FieldChange {
        FieldChange { path: path.into(), before, after, member: false }
    }
}

/// How a plan shows a reference to something that is not a resource of this stack (deleted behind
/// its back, or someone else's): marked, and an ARN cut to its resource part, so a raw id never
/// reads as if it were a name of the stack file.
pub fn foreign(id: &str) -> String {
    let short = if id.starts_with("arn:") { id.splitn(6, ':').nth(5).unwrap_or(id) } else { id };
    format!("{short} (not in this stack)")
}

/// Collects the differences of one resource.
#[derive(Debug, Default)]
pub struct FieldDiff {
    pub changes: Vec<FieldChange>,
}

impl FieldDiff {
    /// Records `path` when the two normalised values differ. `before` is `None` on create.
    pub fn field<T: Into<Value> + PartialEq + Clone>(
        &mut self,
        path: impl AsRef<str>,
        before: Option<Option<T>>,
        after: Option<T>,
    ) {
        let before_value = before.clone().flatten();
        let creating = before.is_none();
        if !creating && before_value == after {
            return;
        }
        if creating && after.is_none() {
            return;
        }
        self.changes.push(FieldChange::new(
            path.as_ref(),
            before_value.map(|v| Shown::Value(v.into())),
            after.map(|v| Shown::Value(v.into())),
        ));
    }

    /// A state AWS reports (`available`, `ISSUED`) rather than a setting: compared on existing
    /// resources only, never listed on a create.
    pub fn state<T: Into<Value> + PartialEq + Clone>(
        &mut self,
        path: impl AsRef<str>,
        before: Option<Option<T>>,
        after: T,
    ) {
        if before.is_some() {
            self.field(path, before, Some(after));
        }
    }

    /// Records a secret that differs (or is being set) without holding either value.
    pub fn sensitive(&mut self, path: impl AsRef<str>, existed: bool) {
        self.changes.push(FieldChange::new(path.as_ref(), existed.then_some(Shown::Sensitive), Some(Shown::Sensitive)));
    }

    /// A secret to be written whose environment variable `env_var` is not set.
    pub fn unset(&mut self, path: impl AsRef<str>, env_var: &str) {
        self.changes.push(FieldChange::new(path.as_ref(), None, Some(Shown::Unset(env_var.to_string()))));
    }

    /// A set shown one member per line: each member added or removed is its own change.
    /// `before` is `None` on create.
    pub fn members(
        &mut self,
        path: impl AsRef<str>,
        before: Option<&std::collections::BTreeSet<String>>,
        after: &std::collections::BTreeSet<String>,
    ) {
        let path = path.as_ref();
        let start = self.changes.len();
        match before {
            None => after.iter().for_each(|m| self.field(path, None, Some(m.clone()))),
            Some(before) => {
                for gone in before.difference(after) {
                    self.field(path, Some(Some(gone.clone())), None);
                }
                for new in after.difference(before) {
                    self.field(path, Some(None), Some(new.clone()));
                }
            }
        }
        for c in &mut self.changes[start..] {
            c.member = true;
        }
    }

    /// Tags, one field per key, AWS's own tags ignored. `before` is `None` on create, where the
    /// ownership tags (the same on every resource) are left out to keep the plan readable.
    pub fn tags(&mut self, before: Option<&Tags>, after: &Tags) {
        let Some(before) = before else {
            let shown: Vec<_> = after.iter().filter(|(k, _)| !crate::model::tags::is_ownership(k)).collect();
            if !shown.is_empty() {
                let map: serde_json::Map<String, Value> =
                    shown.into_iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect();
                self.changes.push(FieldChange::new(TAGS.name(), None, Some(Shown::Value(Value::Object(map)))));
            }
            return;
        };
        let before = crate::model::tags::comparable(before);
        let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
        for key in keys {
            self.field(TAGS.at(key), Some(before.get(key).cloned()), after.get(key).cloned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_make_no_change_and_create_lists_every_set_field() {
        let mut d = FieldDiff::default();
        d.field("a", Some(Some(1)), Some(1));
        assert!(d.changes.is_empty());
        d.field("b", None, Some(true));
        d.field("c", None, None::<bool>);
        assert_eq!(d.changes.len(), 1);
        assert_eq!(d.changes[0].path, "b");
        assert_eq!(d.changes[0].before, None);
    }

    #[test]
    fn foreign_references_are_marked_and_arns_shortened() {
        assert_eq!(foreign("sg-0abc"), "sg-0abc (not in this stack)");
        assert_eq!(
            foreign("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/x-tg/abc"),
            "targetgroup/x-tg/abc (not in this stack)"
        );
    }

    #[test]
    fn tag_changes_are_per_key_and_ignore_aws_tags() {
        let before: Tags =
            [("aws:x", "1"), ("Team", "a"), ("Old", "z")].into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        let after: Tags = [("Team", "b")].into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        let mut d = FieldDiff::default();
        d.tags(Some(&before), &after);
        let paths: Vec<_> = d.changes.iter().map(|c| (c.path.as_str(), c.after.is_some())).collect();
        assert_eq!(paths, vec![("tags.Old", false), ("tags.Team", true)]);
    }
}
