//! The stack's vocabulary: resource kinds and addresses, desired resources, ownership tags.

pub mod address;
pub mod compute;
pub mod consistency;
pub mod delete_order;
pub mod desired;
pub mod iam;
pub mod ingress;
pub mod kind;
pub mod network;
pub mod secret;
pub mod tags;
pub mod usage;

pub use address::{Address, Kind};
