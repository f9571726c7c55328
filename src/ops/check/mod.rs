//! `containrlab check`'s views of the security report (`config::security`): the text grouped by
//! control, and the JSON.

mod render;
#[cfg(test)]
mod tests;

pub use render::{human, json};
