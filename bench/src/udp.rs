//! `bench udp`: movement over UDP against movement over TCP, at N bots, with and without
//! packet loss on loopback, side by side in one run.
//!
//! Loss must not touch anyone else's loopback, so the harness re-runs itself under
//! `unshare -n` (a private network namespace: its own `lo`, needs root) and makes the loss
//! there: `tc qdisc ... netem loss P%` if the kernel has sch_netem, else an nftables rule
//! on the output hook that drops P% of packets at random (on `lo` every packet passes the
//! output hook once, so both directions of TCP and UDP lose P%). It prints which it used;
//! if neither works it says so and fails, never running "lossy" arms without loss. Each
//! arm starts a fresh release `game-server` child (with `--udp-addr` for UDP arms) and runs
//! the dummy-client in this process (`--udp` for UDP arms).

use std::process::{Command, ExitStatus};
use std::time::Duration;

use dummy_client::RunConfig;

use crate::server_proc::{run_bots, BotsRun, ServerProcess};

/// Flags of `bench udp`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Bots in the room.
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// Seconds of each arm's measured window, after ramp-up.
    #[arg(long, default_value_t = 10)]
    secs: u64,
    /// Loss percentages to run, each with TCP and UDP (e.g. 0,2).
    #[arg(long, default_value = "0,2", value_delimiter = ',', value_parser = clap::value_parser!(u32).range(0..=50))]
    loss: Vec<u32>,
    /// Milliseconds between one bot's moves (the course: 250).
    #[arg(long, default_value_t = 250)]
    move_interval_ms: u64,
    /// Room flush interval of the server, in milliseconds (the course: 250).
    #[arg(long, default_value_t = 250)]
    tick_ms: u64,
    /// Set by the harness when it re-runs itself inside its network namespace.
    #[arg(long, hide = true)]
    in_namespace: bool,
}

/// The two transports compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Tcp,
    Udp,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "TCP",
            Transport::Udp => "UDP",
        }
    }
}

/// How loss is made on `lo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LossMethod {
    /// No loss asked for.
    None,
    /// `tc qdisc ... netem loss`.
    Netem,
    /// An nftables rule dropping at random on the output hook.
    Nft,
}

impl LossMethod {
    fn name(self) -> &'static str {
        match self {
            LossMethod::None => "-",
            LossMethod::Netem => "tc netem",
            LossMethod::Nft => "nft numgen",
        }
    }
}

/// The commands that make `pct`% loss on `lo` with `method` (sans-IO, so tested).
fn loss_commands(method: LossMethod, pct: u32) -> Vec<Vec<String>> {
    let cmd = |parts: &[&str]| parts.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    match method {
        LossMethod::None => Vec::new(),
        LossMethod::Netem => vec![cmd(&[
            "tc",
            "qdisc",
            "replace",
            "dev",
            "lo",
            "root",
            "netem",
            "loss",
            &format!("{pct}%"),
        ])],
        LossMethod::Nft => vec![
            cmd(&["nft", "add", "table", "inet", "bench_loss"]),
            cmd(&[
                "nft",
                "add",
                "chain",
                "inet",
                "bench_loss",
                "out",
                "{ type filter hook output priority 0; }",
            ]),
            cmd(&[
                "nft",
                "add",
                "rule",
                "inet",
                "bench_loss",
                "out",
                "numgen",
                "random",
                "mod",
                "100",
                "<",
                &pct.to_string(),
                "drop",
            ]),
        ],
    }
}

/// The commands that take any loss away again (each may fail: nothing to remove).
fn clear_commands() -> Vec<Vec<String>> {
    vec![
        ["tc", "qdisc", "del", "dev", "lo", "root"]
            .map(str::to_owned)
            .to_vec(),
        ["nft", "delete", "table", "inet", "bench_loss"]
            .map(str::to_owned)
            .to_vec(),
    ]
}

fn run_all(commands: &[Vec<String>]) -> Result<(), String> {
    for c in commands {
        let Some((program, args)) = c.split_first() else {
            continue;
        };
        let output = Command::new(program)
            .args(args)
            .output()
            .map_err(|e| format!("{program}: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "`{}` failed: {}",
                c.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
    }
    Ok(())
}

/// Makes `pct`% loss on this namespace's `lo`: netem if the kernel has it, else nft.
fn set_loss(pct: u32) -> Result<LossMethod, String> {
    for c in clear_commands() {
        let _ = run_all(&[c]);
    }
    if pct == 0 {
        return Ok(LossMethod::None);
    }
    let netem = run_all(&loss_commands(LossMethod::Netem, pct));
    if netem.is_ok() {
        return Ok(LossMethod::Netem);
    }
    match run_all(&loss_commands(LossMethod::Nft, pct)) {
        Ok(()) => Ok(LossMethod::Nft),
        Err(nft) => Err(format!(
            "cannot make {pct}% loss on lo: tc netem: {}; nft: {nft}",
            netem.err().unwrap_or_default()
        )),
    }
}

/// One arm's results.
struct Row {
    transport: Transport,
    loss: u32,
    method: LossMethod,
    clients: usize,
    bound: u64,
    delivered: f64,
    lost: u64,
    extra: u64,
    echo_p50_ms: f64,
    echo_p99_ms: f64,
    echo_samples: u64,
    rtt_p99_ms: f64,
    server_cpu: f64,
    bot_cpu: f64,
    /// Errors other than lost moves (which over UDP are not errors).
    errors: u64,
}

/// Runs every (loss, transport) arm and prints the table.
pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if !args.in_namespace {
        return Ok(reexec_in_namespace()?);
    }
    run_all(&[["ip", "link", "set", "lo", "up"]
        .map(str::to_owned)
        .to_vec()])
    .map_err(|e| format!("in the bench's network namespace: {e}"))?;
    println!(
        "udp: N = {}, window {} s, move every {} ms, tick {} ms; loopback in a private network \
         namespace; server = release game-server child, bots = dummy-client in this process",
        args.clients, args.secs, args.move_interval_ms, args.tick_ms
    );
    let mut rows = Vec::new();
    for &loss in &args.loss {
        let method = set_loss(loss)?;
        println!("loss {loss}%: {}", method.name());
        for transport in [Transport::Tcp, Transport::Udp] {
            let row = run_arm(&args, transport, loss, method)?;
            eprintln!(
                "{} at {loss}% loss: {:.2}% delivered, move echo p99 {:.0} ms",
                transport.name(),
                row.delivered * 100.0,
                row.echo_p99_ms
            );
            rows.push(row);
        }
    }
    let _ = set_loss(0);
    print!("{}", table(&rows));
    Ok(())
}

/// Runs this same command again under `unshare -n`, and passes on its exit status.
fn reexec_in_namespace() -> Result<(), String> {
    let me = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let status: ExitStatus = Command::new("unshare")
        .arg("-n")
        .arg("--")
        .arg(&me)
        .args(std::env::args_os().skip(1))
        .arg("--in-namespace")
        .status()
        .map_err(|e| {
            format!("cannot run `unshare -n` (util-linux; needs root) to isolate loopback: {e}")
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "the run inside the network namespace failed ({status}); `unshare -n` needs root"
        ))
    }
}

fn run_arm(
    args: &Args,
    transport: Transport,
    loss: u32,
    method: LossMethod,
) -> Result<Row, Box<dyn std::error::Error>> {
    let tick = args.tick_ms.to_string();
    let mut server_args: Vec<String> = ["--tick-ms", &tick, "--max-connections", "10000"]
        .map(str::to_owned)
        .to_vec();
    if transport == Transport::Udp {
        let probe = std::net::UdpSocket::bind("127.0.0.1:0")?;
        let udp_addr = probe.local_addr()?;
        drop(probe);
        server_args.extend(["--udp-addr".to_owned(), udp_addr.to_string()]);
    }
    let server_args: Vec<&str> = server_args.iter().map(String::as_str).collect();
    let server = ServerProcess::start(&server_args)?;
    let config = RunConfig {
        addr: server.addr,
        clients: args.clients,
        move_interval: Duration::from_millis(args.move_interval_ms),
        duration: Duration::from_secs(args.secs),
        status_line: false,
        udp: transport == Transport::Udp,
        // A lossy link makes TCP connects and enters slower (a lost SYN waits 1 s).
        enter_timeout: Duration::from_secs(10),
        ..RunConfig::default()
    };
    let BotsRun {
        report,
        bots_before,
        bots_after,
        server_before,
        server_after,
    } = run_bots(&server, dummy_client::run(config))?;
    if !server.stop(Duration::from_secs(5)) {
        eprintln!("warning: game-server did not exit cleanly within 5 s");
    }
    let ms = |us: u64| us as f64 / 1000.0;
    Ok(Row {
        transport,
        loss,
        method,
        clients: args.clients,
        bound: report.udp.bound,
        delivered: report.moves.delivered_ratio,
        lost: report.moves.lost,
        extra: report.moves.extra,
        echo_p50_ms: ms(report.move_echo.p50_us),
        echo_p99_ms: ms(report.move_echo.p99_us),
        echo_samples: report.move_echo.samples,
        rtt_p99_ms: ms(report.rtt.p99_us),
        server_cpu: server_after.cpu_percent_since(&server_before),
        bot_cpu: bots_after.cpu_percent_since(&bots_before),
        errors: report
            .errors
            .total()
            .saturating_sub(report.errors.lost_moves),
    })
}

/// The Markdown table for BENCHMARKS.md.
fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "\n| transport | loss | loss made by | N | bound over UDP | delivered | lost | \
         duplicate or foreign | move echo p50 | move echo p99 | echoes | ping rtt p99 | \
         server CPU | bots CPU | other errors |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {}% | {} | {} | {} | {:.4}% | {} | {} | {:.1} ms | {:.1} ms | {} | {:.1} ms | {:.0}% | {:.0}% | {} |\n",
            r.transport.name(),
            r.loss,
            r.method.name(),
            r.clients,
            if r.transport == Transport::Udp {
                r.bound.to_string()
            } else {
                "-".to_owned()
            },
            r.delivered * 100.0,
            r.lost,
            r.extra,
            r.echo_p50_ms,
            r.echo_p99_ms,
            r.echo_samples,
            r.rtt_p99_ms,
            r.server_cpu,
            r.bot_cpu,
            r.errors,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nft_loss_drops_the_asked_percentage_on_the_output_hook() {
        let commands = loss_commands(LossMethod::Nft, 2);
        assert_eq!(commands.len(), 3, "table, chain, rule");
        assert!(commands[1].join(" ").contains("hook output"));
        assert!(
            commands[2]
                .join(" ")
                .ends_with("numgen random mod 100 < 2 drop"),
            "{:?}",
            commands[2]
        );
        assert_eq!(
            loss_commands(LossMethod::Netem, 2)[0].join(" "),
            "tc qdisc replace dev lo root netem loss 2%"
        );
        assert!(loss_commands(LossMethod::None, 0).is_empty());
    }

    #[test]
    fn the_table_has_one_line_per_arm_with_its_transport_and_loss() {
        let row = |transport, loss, method| Row {
            transport,
            loss,
            method,
            clients: 1000,
            bound: 1000,
            delivered: 0.98,
            lost: 20,
            extra: 0,
            echo_p50_ms: 125.0,
            echo_p99_ms: 260.0,
            echo_samples: 40_000,
            rtt_p99_ms: 3.0,
            server_cpu: 40.0,
            bot_cpu: 90.0,
            errors: 0,
        };
        let text = table(&[
            row(Transport::Tcp, 2, LossMethod::Nft),
            row(Transport::Udp, 2, LossMethod::Nft),
        ]);
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("| ")).collect();
        assert_eq!(lines.len(), 3, "header and two arms:\n{text}");
        assert!(lines[1].starts_with("| TCP | 2% | nft numgen | 1000 | - | 98.0000% |"));
        assert!(lines[2].starts_with("| UDP | 2% | nft numgen | 1000 | 1000 |"));
    }
}
