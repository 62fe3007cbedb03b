//! The gateway: GraphQL API, HTML pages, authentication, and the composition root
//! that runs the gateway, projector and notifier together (`extranet serve`).

pub mod app;
pub mod auth;
pub mod bootstrap;
pub mod client_ip;
pub mod clock;
pub mod config;
pub mod direct_add;
pub mod flow_step;
pub mod graphql;
pub mod invite;
pub mod joining;
pub mod layers;
pub mod metrics;
pub mod pages;
pub mod password;
pub mod password_reset;
pub mod rate_limit;
pub mod readiness;
pub mod rebuild;
pub mod secret_key;
pub mod state;
