//! The engine connection: `DOCKER_HOST`, else `/var/run/docker.sock`, with short timeouts so
//! an engine that does not answer costs seconds, not minutes.

use std::{future::Future, path::Path, time::Duration};

use anyhow::{Context as _, Result, anyhow, bail};
use bollard::{
    Docker,
    models::{ContainerInspectResponse, Network},
    query_parameters::{InspectContainerOptions, InspectNetworkOptions, ListContainersOptions},
};
use log::debug;

use super::mapping::{self, DockerNames};
use crate::host::links::{self, Link};

const DEFAULT_SOCKET: &str = "/var/run/docker.sock";
/// For each request; the engine answers a local socket in milliseconds.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the engine is looked for: `DOCKER_HOST`, else the default socket.
pub fn engine_address() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| format!("unix://{DEFAULT_SOCKET}"))
}

/// Whether there is an engine to try at all: a `DOCKER_HOST` that is not a missing unix
/// socket, or the default socket.
pub fn engine_socket_exists() -> bool {
    let address = engine_address();
    match address.strip_prefix("unix://") {
        Some(path) => Path::new(path).exists(),
        None => true,
    }
}

pub struct Engine {
    docker: Docker,
    pub address: String,
}

impl Engine {
    /// Connects and pings, so "no engine" is found out here and said once.
    pub async fn connect() -> Result<Engine> {
        let address = engine_address();
        let docker = Docker::connect_with_defaults()
            .with_context(|| format!("no Docker engine reachable at {address}"))?
            .with_timeout(REQUEST_TIMEOUT);
        let engine = Engine { docker, address };
        engine
            .ask("ping", engine.docker.ping())
            .await
            .with_context(|| format!("no Docker engine reachable at {}", engine.address))?;
        Ok(engine)
    }

    /// The bridge device of a network given by name or id.
    pub async fn network_bridge(&self, network: &str) -> Result<String> {
        let inspected = self
            .ask(
                "inspect network",
                self.docker
                    .inspect_network(network, None::<InspectNetworkOptions>),
            )
            .await
            .with_context(|| format!("Docker network {network:?}"))?;
        mapping::inspected_network_bridge(&inspected)
            .map(|bridge| bridge.bridge)
            .map_err(|problem| anyhow!(problem))
    }

    /// The host-side veths of a running container given by name or id, one per bridge
    /// network it is on; `host_links` are the links of this namespace.
    pub async fn container_veths(
        &self,
        container: &str,
        host_links: &[Link],
    ) -> Result<Vec<String>> {
        let inspected = self
            .ask(
                "inspect container",
                self.docker
                    .inspect_container(container, None::<InspectContainerOptions>),
            )
            .await
            .with_context(|| format!("Docker container {container:?}"))?;
        if !mapping::is_running(&inspected) {
            bail!("Docker container {container:?} is not running, so it has no interfaces");
        }
        let inside = container_links(&inspected).await?;
        let mut veths = Vec::new();
        for endpoint in mapping::endpoints(&inspected) {
            let Ok(bridge) = self.network_bridge(&endpoint.network_id).await else {
                continue;
            };
            let Some(bridge) = host_links.iter().find(|link| link.name == bridge) else {
                continue;
            };
            if let Some(veth) = mapping::host_veth(&endpoint, bridge.ifindex, &inside, host_links) {
                veths.push(veth.name.clone());
            }
        }
        if veths.is_empty() {
            bail!(
                "Docker container {container:?} has no veth on a bridge network in this network namespace (is it on the host, none or a macvlan network?)"
            );
        }
        Ok(veths)
    }

    /// Names for the bridges and host-side veths among `host_links`.
    pub async fn names(&self, host_links: &[Link]) -> Result<DockerNames> {
        let networks: Vec<Network> = self
            .ask(
                "list networks",
                self.docker
                    .list_networks(None::<bollard::query_parameters::ListNetworksOptions>),
            )
            .await?;
        let running = self
            .ask(
                "list containers",
                self.docker.list_containers(None::<ListContainersOptions>),
            )
            .await?;
        let mut containers = Vec::new();
        for summary in running {
            let Some(id) = summary.id else { continue };
            let inspected = self
                .ask(
                    "inspect container",
                    self.docker
                        .inspect_container(&id, None::<InspectContainerOptions>),
                )
                .await;
            // A container that stopped since the list is simply left out.
            let Ok(inspected) = inspected else { continue };
            match container_links(&inspected).await {
                Ok(inside) => containers.push((inspected, inside)),
                Err(error) => debug!("{}: {error:#}", mapping::container_name(&inspected)),
            }
        }
        Ok(mapping::names(&networks, &containers, host_links))
    }

    async fn ask<T>(
        &self,
        what: &str,
        request: impl Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<T> {
        match tokio::time::timeout(REQUEST_TIMEOUT, request).await {
            Ok(answer) => answer.map_err(|error| anyhow!("{what}: {}", engine_error(&error))),
            Err(_) => bail!(
                "{what}: the Docker engine at {} did not answer within {REQUEST_TIMEOUT:?}",
                self.address
            ),
        }
    }
}

/// The engine's own message for API errors ("No such container: web"), else bollard's.
fn engine_error(error: &bollard::errors::Error) -> String {
    match error {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// The links inside a container's network namespace.
async fn container_links(container: &ContainerInspectResponse) -> Result<Vec<Link>> {
    let paths = mapping::netns_paths(container);
    tokio::task::spawn_blocking(move || {
        let mut last_error = anyhow!("the engine reports no network namespace");
        for path in paths {
            match links::dump_in_netns(&path) {
                Ok(links) => return Ok(links),
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
    })
    .await?
    .with_context(|| {
        format!(
            "the network namespace of container {}",
            mapping::container_name(container)
        )
    })
}
