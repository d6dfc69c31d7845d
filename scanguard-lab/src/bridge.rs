//! A Linux bridge in a lab namespace: one L2 segment hosts plug into.

use crate::Netns;

/// A Linux bridge inside a lab namespace: one L2 segment that hosts plug into
/// with [`crate::Lab::plug`].
#[derive(Debug)]
pub struct Bridge {
    pub(crate) netns: Netns,
    pub(crate) name: String,
    pub(crate) segment: u8,
    /// Host number the next plugged host gets on this segment.
    pub(crate) next_host: u8,
}

impl Bridge {
    /// Docker-shaped: `br-<12 hex>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace the bridge lives in.
    pub fn netns(&self) -> &Netns {
        &self.netns
    }
}
