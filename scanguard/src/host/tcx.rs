//! The programs at an interface's TC ingress, as the kernel lists its TCX links.

use aya::programs::{SchedClassifier, tc::TcAttachType};

/// The ids of the programs at `interface`'s TCX ingress, in the order they run; none where the
/// kernel cannot say (an interface gone, no privileges).
pub fn ingress_program_ids(interface: &str) -> Vec<u32> {
    SchedClassifier::query_tcx(interface, TcAttachType::Ingress)
        .map(|(_, programs)| programs.iter().map(|program| program.id()).collect())
        .unwrap_or_default()
}
