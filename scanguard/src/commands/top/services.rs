//! Service names for probed ports the daemon left unnamed: the daemon names its trap ports and
//! the well-known few (`scanguard_common::ports`); /etc/services, where present, names the rest.

use std::collections::HashMap;

use super::feed::Transport;

pub const SERVICES_FILE: &str = "/etc/services";

#[derive(Debug, Default)]
pub struct Services(HashMap<(Transport, u16), String>);

impl Services {
    /// The host's /etc/services; none when it is missing or unreadable.
    pub fn load() -> Services {
        std::fs::read_to_string(SERVICES_FILE)
            .map(|text| Services::parse(&text))
            .unwrap_or_default()
    }

    /// `name port/protocol [aliases] [# comment]` lines (services(5)); others are skipped.
    pub fn parse(text: &str) -> Services {
        let mut names = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default();
            let mut fields = line.split_whitespace();
            let (Some(name), Some(port)) = (fields.next(), fields.next()) else {
                continue;
            };
            let Some((port, protocol)) = port.split_once('/') else {
                continue;
            };
            let (Ok(port), Some(transport)) = (
                port.parse::<u16>(),
                Transport::parse(&protocol.to_ascii_uppercase()),
            ) else {
                continue;
            };
            // The first name given for a port is its name.
            names
                .entry((transport, port))
                .or_insert_with(|| name.to_string());
        }
        Services(names)
    }

    pub fn name(&self, transport: Transport, port: u16) -> Option<&str> {
        self.0.get(&(transport, port)).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_lines_are_read_like_getservbyport() {
        let services = Services::parse(
            "# Network services\n\
             tcpmux\t\t1/tcp\t\t\t\t# TCP port service multiplexer\n\
             http\t\t80/tcp\t\twww\t\t# WorldWideWeb HTTP\n\
             www-alt\t\t80/tcp\n\
             domain\t\t53/udp\n\
             broken\t\t99999/tcp\n\
             sctp-thing\t\t9/sctp\n\
             lonely\n",
        );
        assert_eq!(services.name(Transport::Tcp, 1), Some("tcpmux"));
        assert_eq!(services.name(Transport::Tcp, 80), Some("http"));
        assert_eq!(services.name(Transport::Udp, 53), Some("domain"));
        assert_eq!(services.name(Transport::Tcp, 53), None);
        assert_eq!(services.name(Transport::Tcp, 9), None);
    }
}
