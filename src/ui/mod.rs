//! How commands show what runs: the live view of `up`/`down` (`live_view`), the report of an
//! apply (`apply_report`: the outcome line, the JSON result, what did not converge), and the
//! logging set up by `-v` (`logging`). Reconcilers never print; commands decide through these.

pub mod apply_report;
pub mod live_view;
pub mod logging;
