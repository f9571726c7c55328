//! A secret value that cannot be printed by accident.
//!
//! Invariant: neither `Debug` nor `Serialize` reveal the value; the only way to the text is
//! `expose`, called where the value is sent to AWS or compared.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive value)")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_never_shows_the_value() {
        let s = super::Secret::new("hunter2".into());
        assert_eq!(format!("{s:?}"), "(sensitive value)");
        assert_eq!(format!("{:?}", Some(&s)), "Some((sensitive value))");
    }
}
