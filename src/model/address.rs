//! Addresses: `ecr_repository.containrlab-api` names one resource in plans, JSON output and the
//! `containrlab:address` ownership tag; it must stay stable across releases.

use std::fmt;

pub use super::kind::Kind;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    pub kind: Kind,
    pub name: String,
}

impl Address {
    pub fn new(kind: Kind, name: impl Into<String>) -> Self {
        Address { kind, name: name.into() }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind.as_str(), self.name)
    }
}

impl serde::Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_text_is_kind_dot_name() {
        let a = Address::new(Kind::SsmParameter, "/containrlab/GITHUB_CLIENT_ID");
        assert_eq!(a.to_string(), "ssm_parameter./containrlab/GITHUB_CLIENT_ID");
        assert_eq!(serde_json::to_value(&a).unwrap(), serde_json::json!("ssm_parameter./containrlab/GITHUB_CLIENT_ID"));
    }
}
