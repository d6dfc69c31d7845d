//! The port-scan topology most kernel tests use: a victim, an attacker and a client on one
//! bridge.

use crate::{Bridge, Host, Lab, Result};

/// The port-scan topology: `victim`, `attacker` and `client`, each alone in
/// its namespace with one interface, all plugged into one bridge that lives in
/// a fourth `switch` namespace. The victim's single interface thus sees all
/// ingress from attacker and client, as a server's NIC would.
///
/// Addresses on segment 0: victim 10.77.0.1 / fd77::1, attacker .2 / ::2,
/// client .3 / ::3; hosts added later get the next numbers.
#[derive(Debug)]
pub struct ScanLab {
    pub victim: Host,
    pub attacker: Host,
    pub client: Host,
    pub bridge: Bridge,
    lab: Lab,
}

impl ScanLab {
    /// Builds the topology in a new [`Lab`]; dropping the result tears it down.
    pub fn build() -> Result<Self> {
        let mut lab = Lab::new()?;
        let switch = lab.add_netns("switch")?;
        let mut bridge = lab.add_bridge(&switch)?;
        let mut plug_new = |role: &str| {
            let netns = lab.add_netns(role)?;
            lab.plug(&mut bridge, &netns)
        };
        let victim = plug_new("victim")?;
        let attacker = plug_new("attacker")?;
        let client = plug_new("client")?;
        Ok(Self {
            victim,
            attacker,
            client,
            bridge,
            lab,
        })
    }

    /// One more host on the bridge, e.g. a second attacker for a distributed scan.
    pub fn add_host(&mut self, role: &str) -> Result<Host> {
        let netns = self.lab.add_netns(role)?;
        self.lab.plug(&mut self.bridge, &netns)
    }

    /// The lab underneath, e.g. to list its namespaces.
    pub fn lab(&self) -> &Lab {
        &self.lab
    }
}
