//! Integration tests: the real `containrlab` binary against moto in server mode, one emulator
//! per test. `scripts/test` installs moto first.

mod adopt;
mod ci_roles;
mod cli;
mod compute;
mod consistency;
mod cost;
mod crash;
mod delegation;
mod deploy;
mod deploy_role;
mod dns_server;
mod doctor;
mod duplicates;
mod edge;
mod exec;
mod fault;
mod guardrails;
mod iam;
mod interrupt;
mod lag_proxy;
mod lock;
mod logs;
mod lost_answer;
mod network;
mod notifications;
mod outputs;
mod rollback_alarms;
mod round_trip;
mod run;
mod safety;
mod secrets;
mod snapshots;
mod status;
mod support;
mod target;
