//! The day-two operations that use the engine (config → observe → plan → apply) for one purpose
//! each: take over a hand-built stack (`adopt`), the security report's views (`check`), monthly
//! cost (`cost`), image-only rollouts (`deploy`), pre-flight (`doctor`), ECS Exec's checks and the
//! Session Manager plugin (`exec`), the dependency diagram (`graph`), the stack's logs (`logs`),
//! one-off tasks (`run`), its health (`status`). `commands/` parses and prints; these do the work.

pub mod adopt;
pub mod check;
pub mod cost;
pub mod deploy;
pub mod doctor;
pub mod exec;
pub mod graph;
pub mod logs;
pub mod run;
pub mod status;
