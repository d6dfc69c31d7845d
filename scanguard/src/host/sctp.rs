//! The ports SCTP endpoints of this network namespace listen on, from the sctp module's
//! `/proc/net/sctp/eps` (net/sctp/proc.c): sock_diag answers for SCTP only with the sctp_diag
//! module loaded. Without the sctp module the file is absent and nothing can listen.

use std::{collections::BTreeSet, io::ErrorKind};

use anyhow::{Context as _, Result};

const ENDPOINTS: &str = "/proc/net/sctp/eps";
/// `LPORT` in the table's columns: ENDPT SOCK STY SST HBKT LPORT UID INODE LADDRS.
const LOCAL_PORT_COLUMN: usize = 5;

pub fn listening_ports() -> Result<BTreeSet<u16>> {
    match std::fs::read_to_string(ENDPOINTS) {
        Ok(table) => Ok(ports(&table)),
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(error) => Err(error).with_context(|| format!("reading {ENDPOINTS}")),
    }
}

/// The local ports of the table's endpoints, its header and unreadable lines skipped.
fn ports(table: &str) -> BTreeSet<u16> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().nth(LOCAL_PORT_COLUMN)?.parse().ok())
        .filter(|&port| port != 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_local_port_column() {
        let table = " ENDPT     SOCK   STY SST HBKT LPORT   UID INODE LADDRS\n\
            00000000d2a7c9f5 000000006b6f6bb2 1   10  29   36412      0 41230 10.0.0.1 \n\
            0000000033e9d8a8 000000000ef9e6c5 2   10  12   2905       0 41231 ::1 \n\
            short line\n";
        assert_eq!(ports(table), [2905, 36412].into());
    }
}
