//! Private network topologies for scanguard's kernel tests, built only inside
//! network namespaces this crate creates and deletes again.
//!
//! Safety rule: nothing here touches the root namespace. Every interface is
//! created by an `ip -n <lab namespace>` call, so it is born inside a lab
//! namespace, and every address is assigned there. Namespaces are named
//! `sgl-<pid>-<counter>-<salt>-<role>`; [`remove_leftovers`] finds the ones a
//! killed run left behind by that prefix.

mod addressing;
mod bridge;
mod command;
pub mod daemon;
pub mod demo;
mod docker_engine;
mod docker_lab;
mod error;
mod fake_docker;
pub mod frames;
mod host;
mod lab;
mod leftovers;
mod naming;
mod netns;
mod privilege;
mod scan_lab;
mod spoof_lab;
pub mod traffic;
mod wait;

pub use bridge::Bridge;
pub use command::{describe, run_checked, run_checked_within};
pub use docker_engine::{DockerEngine, EngineContainer, EngineNetwork, remove_leftover_engines};
pub use docker_lab::{Container, DockerLab};
pub use error::{LabError, Result};
pub use fake_docker::FakeDockerEngine;
pub use host::Host;
pub use lab::Lab;
pub use leftovers::remove_leftovers;
pub use naming::NAMESPACE_PREFIX;
pub use netns::{Netns, NetnsGuard};
pub use privilege::is_root;
pub use scan_lab::ScanLab;
pub use spoof_lab::SpoofLab;
pub use wait::wait_until;
