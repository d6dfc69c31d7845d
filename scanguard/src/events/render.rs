//! The human rendering, modelled on the iptables LOG target so existing greps keep working:
//! `[scanguard::null-scan] IN=eth0 MAC=... SRC=... DST=... LEN=40 TOS=0x00 TTL=50 ...`.

use std::fmt::Write as _;

use scanguard_common::classify::{ACK, CWR, ECE, FIN, PSH, RST, SYN, URG};

use super::Detection;

const FLAG_NAMES: [(u8, &str); 8] = [
    (CWR, "CWR"),
    (ECE, "ECE"),
    (URG, "URG"),
    (ACK, "ACK"),
    (PSH, "PSH"),
    (RST, "RST"),
    (SYN, "SYN"),
    (FIN, "FIN"),
];

pub fn tcp_flags(flags: u8) -> String {
    let names: Vec<&str> = FLAG_NAMES
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    if names.is_empty() {
        "NONE".to_string()
    } else {
        names.join(",")
    }
}

pub fn mac(bytes: &[u8; 6]) -> String {
    bytes.map(|byte| format!("{byte:02x}")).join(":")
}

/// The grep-able prefix: one per kind, one for drops of banned sources, and one for each probe
/// source verification refused.
pub fn prefix(detection: &Detection) -> String {
    match detection.event.as_str() {
        "banned" => "[scanguard::banned]".to_string(),
        "spoofed" => "[scanguard::spoofed]".to_string(),
        "unverified" => "[scanguard::unverified]".to_string(),
        _ => format!("[scanguard::{}]", detection.kind),
    }
}

pub fn log_line(d: &Detection) -> String {
    let [ether_hi, ether_lo] = d.ethertype.to_be_bytes();
    let mut line = format!(
        "{} IN={} MAC={}:{}:{ether_hi:02x}:{ether_lo:02x} SRC={} DST={} LEN={}",
        prefix(d),
        d.interface,
        d.dst_mac,
        d.src_mac,
        d.src,
        d.dst,
        d.length
    );
    if d.src.is_ipv6() {
        let _ = write!(line, " TC=0x{:02X} HOPLIMIT={}", d.tos, d.ttl);
    } else {
        let _ = write!(line, " TOS=0x{:02X} TTL={} ID={}", d.tos, d.ttl, d.ip_id);
    }
    let _ = write!(line, " PROTO={}", d.protocol);
    if ["TCP", "UDP", "SCTP"].contains(&d.protocol.as_str()) {
        let _ = write!(line, " SPT={} DPT={}", d.src_port, d.dst_port);
    }
    if d.protocol == "TCP" {
        let _ = write!(line, " WINDOW={} FLAGS={}", d.window, d.tcp_flags);
    }
    if let Some(service) = &d.service {
        let _ = write!(line, " SERVICE={service}");
    }
    if let Some(fingerprint) = &d.fingerprint {
        let _ = write!(line, " FINGERPRINT={fingerprint}");
    }
    if let Some(vlan) = d.vlan_id {
        let _ = write!(line, " VLAN={vlan}");
    }
    if d.event == "banned" {
        let _ = write!(line, " REASON={}", d.kind);
    }
    if d.event == "spoofed" || d.event == "unverified" {
        // SRC is what the frame claims; this is who sent it.
        let _ = write!(line, " KIND={} SENDER_MAC={}", d.kind, d.src_mac);
    }
    let _ = write!(line, " ACTION={}", d.action);
    if d.suppressed > 0 {
        let _ = write!(line, " SUPPRESSED={}", d.suppressed);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detection() -> Detection {
        Detection {
            time: "2026-11-21T14:00:00.000Z".into(),
            event: "detection".into(),
            kind: "syn-scan".into(),
            action: "ban".into(),
            interface: "br-72d5c02de577".into(),
            ifindex: 7,
            src_mac: "02:42:13:b0:b1:b2".into(),
            dst_mac: "02:42:a0:a1:a2:a3".into(),
            ethertype: 0x0800,
            vlan_id: None,
            src: "172.19.0.2".parse().unwrap(),
            dst: "172.19.0.254".parse().unwrap(),
            protocol: "TCP".into(),
            src_port: 45757,
            dst_port: 23,
            tcp_flags: tcp_flags(SYN),
            window: 1024,
            ttl: 50,
            tos: 0,
            ip_id: 8039,
            length: 44,
            suppressed: 0,
            service: None,
            fingerprint: None,
            ask_ifindex: 0,
        }
    }

    #[test]
    fn the_line_reads_like_iptables_log() {
        assert_eq!(
            log_line(&detection()),
            "[scanguard::syn-scan] IN=br-72d5c02de577 MAC=02:42:a0:a1:a2:a3:02:42:13:b0:b1:b2:08:00 \
             SRC=172.19.0.2 DST=172.19.0.254 LEN=44 TOS=0x00 TTL=50 ID=8039 PROTO=TCP SPT=45757 \
             DPT=23 WINDOW=1024 FLAGS=SYN ACTION=ban"
        );
    }

    #[test]
    fn services_and_fingerprints_are_named() {
        let line = log_line(&Detection {
            service: Some("telnet".into()),
            fingerprint: Some("nmap".into()),
            ..detection()
        });
        assert!(
            line.ends_with("FLAGS=SYN SERVICE=telnet FINGERPRINT=nmap ACTION=ban"),
            "{line}"
        );
    }

    #[test]
    fn ipv6_banned_drops_with_suppressed_events() {
        let line = log_line(&Detection {
            event: "banned".into(),
            kind: "null-scan".into(),
            action: "drop".into(),
            src: "2001:db8::2".parse().unwrap(),
            dst: "2001:db8::1".parse().unwrap(),
            ethertype: 0x86dd,
            vlan_id: Some(42),
            tcp_flags: tcp_flags(0),
            suppressed: 12,
            ..detection()
        });
        assert!(line.starts_with("[scanguard::banned] "), "{line}");
        assert!(
            line.contains(":86:dd SRC=2001:db8::2 DST=2001:db8::1 LEN=44 TC=0x00 HOPLIMIT=50"),
            "{line}"
        );
        assert!(
            line.ends_with("FLAGS=NONE VLAN=42 REASON=null-scan ACTION=drop SUPPRESSED=12"),
            "{line}"
        );
    }

    #[test]
    fn refused_probes_name_their_kind_and_real_sender() {
        let line = log_line(&Detection {
            event: "spoofed".into(),
            kind: "null-scan".into(),
            action: "drop".into(),
            src_mac: "02:77:00:00:00:02".into(),
            tcp_flags: tcp_flags(0),
            ..detection()
        });
        assert!(line.starts_with("[scanguard::spoofed] "), "{line}");
        assert!(line.contains("SRC=172.19.0.2 "), "{line}");
        assert!(
            line.ends_with("FLAGS=NONE KIND=null-scan SENDER_MAC=02:77:00:00:00:02 ACTION=drop"),
            "{line}"
        );
        let unverified = Detection {
            event: "unverified".into(),
            ..detection()
        };
        assert!(log_line(&unverified).starts_with("[scanguard::unverified] "));
    }

    #[test]
    fn flags_are_named_like_tcpdump_in_header_order() {
        assert_eq!(tcp_flags(FIN | PSH | URG), "URG,PSH,FIN");
        assert_eq!(tcp_flags(SYN | ACK), "ACK,SYN");
        assert_eq!(tcp_flags(0), "NONE");
    }
}
