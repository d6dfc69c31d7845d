//! Names from a Docker engine, reached through its API socket with bollard: the network
//! behind each bridge, the container behind each host-side veth, and the interfaces of
//! `attach --docker-network` and `--container`. Never shells out to `docker`.

mod engine;
pub mod mapping;
mod transport;

pub use engine::{ContainerStart, Engine, engine_address, engine_socket_exists};
pub use mapping::{DockerNames, Endpoint};
