//! Per-port roles, kept in one global array of the program indexed by destination port.
//!
//! One byte per port (64 KiB for all 65,536) costs a single load per TCP packet, where
//! separate bitmaps would cost one per role.

/// The port roles' pin name.
pub const PORT_ROLES_MAP: &str = "PORT_ROLES";
/// The section of the program's global port-role array, which aya names its map after.
pub const PORT_ROLES_SECTION: &str = ".bss.port_roles";
pub const PORT_COUNT: u32 = 65_536;
/// The roles of every port, indexed by port number.
pub type PortRoles = [u8; PORT_COUNT as usize];

/// A bare SYN to this port is a `syn-scan`.
pub const ROLE_WATCHED: u8 = 1 << 0;
/// Any connection attempt to this port is a `trap-port` probe.
pub const ROLE_TRAP: u8 = 1 << 1;
/// Probes to this port never trigger anything (the sensor's real sshd).
pub const ROLE_PROTECTED: u8 = 1 << 2;
/// A datagram to this UDP port outside any flow is a `udp-probe`.
pub const ROLE_WATCHED_UDP: u8 = 1 << 3;
/// In default-deny mode, inbound TCP to this port is allowed. Also counts as served.
pub const ROLE_OPEN: u8 = 1 << 4;
/// A local service listens here (found in the socket tables at attach): a connection request
/// or datagram to it is a client's, and does not count toward a port sweep.
pub const ROLE_SERVED: u8 = 1 << 5;
/// Every combination of the `ROLE_*` bits above.
pub const ROLE_COMBINATIONS: usize = 64;
/// The roles of a port with a service behind it.
pub const SERVED: u8 = ROLE_OPEN | ROLE_SERVED;

/// Default UDP watch list: the UDP small services (RFC 862-868) and tftp (69), portmapper
/// (111), netbios-ns (137) and snmp (161), which no host should expose to the open network and
/// every `-sU` run tries first.
pub const DEFAULT_WATCHED_UDP_PORTS: [u16; 10] = [7, 9, 13, 17, 19, 37, 69, 111, 137, 161];

/// Default watch list: services that have been deprecated for decades, so a SYN to one of them
/// from the outside is a scanner looking for something old and broken.
/// - 7, 9, 13, 17, 19, 37: the "small services" (echo, discard, daytime, qotd, chargen, time;
///   RFC 862-868), off everywhere and known as amplification vectors.
/// - 23 telnet and 79 finger: the classic iptables rules' own list (cleartext logins, user
///   enumeration).
/// - 512, 513, 514: rexec, rlogin, rsh (address-based trust, replaced by ssh).
/// - 540 uucp, 1524 ingreslock (a classic backdoor port), 2323 (alternate telnet Mirai probes).
pub const DEFAULT_WATCHED_PORTS: [u16; 14] =
    [7, 9, 13, 17, 19, 23, 37, 79, 512, 513, 514, 540, 1524, 2323];

/// Names for ports commonly used as traps, so logs say `ssh` rather than `22`.
pub const WELL_KNOWN_PORT_NAMES: [(u16, &str); 16] = [
    (21, "ftp"),
    (22, "ssh"),
    (23, "telnet"),
    (25, "smtp"),
    (53, "domain"),
    (79, "finger"),
    (80, "http"),
    (110, "pop3"),
    (135, "msrpc"),
    (139, "netbios-ssn"),
    (143, "imap"),
    (443, "https"),
    (445, "microsoft-ds"),
    (3306, "mysql"),
    (3389, "ms-wbt-server"),
    (5555, "adb"),
];

pub fn well_known_name(port: u16) -> Option<&'static str> {
    WELL_KNOWN_PORT_NAMES
        .iter()
        .find(|(known, _)| *known == port)
        .map(|(_, name)| *name)
}
