//! The engine connection: `DOCKER_HOST`, else `/var/run/docker.sock`, with short timeouts so
//! an engine that does not answer costs seconds, not minutes, and the API version pinned to
//! the older of the engine's and bollard's.

use std::{collections::HashMap, future::Future, path::Path, sync::Arc, time::Duration};

use anyhow::{Context as _, Result, anyhow, bail};
use bollard::{
    ClientVersion, Docker,
    models::{ContainerInspectResponse, EventMessage, Network},
    query_parameters::{
        EventsOptions, InspectContainerOptions, InspectNetworkOptions, ListContainersOptions,
    },
};
use futures::{Stream, StreamExt as _};
use log::debug;

use super::{
    mapping::{self, DockerNames},
    transport::{self, Endpoint},
};
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
    /// The API version every request names.
    pub api_version: ClientVersion,
}

impl Engine {
    /// Connects and agrees on the API version, so "no engine" is found out here and said
    /// once.
    pub async fn connect() -> Result<Engine> {
        let address = engine_address();
        let endpoint = Arc::new(Endpoint::parse(&address)?);
        let unversioned = transport::client(Arc::clone(&endpoint), None, REQUEST_TIMEOUT)?;
        // The version bollard's models describe, or the engine's own if that is older.
        let negotiated = tokio::time::timeout(REQUEST_TIMEOUT, unversioned.negotiate_version())
            .await
            .map_err(|_| anyhow!("it did not answer within {REQUEST_TIMEOUT:?}"))
            .and_then(|answer| answer.map_err(|error| anyhow!(engine_error(&error))))
            .with_context(|| format!("no Docker engine reachable at {address}"))?;
        let api_version = negotiated.client_version();
        debug!("Docker engine at {address}: API {api_version}");
        Ok(Engine {
            docker: transport::client(endpoint, Some(api_version), REQUEST_TIMEOUT)?,
            address,
            api_version,
        })
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
    /// network it is on, each with the name of its bridge; `host_links` are the links of this
    /// namespace.
    pub async fn container_veths(
        &self,
        container: &str,
        host_links: &[Link],
    ) -> Result<Vec<(Link, String)>> {
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
                veths.push((veth.clone(), bridge.name.clone()));
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

    /// Each start of one of `containers` (names or ids) from the engine's event stream, those
    /// since `since` (Unix seconds) first: the engine keeps its recent events, so a start
    /// while nobody listened is not missed.
    pub fn container_starts(
        &self,
        containers: &[String],
        since: i64,
    ) -> impl Stream<Item = Result<ContainerStart>> + use<> {
        let filters = HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            ("event".to_string(), vec!["start".to_string()]),
            ("container".to_string(), containers.to_vec()),
        ]);
        let options = EventsOptions {
            since: Some(since.to_string()),
            until: None,
            filters: Some(filters),
        };
        self.docker.events(Some(options)).map(|event| {
            event
                .map_err(|error| anyhow!("event stream: {}", engine_error(&error)))
                .and_then(ContainerStart::from_event)
        })
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

/// A container that started, as the engine's event names it.
#[derive(Debug)]
pub struct ContainerStart {
    pub id: String,
    pub name: String,
    /// Unix seconds.
    pub time: i64,
}

impl ContainerStart {
    fn from_event(event: EventMessage) -> Result<ContainerStart> {
        let actor = event.actor.unwrap_or_default();
        let id = actor
            .id
            .context("a container event without the container's id")?;
        let name = actor
            .attributes
            .and_then(|mut attributes| attributes.remove("name"))
            .unwrap_or_else(|| id.clone());
        Ok(ContainerStart {
            id,
            name,
            time: event.time.unwrap_or_default(),
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: serde_json::Value) -> EventMessage {
        serde_json::from_value(json).expect("an event as the engine sends it")
    }

    #[test]
    fn a_start_event_names_its_container() {
        let start = ContainerStart::from_event(event(serde_json::json!({
            "Type": "container", "Action": "start", "time": 1796665905, "timeNano": 1796665905059481752_i64,
            "Actor": {"ID": "39e868ac1f1a", "Attributes": {"name": "web", "image": "busybox"}}
        })))
        .expect("a start");
        assert_eq!(
            (start.id.as_str(), start.name.as_str(), start.time),
            ("39e868ac1f1a", "web", 1796665905)
        );
        let unnamed = ContainerStart::from_event(event(serde_json::json!({
            "Type": "container", "Action": "start", "Actor": {"ID": "39e868ac1f1a"}
        })))
        .expect("a start");
        assert_eq!(unnamed.name, "39e868ac1f1a");
        assert!(
            ContainerStart::from_event(event(serde_json::json!({"Type": "container"}))).is_err()
        );
    }
}
