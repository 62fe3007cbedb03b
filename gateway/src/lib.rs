//! The gateway: GraphQL API, HTML pages, authentication, and the composition root
//! that runs the gateway, projector and notifier together (`extranet serve`).

pub mod app;
pub mod auth;
pub mod cli;
pub mod client_ip;
pub mod clock;
pub mod config;
pub mod graphql;
pub mod layers;
pub mod metrics;
pub mod pages;
pub mod password;
pub mod rate_limit;
pub mod readiness;
pub mod rebuild;
pub mod secret_key;
pub mod state;
pub mod supervisor;
pub mod usecase;
