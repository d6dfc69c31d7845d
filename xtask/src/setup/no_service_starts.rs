//! Installing a package without starting its service: Debian's maintainer scripts start
//! services through invoke-rc.d, which asks `/usr/sbin/policy-rc.d` first.

use std::{os::unix::fs::PermissionsExt as _, path::Path};

use anyhow::Result;

const POLICY_RC_D: &str = "/usr/sbin/policy-rc.d";

/// A `policy-rc.d` that refuses every service start, removed on drop; nothing if the host
/// has one of its own.
pub struct NoServiceStarts(bool);

impl NoServiceStarts {
    pub fn install() -> Result<NoServiceStarts> {
        let path = Path::new(POLICY_RC_D);
        if path.exists() {
            return Ok(NoServiceStarts(false));
        }
        // invoke-rc.d's exit code 101: "action forbidden by policy".
        std::fs::write(path, "#!/bin/sh\nexit 101\n")?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
        Ok(NoServiceStarts(true))
    }
}

impl Drop for NoServiceStarts {
    fn drop(&mut self) {
        if self.0 {
            let _ = std::fs::remove_file(POLICY_RC_D);
        }
    }
}
