//! The C# side, with Mono: the C# bot (clients/csharp) against an in-process game-server,
//! as guests and in its login mode (accounts on a SQLite file), hostile input to the generated C# decoders and the C# runtime (and the Unity PacketQueue),
//! and the golden C# files
//! compiling. Each test compiles its own program once with `mcs` and runs it with `mono`;
//! without Mono they print a loud SKIPPED line (and fail when CI is set).

#[path = "csharp/mono.rs"]
mod mono;
mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use game_server::adapters::db::Store;
use game_server::app::AccountsConfig;
use game_server::game::accounts::{AccountName, LoginMode, LoginResult};
use game_server::packets::{CLogin, CMove, SBroadcastMove, SLogin, SPlayerList};
use packet_gen::Role;
use server_core::Packet;

use mono::{generate, root, runtime_sources, sources_in, work_dir, write_source, Mono};
use support::{eventually, Client};

/// Far above what a run takes (about a second for 50 bots), for a loaded CI machine.
const DEADLINE: Duration = Duration::from_secs(120);

/// Compiles the C# bot (packets.json's client code, the runtime, clients/csharp/Bot) into
/// `dir/Bot.exe`.
fn compile_bot(mono: &Mono, dir: &Path) -> PathBuf {
    let mut sources = generate(&root().join("packets.json"), Role::Client, None, dir);
    sources.extend(runtime_sources());
    sources.extend(sources_in(&root().join("clients/csharp/Bot")));
    let exe = dir.join("Bot.exe");
    mono.compile(&exe, &sources);
    exe
}

/// Runs the bot off the runtime's threads (the in-process server needs them) and prints
/// what it wrote.
async fn run_bot(mono: &Arc<Mono>, exe: &Path, args: &[&str]) -> (Output, String) {
    let mono = Arc::clone(mono);
    let exe = exe.to_owned();
    let args: Vec<String> = args.iter().map(|&a| a.to_owned()).collect();
    let output = tokio::task::spawn_blocking(move || mono.run(&exe, &args, DEADLINE))
        .await
        .expect("the bot's runner thread");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    println!("{stdout}");
    (output, stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_csharp_bots_play_against_the_game_server() {
    let Some(mono) = Mono::find("fifty_csharp_bots_play_against_the_game_server") else {
        return;
    };
    let dir = work_dir("bot");
    let started = Instant::now();
    let exe = compile_bot(&mono, &dir);
    let compiled = started.elapsed();

    // The default 250 ms tick, as in production: the bot's checks do not depend on it.
    let server = support::start_server(|config| config.tick = Duration::from_millis(250)).await;
    let args = vec![
        "--port".to_owned(),
        server.local_addr().port().to_string(),
        "--bots".to_owned(),
        "50".to_owned(),
        "--timeout-secs".to_owned(),
        "30".to_owned(),
    ];
    let output = tokio::task::spawn_blocking(move || mono.run(&exe, &args, DEADLINE))
        .await
        .expect("the bot's runner thread");
    server.shutdown().await;

    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    println!(
        "(compiled in {:.1} s, compile and run {:.1} s)",
        compiled.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        output.status.success(),
        "the C# bot should pass ({}):\n{stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    for phase in [
        "join: 50/50",
        "move: 2500/2500",
        "chat: 2500/2500",
        "ping: 50/50",
        "leave: 25 bots left",
    ] {
        assert!(
            stdout.contains(phase),
            "the bot should report {phase:?}:\n{stdout}"
        );
    }
    assert!(stdout.trim_end().ends_with("PASS"), "{stdout}");
}

/// The bot's login mode against a server with accounts on (a SQLite file, logins optional):
/// four bots make their accounts (one name is taken already, so that bot logs in to it
/// instead), play, leave, log in again and each finds itself where the server last echoed
/// it; the database holds those positions after a graceful shutdown. A wrong password then
/// fails the bot loudly with the result code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csharp_bots_log_in_play_and_come_back_where_they_left() {
    let Some(mono) = Mono::find("csharp_bots_log_in_play_and_come_back_where_they_left") else {
        return;
    };
    let mono = Arc::new(mono);
    let dir = work_dir("bot_login");
    let exe = compile_bot(&mono, &dir);

    const PASSWORD: &str = "correct horse battery";
    const BOTS: usize = 4;
    let db = dir.join("data").join("game.sqlite3");
    let store = Store::open(db.to_str().expect("utf-8 path"))
        .await
        .expect("the test database opens");
    let accounts = AccountsConfig {
        mode: LoginMode::Optional,
        ..AccountsConfig::new(store)
    };
    let server = support::start_server(|config| {
        config.tick = Duration::from_millis(250);
        config.accounts = Some(accounts);
    })
    .await;
    let addr = server.local_addr();
    let stats = server.login_stats().expect("logins on");
    let saves = server.save_metrics().expect("logins on");

    // Bot 2's account exists already, saved away from where the bot will move it.
    let taken = "CsBot_2";
    let mut owner = Client::connect_raw(addr).await;
    owner
        .send(&CLogin {
            name: taken.to_owned(),
            password: PASSWORD.to_owned(),
            create: true,
        })
        .await;
    let answer: SLogin = owner.expect().await;
    assert_eq!(answer.result, LoginResult::Ok.code(), "{answer:?}");
    let _list: SPlayerList = owner.expect().await;
    owner.player_id = answer.player_id;
    owner
        .send(&CMove {
            pos_x: -5.0,
            pos_y: 0.0,
            pos_z: 5.0,
        })
        .await;
    loop {
        let (id, body) = owner.next_frame().await;
        if id == SBroadcastMove::ID
            && SBroadcastMove::decode(&body).expect("valid move").player_id == owner.player_id
        {
            break;
        }
    }
    drop(owner);
    eventually("the first owner's leave is saved", || {
        saves.saved.load(Ordering::Relaxed) >= 1
    })
    .await;

    let port = addr.port().to_string();
    let bots = BOTS.to_string();
    let (output, stdout) = run_bot(
        &mono,
        &exe,
        &[
            "--port",
            &port,
            "--bots",
            &bots,
            "--timeout-secs",
            "30",
            "--login",
            "CsBot",
            PASSWORD,
        ],
    )
    .await;
    assert!(
        output.status.success(),
        "the C# bot should pass in login mode ({}):\n{stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    for phase in [
        "login: 4/4 bots logged in first",
        "3 created, 1 found taken",
        "move: 16/16",
        "leave: 2 bots left",
        "relogin: 4/4 bots logged in again by token (C_LoginToken)",
        "disconnect: all 4",
    ] {
        assert!(
            stdout.contains(phase),
            "the bot should report {phase:?}:\n{stdout}"
        );
    }
    assert!(stdout.trim_end().ends_with("PASS"), "{stdout}");
    // The pre-made account, then every bot twice.
    assert_eq!(stats.of(LoginResult::Ok), 1 + 2 * BOTS as u64);
    assert_eq!(stats.of(LoginResult::NameTaken), 1);

    // A refusal fails the bot loudly, naming the code: the name is taken, so it logs in to
    // the account, with the wrong password.
    let (output, stdout) = run_bot(
        &mono,
        &exe,
        &[
            "--port",
            &port,
            "--bots",
            "1",
            "--timeout-secs",
            "30",
            "--login",
            "CsBot_0",
            "not the password",
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("login refused: S_Login result 3 (no such account, or the wrong password)"),
        "{stdout}"
    );
    assert!(stdout.trim_end().ends_with("FAILED"), "{stdout}");
    assert_eq!(stats.of(LoginResult::WrongCredentials), 1);
    server.shutdown().await;

    // Each bot moved to (i + 0.5, -i / 4, 1000 - i), as sent (the room applies moves as sent).
    let store = Store::open(db.to_str().expect("utf-8 path"))
        .await
        .expect("reopens");
    for i in 0..BOTS {
        let name = format!("CsBot_{i}");
        let record = store
            .character(&AccountName::parse(&name).expect("valid name"))
            .await
            .expect("reads");
        let f = i as f32;
        assert_eq!(
            record.map(|r| r.pos),
            Some([f + 0.5, -f * 0.25, 1000.0 - f]),
            "{name}'s saved position"
        );
    }
    store.close().await;
}

#[test]
fn csharp_decoders_refuse_bad_input_with_typed_exceptions() {
    let Some(mono) = Mono::find("csharp_decoders_refuse_bad_input_with_typed_exceptions") else {
        return;
    };
    let dir = work_dir("bad_input");
    let schema = root().join("packet-gen/tests/schemas/all_types.json");
    let mut sources = generate(
        &schema,
        Role::Client,
        Some(packet_gen::StringEncoding::Utf16Le),
        &dir,
    );
    sources.extend(runtime_sources());
    sources.push(root().join("clients/csharp/Unity/PacketQueue.cs"));
    sources.push(root().join("tests/csharp/BadInput.cs"));
    let exe = dir.join("BadInput.exe");
    mono.compile(&exe, &sources);
    let output = mono.run(&exe, &[], DEADLINE);
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "every bad input should end in a typed exception ({}):\n{stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("checks passed"), "{stdout}");
}

/// The golden files of packet-gen/tests/golden_csharp.rs compile as they are, with only a
/// user-written PacketHandler beside them, in both roles and both string encodings.
#[test]
fn golden_csharp_files_compile() {
    let Some(mono) = Mono::find("golden_csharp_files_compile") else {
        return;
    };
    let golden = root().join("packet-gen/tests/golden/csharp");
    let cases = [
        (
            "client",
            "static class PacketHandler {\n\
             public static void S_CharacterHandler(ServerCore.PacketSession s, IPacket p) { }\n}\n",
        ),
        (
            "server_utf8",
            "static class PacketHandler {\n\
             public static void C_NumbersHandler(ServerCore.PacketSession s, IPacket p) { }\n\
             public static void ByeHandler(ServerCore.PacketSession s, IPacket p) { }\n}\n",
        ),
    ];
    for (case, handler) in cases {
        let dir = work_dir(&format!("golden_{case}"));
        let mut sources = sources_in(&golden.join(case));
        assert_eq!(sources.len(), 2, "two golden files for {case}");
        sources.extend(runtime_sources());
        sources.push(write_source(
            &dir,
            "Main.cs",
            &format!("{handler}static class Program {{ static void Main() {{ }} }}\n"),
        ));
        mono.compile(&dir.join("golden.exe"), &sources);
    }
}

/// Field names that look like the generated code's locals, parameters, types or keywords
/// still compile: fields are always written `this.<name>`, keywords `@name`.
#[test]
fn awkward_field_names_compile() {
    let Some(mono) = Mono::find("awkward_field_names_compile") else {
        return;
    };
    let dir = work_dir("awkward_names");
    let fields = [
        "r",
        "w",
        "size",
        "count",
        "list",
        "item",
        "i",
        "segment",
        "packet",
        "known",
        "make",
        "handler",
        "ArraySegment",
        "Enum",
        "IPacket",
        "System",
        "value",
        "var",
        "dynamic",
        "this",
        "base",
        "class",
        "string",
        "object",
        "Player",
    ]
    .map(|name| format!(r#"{{ "name": "{name}", "type": "string" }}"#))
    .join(", ");
    let schema = format!(
        r#"{{ "string_encoding": "utf-16le", "structs": [ {{ "name": "Player", "fields": [ {{ "name": "r", "type": "u8" }} ] }} ],
            "packets": [
              {{ "name": "S_Awkward", "fields": [ {fields},
                  {{ "name": "items", "type": "list", "of": {{ "name": "Item", "fields": [ {fields} ] }} }},
                  {{ "name": "players", "type": "list", "of": "Player" }} ] }},
              {{ "name": "C_Awkward", "fields": [ {{ "name": "items", "type": "list", "of": "Item" }} ] }} ] }}"#
    );
    let schema_path = write_source(&dir, "awkward.json", &schema);
    let mut sources = generate(&schema_path, Role::Client, None, &dir);
    sources.extend(runtime_sources());
    sources.push(write_source(
        &dir,
        "Main.cs",
        "static class PacketHandler {\n\
         public static void S_AwkwardHandler(ServerCore.PacketSession s, IPacket p) { }\n}\n\
         static class Program { static int Main() {\n\
         S_Awkward a = new S_Awkward { r = \"x\", @this = \"y\", @class = \"z\" };\n\
         a.items.Add(new S_Awkward.Item { count = \"c\" });\n\
         S_Awkward b = new S_Awkward();\n\
         b.Read(a.Write());\n\
         return b.r == \"x\" && b.@this == \"y\" && b.@class == \"z\" && b.items[0].count == \"c\" ? 0 : 1;\n} }\n",
    ));
    let exe = dir.join("awkward.exe");
    mono.compile(&exe, &sources);
    let output = mono.run(&exe, &[], DEADLINE);
    assert!(
        output.status.success(),
        "a packet with awkward field names should round-trip: {output:?}"
    );
}
