//! The TCP segments whose verdict a port's roles and the config settle alone: neither the flag
//! classifier nor the flow table nor the sweep map could make a detection of them. The loader
//! works them out for every combination of roles (`Config::settle`), so the program passes most
//! benign segments after one load and a shift, however many checks a probe goes through.

use crate::{
    classify::{CONTROL, classify_stateless, classify_tcp, is_connection_request},
    config::Config,
    ports::{ROLE_COMBINATIONS, ROLE_OPEN, ROLE_PROTECTED, SERVED},
};

impl Config {
    /// This config with `tcp_settled` worked out from its other fields.
    pub fn settle(self) -> Config {
        let mut tcp_settled = [0; ROLE_COMBINATIONS];
        for (roles, settled) in (0u8..).zip(tcp_settled.iter_mut()) {
            *settled = (0..=CONTROL)
                .filter(|control| !may_detect(*control, roles, &self))
                .fold(0, |mask, control| mask | 1 << control);
        }
        Config {
            tcp_settled,
            ..self
        }
    }

    /// Whether a TCP segment with `flags` to a port with `roles` passes whatever the program's
    /// state: a settled segment is never a detection.
    #[inline(always)]
    pub fn settles(&self, roles: u8, flags: u8) -> bool {
        let settled = self.tcp_settled[usize::from(roles) % ROLE_COMBINATIONS];
        settled >> (flags & CONTROL) & 1 != 0
    }
}

/// Whether the program's TCP detection (`detect_tcp` in scanguard-ebpf) can return anything
/// for these control flags and roles under `config`: each line is one of its ways to a
/// detection.
fn may_detect(control: u8, roles: u8, config: &Config) -> bool {
    if roles & ROLE_PROTECTED != 0 {
        return false;
    }
    let flows = config.flows_tracked != 0;
    let sweeps = (config.sweep_ports != 0 || config.slow_sweep_ports != 0) && roles & SERVED == 0;
    classify_tcp(control, roles).is_some()
        || flows && classify_stateless(control).is_some()
        || flows && config.default_deny != 0 && roles & ROLE_OPEN == 0
        || is_connection_request(control) && (sweeps || config.fingerprint_mask != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        classify::{ACK, FIN, PSH, RST, SYN},
        ports::{ROLE_SERVED, ROLE_TRAP, ROLE_WATCHED},
    };

    fn tracked() -> Config {
        Config {
            flows_tracked: 1,
            ..Config::default()
        }
        .settle()
    }

    #[test]
    fn an_unsettled_config_judges_every_segment() {
        let config = Config::default();
        for roles in 0..u8::MAX {
            for flags in 0..=u8::MAX {
                assert!(!config.settles(roles, flags));
            }
        }
    }

    #[test]
    fn a_served_port_settles_the_segments_of_its_connections() {
        let config = tracked();
        for flags in [SYN, SYN | ACK, ACK | PSH, FIN | PSH | ACK, RST, RST | ACK] {
            assert!(config.settles(ROLE_SERVED, flags), "{flags:#04x}");
        }
        // Stateless probes need the flow table; flag probes are probes on any port.
        for flags in [ACK, FIN | ACK, 0, FIN, FIN | PSH, SYN | FIN] {
            assert!(!config.settles(ROLE_SERVED, flags), "{flags:#04x}");
        }
    }

    #[test]
    fn what_only_state_can_tell_is_left_to_the_program() {
        let config = tracked();
        // A SYN to a port nobody serves counts toward a sweep.
        assert!(!config.settles(0, SYN));
        assert!(config.settles(0, SYN | ACK));
        // Without sweeps it is settled, unless fingerprints are wanted.
        let no_sweeps = Config {
            sweep_ports: 0,
            slow_sweep_ports: 0,
            ..tracked()
        }
        .settle();
        assert!(no_sweeps.settles(0, SYN));
        let slow_sweeps_only = Config {
            sweep_ports: 0,
            ..tracked()
        }
        .settle();
        assert!(!slow_sweeps_only.settles(0, SYN));
        let fingerprints = Config {
            fingerprint_mask: 1 << 1,
            ..no_sweeps
        }
        .settle();
        assert!(!fingerprints.settles(ROLE_SERVED, SYN));
        // Before the flows are tracked, a bare ACK cannot be judged: it passes.
        let untracked = Config::default().settle();
        assert!(untracked.settles(ROLE_SERVED, ACK));
        // Default-deny judges everything to a closed port, nothing more to an open one.
        let deny = Config {
            default_deny: 1,
            ..tracked()
        }
        .settle();
        assert!(!deny.settles(0, ACK | PSH));
        assert!(deny.settles(ROLE_OPEN, ACK | PSH));
    }

    #[test]
    fn nothing_the_classifier_detects_is_ever_settled() {
        for config in [Config::default().settle(), tracked()] {
            for roles in 0..u8::try_from(ROLE_COMBINATIONS).unwrap() {
                for flags in 0..=u8::MAX {
                    if classify_tcp(flags, roles).is_some() {
                        assert!(!config.settles(roles, flags), "{flags:#04x} {roles:#04x}");
                    }
                }
            }
        }
        // Protected ports settle everything.
        assert!(tracked().settles(ROLE_PROTECTED | ROLE_WATCHED | ROLE_TRAP, 0));
    }
}
