//! Ownership tags: how the tool recognises what it owns without a state file.
//!
//! Invariant: a resource is this stack's only when `ManagedBy=containrlab` and
//! `containrlab:stack=<stack>` are both present. Tags under the reserved `aws:` prefix are
//! added by AWS and never compared.

use std::collections::BTreeMap;

use super::Address;

pub const MANAGED_BY: &str = "ManagedBy";
pub const MANAGED_BY_VALUE: &str = "containrlab";
pub const STACK: &str = "containrlab:stack";
pub const ADDRESS: &str = "containrlab:address";

pub type Tags = BTreeMap<String, String>;

/// The full tag set a resource of this stack carries: the stack's own tags plus ownership.
pub fn desired_tags(stack: &str, stack_tags: &Tags, address: &Address) -> Tags {
    let mut tags = stack_tags.clone();
    tags.insert(MANAGED_BY.into(), MANAGED_BY_VALUE.into());
    tags.insert(STACK.into(), stack.into());
    tags.insert(ADDRESS.into(), address.to_string());
    tags
}

/// The three tags this tool writes to claim a resource.
pub fn is_ownership(key: &str) -> bool {
    key == MANAGED_BY || key == STACK || key == ADDRESS
}

/// Who owns a resource, judged from its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    ThisStack,
    OtherStack(String),
    Unmanaged,
}

pub fn owner(stack: &str, tags: &Tags) -> Owner {
    match (tags.get(MANAGED_BY).map(String::as_str), tags.get(STACK)) {
        (Some(MANAGED_BY_VALUE), Some(s)) if s == stack => Owner::ThisStack,
        (Some(MANAGED_BY_VALUE), Some(s)) => Owner::OtherStack(s.clone()),
        _ => Owner::Unmanaged,
    }
}

/// Tags compared in diffs: everything but AWS's own.
pub fn comparable(tags: &Tags) -> Tags {
    tags.iter().filter(|(k, _)| !k.starts_with("aws:")).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// What to send to bring `have` to `want`: the keys to remove, and the tags to (re)write
/// (`None` when every wanted tag is already there).
pub fn delta(have: &Tags, want: &Tags) -> (Vec<String>, Option<Tags>) {
    let have = comparable(have);
    let remove = have.keys().filter(|k| !want.contains_key(*k)).cloned().collect();
    let write = want.iter().any(|(k, v)| have.get(k) != Some(v)).then(|| want.clone());
    (remove, write)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kind;

    #[test]
    fn ownership_needs_both_tags_and_the_same_stack() {
        let a = Address::new(Kind::LogGroup, "/ecs/x");
        let tags = desired_tags("prod", &Tags::new(), &a);
        assert_eq!(owner("prod", &tags), Owner::ThisStack);
        assert_eq!(owner("staging", &tags), Owner::OtherStack("prod".into()));
        let mut forged = Tags::new();
        forged.insert(STACK.into(), "prod".into());
        assert_eq!(owner("prod", &forged), Owner::Unmanaged);
    }

    #[test]
    fn delta_removes_extra_keys_and_rewrites_only_when_something_differs() {
        let t = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Tags>();
        let (remove, write) = delta(&t(&[("a", "1"), ("b", "2"), ("aws:x", "y")]), &t(&[("a", "1")]));
        assert_eq!((remove, write), (vec!["b".to_string()], None));
        let (remove, write) = delta(&t(&[("a", "0")]), &t(&[("a", "1")]));
        assert_eq!((remove, write), (vec![], Some(t(&[("a", "1")]))));
    }

    #[test]
    fn aws_tags_are_not_compared() {
        let mut t = Tags::new();
        t.insert("aws:cloudformation:stack-name".into(), "x".into());
        t.insert("Project".into(), "p".into());
        assert_eq!(comparable(&t).keys().collect::<Vec<_>>(), vec!["Project"]);
    }
}
