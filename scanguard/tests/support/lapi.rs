//! A throwaway CrowdSec Local API for one test: Debian's `crowdsec` run as the LAPI alone
//! (`-no-cs -no-capi`, sqlite) in a lab host's namespace, with a config directory of its own
//! in the temp directory, so it never meets the system's. `cscli` drives it as an operator
//! would. Stopped and removed on drop, even when the test fails.

#![allow(
    dead_code,
    reason = "only the lab test crate runs a LAPI; the others share this module"
)]

use std::{
    net::{SocketAddr, TcpStream},
    path::PathBuf,
    process::{Child, Stdio},
    time::Duration,
};

use nix::{sys::signal::Signal, unistd::Pid};
use scanguard_lab::{Host, run_checked, wait_until};

/// What `cscli` logs in as to add and delete decisions.
const CSCLI_MACHINE: &str = "cscli";
const CSCLI_PASSWORD: &str = "cscli-test-password";

pub struct Lapi<'a> {
    dir: PathBuf,
    host: &'a Host,
    listen: SocketAddr,
    child: Option<Child>,
}

impl<'a> Lapi<'a> {
    /// Starts a LAPI listening on `listen` in `host`'s namespace, with a machine for `cscli`.
    pub fn start(host: &'a Host, listen: SocketAddr) -> Lapi<'a> {
        assert!(
            std::path::Path::new("/usr/bin/crowdsec").exists(),
            "the CrowdSec tests need Debian's crowdsec package: run `cargo xtask setup`"
        );
        let dir = std::env::temp_dir().join(format!(
            "scanguard-lapi-{}-{}",
            std::process::id(),
            host.netns.name()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).expect("the LAPI's directory");
        let mut lapi = Lapi {
            dir,
            host,
            listen,
            child: None,
        };
        lapi.write_config();
        lapi.resume();
        lapi.cscli(&[
            "machines",
            "add",
            CSCLI_MACHINE,
            "--password",
            CSCLI_PASSWORD,
            "-f",
            &lapi.path("local_api_credentials.yaml"),
            "--url",
            &lapi.url(),
        ]);
        lapi
    }

    /// `http://address:port/`, as scanguard's `[crowdsec] api_url` takes it.
    pub fn url(&self) -> String {
        format!("http://{}/", self.listen)
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn write_config(&self) {
        let dir = self.dir.display();
        let config = format!(
            "common:
  daemonize: false
  log_media: file
  log_level: info
  log_dir: {dir}/
  working_dir: .
config_paths:
  config_dir: {dir}/
  data_dir: {dir}/data/
  simulation_path: {dir}/simulation.yaml
  hub_dir: {dir}/hub/
  index_path: {dir}/hub/.index.json
  notification_dir: {dir}/notifications/
  plugin_dir: /usr/lib/crowdsec/plugins/
db_config:
  log_level: info
  type: sqlite
  db_path: {dir}/data/crowdsec.db
  use_wal: true
api:
  client:
    credentials_path: {dir}/local_api_credentials.yaml
  server:
    log_level: info
    listen_uri: {listen}
    profiles_path: {dir}/profiles.yaml
    trusted_ips:
      - 127.0.0.1
      - ::1
prometheus:
  enabled: false
",
            listen = self.listen
        );
        let files = [
            ("config.yaml", config),
            // As Debian ships it: alerts of a source's misbehaviour become 4-hour bans.
            (
                "profiles.yaml",
                "name: default_ip_remediation\nfilters:\n - Alert.Remediation == true && \
                 Alert.GetScope() == \"Ip\"\ndecisions:\n - type: ban\n   duration: 4h\n\
                 on_success: break\n"
                    .to_string(),
            ),
            ("simulation.yaml", "simulation: off\n".to_string()),
            (
                "local_api_credentials.yaml",
                format!("url: {}\n", self.url()),
            ),
        ];
        for (name, text) in files {
            std::fs::write(self.dir.join(name), text).expect("the LAPI's config");
        }
    }

    /// Starts (again) the LAPI on its database, and waits until it listens.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "the LAPI runs already");
        let child = self
            .host
            .command("crowdsec")
            .args(["-c", &self.path("config.yaml")])
            .args(["-no-cs", "-no-capi"])
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.join("stderr.log")).expect("log"))
            .spawn()
            .expect("spawn crowdsec");
        self.child = Some(child);
        let listening = wait_until(Duration::from_secs(15), Duration::from_millis(50), || {
            let _guard = self.host.enter().expect("enter the LAPI's namespace");
            TcpStream::connect_timeout(&self.listen, Duration::from_millis(200)).is_ok()
        });
        assert!(
            listening,
            "the LAPI did not listen on {}: {}",
            self.listen,
            std::fs::read_to_string(self.dir.join("crowdsec_api.log")).unwrap_or_default()
        );
    }

    /// Stops the LAPI (its database stays, for `resume`).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = nix::sys::signal::kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
            let exited = wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
                child.try_wait().ok().flatten().is_some()
            });
            if !exited {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    /// Runs `cscli -c CONFIG <args>` in the LAPI's namespace; its stdout.
    pub fn cscli(&self, args: &[&str]) -> String {
        let mut command = self.host.command("cscli");
        command.args(["-c", &self.path("config.yaml")]).args(args);
        let output = run_checked(&mut command).unwrap_or_else(|error| panic!("{error}"));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// A new bouncer's API key.
    pub fn bouncer_key(&self, name: &str) -> String {
        self.cscli(&["bouncers", "add", name, "-o", "raw"])
            .trim()
            .to_string()
    }

    /// A new machine that logs in with `password`.
    pub fn add_machine(&self, name: &str, password: &str) {
        self.cscli(&[
            "machines",
            "add",
            name,
            "--password",
            password,
            "-f",
            "/dev/null",
        ]);
    }

    /// The decisions in force, as `cscli decisions list -o json` gives them: one entry per
    /// alert, each with its decisions.
    pub fn alerts(&self) -> serde_json::Value {
        serde_json::from_str(&self.cscli(&["decisions", "list", "-a", "-o", "json"]))
            .unwrap_or(serde_json::Value::Null)
    }
}

impl Drop for Lapi<'_> {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
