//! `ClusterArgs`: the flags that make this process one node of a cluster, flattened into the
//! binary's own. Either the flags (`--nats URL --node-id K --own-regions 0,1`) or a file
//! that lists every node (`--cluster FILE --node-id K`).

use std::path::PathBuf;

use crate::adapters::cluster::config::{parse_regions, ClusterConfig, ClusterConfigError};

/// Cluster flags (world mode only).
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterArgs {
    /// Join a cluster through this NATS server, e.g. nats://127.0.0.1:4222, or several
    /// servers of one NATS cluster, comma-separated, to fail over between them (needs
    /// --world grid, --node-id and --own-regions). Without it this process runs every
    /// region.
    #[arg(
        long,
        value_name = "URL",
        conflicts_with = "cluster",
        requires = "own_regions"
    )]
    pub nats: Option<String>,
    /// This process's node id in the cluster, unique, 0..63 (with --nats or --cluster).
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub node_id: u16,
    /// The regions this node runs, e.g. 0,1 (numbers below --regions; with --nats).
    #[arg(long, value_name = "LIST", requires = "nats")]
    pub own_regions: Option<String>,
    /// A JSON file listing every node's regions and the NATS address:
    /// {"nats": "nats://127.0.0.1:4222", "nodes": [{"id": 0, "regions": [0]}, {"id": 1,
    /// "regions": [1]}]}. Checked whole: every region owned by exactly one node.
    #[arg(long, value_name = "FILE")]
    pub cluster: Option<PathBuf>,
    /// NATS user name (with --nats-password); overrides the cluster file's "user".
    #[arg(long, value_name = "NAME")]
    pub nats_user: Option<String>,
    /// NATS password of --nats-user; overrides the cluster file's "password". Better from
    /// the environment than on a command line others can list.
    #[arg(
        long,
        value_name = "SECRET",
        env = "GAME_NATS_PASSWORD",
        hide_env_values = true
    )]
    pub nats_password: Option<String>,
    /// NATS token (nats-server --auth); overrides the cluster file's "token".
    #[arg(
        long,
        value_name = "SECRET",
        env = "GAME_NATS_TOKEN",
        hide_env_values = true
    )]
    pub nats_token: Option<String>,
    /// CA file (PEM) the NATS server's certificate must chain to: the connection is TLS;
    /// overrides the cluster file's "tls_ca".
    #[arg(long, value_name = "FILE")]
    pub nats_tls_ca: Option<PathBuf>,
}

impl ClusterArgs {
    /// True with --nats or --cluster.
    pub fn is_set(&self) -> bool {
        self.nats.is_some() || self.cluster.is_some()
    }

    /// The cluster these flags describe, `None` without --nats or --cluster. Checked
    /// against the world by `ServerConfig::validate`.
    pub fn config(&self) -> Result<Option<ClusterConfig>, ClusterConfigError> {
        let mut config = if let Some(path) = &self.cluster {
            ClusterConfig::from_file(path, self.node_id)?
        } else {
            let Some(url) = &self.nats else {
                return Ok(None);
            };
            let own = parse_regions(self.own_regions.as_deref().unwrap_or(""))?;
            ClusterConfig::new(url.clone(), self.node_id, own)
        };
        let auth = &mut config.auth;
        if let Some(user) = &self.nats_user {
            auth.user = Some(user.clone());
        }
        if let Some(password) = &self.nats_password {
            auth.password = Some(password.clone());
        }
        if let Some(token) = &self.nats_token {
            auth.token = Some(token.clone());
        }
        if let Some(ca) = &self.nats_tls_ca {
            auth.tls_ca = Some(ca.clone());
        }
        config.auth.validate()?;
        Ok(Some(config))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Args {
        #[command(flatten)]
        cluster: ClusterArgs,
    }

    fn parse(args: &[&str]) -> Result<Option<ClusterConfig>, String> {
        let mut all = vec!["game-server"];
        all.extend_from_slice(args);
        let args = Args::try_parse_from(all).map_err(|e| e.to_string())?;
        args.cluster.config().map_err(|e| e.to_string())
    }

    #[test]
    fn no_flag_no_cluster() {
        assert_eq!(parse(&[]), Ok(None));
    }

    #[test]
    fn flags_make_a_node() {
        let c = parse(&[
            "--nats",
            "nats://127.0.0.1:4222",
            "--node-id",
            "1",
            "--own-regions",
            "2,3",
        ])
        .expect("valid")
        .expect("a cluster");
        assert_eq!((c.node_id, c.own), (1, 0b1100));
        assert_eq!(c.validate(4), Ok(()));
        assert!(c.validate(3).is_err(), "region 3 of a 3-region world");
    }

    #[test]
    fn nats_credentials_come_from_flags_and_are_never_printed() {
        let c = parse(&[
            "--nats",
            "nats://x",
            "--own-regions",
            "0",
            "--nats-user",
            "node",
            "--nats-password",
            "secret-password",
            "--nats-tls-ca",
            "ca.pem",
        ])
        .expect("valid")
        .expect("a cluster");
        assert_eq!(c.auth.user.as_deref(), Some("node"));
        assert_eq!(c.auth.password.as_deref(), Some("secret-password"));
        assert_eq!(c.auth.tls_ca, Some(PathBuf::from("ca.pem")));
        assert!(!format!("{c:?}").contains("secret-password"));
    }

    #[test]
    fn bad_flags_are_refused() {
        for bad in [
            &["--nats", "nats://x"][..],
            &["--own-regions", "0"],
            &["--nats", "nats://x", "--own-regions", "0,zero"],
            &["--nats", "nats://x", "--own-regions", "0,0"],
            &[
                "--nats",
                "nats://x",
                "--own-regions",
                "0",
                "--cluster",
                "c.json",
            ],
            &["--node-id", "-1"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
        let half = parse(&[
            "--nats",
            "nats://x",
            "--own-regions",
            "0",
            "--nats-user",
            "u",
        ]);
        assert!(
            half.as_ref().is_err_and(|e| e.contains("password")),
            "a user without its password: {half:?}"
        );
        let both = parse(&[
            "--nats",
            "nats://x",
            "--own-regions",
            "0",
            "--nats-user",
            "u",
            "--nats-password",
            "p",
            "--nats-token",
            "t",
        ]);
        assert!(both.is_err(), "a token and a user at once");
        let missing = parse(&["--cluster", "/nonexistent/cluster.json"]);
        assert!(
            missing
                .as_ref()
                .is_err_and(|e| e.contains("/nonexistent/cluster.json")),
            "the error names the file: {missing:?}"
        );
    }
}
