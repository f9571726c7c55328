//! The plan: what would change, why, and in which order. Plain data with two views
//! (`human`, `json`); `diff` prints it, `up` and `down` print and then execute it.
//!
//! Invariant: `diff`, `up` and `down` build their plan with the same code (`build`), so a dry run
//! is exactly `diff`.

pub mod build;
pub mod graph;
pub mod human;
pub mod json;
pub mod markdown;
pub mod order;
pub mod target;

use crate::diff::FieldChange;
use crate::model::Address;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    /// Delete and create again: a field cannot change in place.
    Replace,
    Delete,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        }
    }

    pub fn destructive(self) -> bool {
        matches!(self, Action::Replace | Action::Delete)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Declared in the stack file, absent in AWS.
    Missing,
    /// Exists and is owned, but differs from the stack file.
    Drifted,
    /// These fields cannot change in place.
    CannotUpdateInPlace(Vec<String>),
    /// Owned by this stack, no longer in the stack file.
    RemovedFromStack,
    /// `down`: everything the stack owns goes.
    StackDown,
    /// The old half of a create-before-destroy replacement: its successor is in place.
    Superseded,
    /// This resource (first id) carries the address of another, the one in use (second id).
    DuplicateOf(String, String),
    /// Only its running instances must be renewed: they read a value this plan writes.
    Restart,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Missing => f.write_str("does not exist"),
            Reason::Drifted => f.write_str("differs from the stack file"),
            Reason::CannotUpdateInPlace(fields) => {
                write!(f, "{} cannot change in place", fields.join(", "))
            }
            Reason::RemovedFromStack => f.write_str("owned by this stack, no longer in the stack file"),
            Reason::StackDown => f.write_str("down: removing the stack"),
            Reason::Superseded => f.write_str("replaced: the new one is in place and nothing uses the old one"),
            Reason::Restart => f.write_str("its tasks read a value this plan writes: new ones start"),
            Reason::DuplicateOf(id, kept) => {
                write!(f, "{id} is a duplicate of {kept}, which carries the same address and is in use")
            }
        }
    }
}

/// One resource that changes, with its per-field differences. `P` is what the reconcilers need to
/// carry it out (their desired/observed pair), opaque to the plan: the plan never looks inside.
#[derive(Debug, Clone)]
pub struct ResourceChange<P> {
    pub address: Address,
    pub action: Action,
    pub reason: Reason,
    pub fields: Vec<FieldChange>,
    /// Resources this one needs to exist first (from the stack file).
    pub depends_on: Vec<Address>,
    /// Opens network or IAM access wider than before; counts as risky for `diff --exit-code`.
    pub widens_access: bool,
    /// The desired and observed values the step will act on: what the plan showed is what is done.
    pub payload: P,
}

impl<P> ResourceChange<P> {
    pub fn new(address: Address, action: Action, reason: Reason, fields: Vec<FieldChange>, payload: P) -> Self {
        ResourceChange { address, action, reason, fields, depends_on: Vec::new(), widens_access: false, payload }
    }

    /// The value a field had before this change, when the plan shows one (a secret's never).
    pub fn was(&self, path: crate::diff::Path) -> Option<&serde_json::Value> {
        self.fields.iter().find(|f| f.is(path)).and_then(|f| match &f.before {
            Some(crate::diff::Shown::Value(v)) => Some(v),
            _ => None,
        })
    }
}

/// A resource with the stack's name that the stack does not own: never touched.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    pub address: Address,
    pub problem: String,
    pub fix: String,
}

/// An owned resource that would be deleted but is protected (it holds data).
#[derive(Debug, Clone, PartialEq)]
pub struct Kept {
    pub address: Address,
    pub why: String,
}

/// `P`: the payload of each change (see `ResourceChange`).
#[derive(Debug, Clone)]
pub struct Plan<P> {
    pub stack: String,
    pub account: String,
    pub region: String,
    pub changes: Vec<ResourceChange<P>>,
    pub conflicts: Vec<Conflict>,
    pub kept: Vec<Kept>,
    pub warnings: Vec<String>,
    /// The risks the stack file accepts (`allow:`), with their reasons: shown on every plan.
    pub accepted: Vec<String>,
    /// The stack file against AWS Security Hub's controls (`config::security`); `None` for `down`.
    pub security: Option<crate::config::security::Security>,
}

impl<P> Default for Plan<P> {
    fn default() -> Self {
        Plan {
            stack: String::new(),
            account: String::new(),
            region: String::new(),
            changes: Vec::new(),
            conflicts: Vec::new(),
            kept: Vec::new(),
            warnings: Vec::new(),
            accepted: Vec::new(),
            security: None,
        }
    }
}

impl<P> Plan<P> {
    /// Adds the changes, conflicts, kept resources and warnings of a part planned on its own.
    pub fn append(&mut self, part: Plan<P>) {
        self.changes.extend(part.changes);
        self.conflicts.extend(part.conflicts);
        self.kept.extend(part.kept);
        self.warnings.extend(part.warnings);
    }
}

/// One unit of work for the executor: derived from a change, ordered by `after`.
#[derive(Debug, Clone)]
pub struct Step {
    pub address: Address,
    pub action: Action,
    pub reason: Reason,
    /// Indices of steps that must finish first.
    pub after: Vec<usize>,
    /// The plan change this step carries out (a replacement made create-before-destroy has two).
    pub change: usize,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
}

impl<P> Plan<P> {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Replace => s.replace += 1,
                Action::Delete => s.delete += 1,
            }
        }
        s
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Values the plan needs but does not have: `(address, environment variable)` of each secret
    /// to write whose variable is unset. `up` refuses to start while there are any.
    pub fn missing_values(&self) -> Vec<(&Address, &str)> {
        self.changes
            .iter()
            .flat_map(|c| {
                c.fields.iter().filter_map(move |f| match &f.after {
                    Some(crate::diff::Shown::Unset(var)) => Some((&c.address, var.as_str())),
                    _ => None,
                })
            })
            .collect()
    }

    /// `diff --exit-code`: 0 no changes, 2 changes, 3 a delete, a replacement or wider access.
    pub fn exit_code(&self) -> i32 {
        if self.changes.iter().any(|c| c.action.destructive() || c.widens_access) {
            3
        } else if self.changes.is_empty() {
            0
        } else {
            2
        }
    }
}
