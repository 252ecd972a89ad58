//! The C# side, with Mono: the C# bot (clients/csharp) against an in-process game-server,
//! hostile input to the generated C# decoders and the C# runtime (and the Unity PacketQueue),
//! and the golden C# files
//! compiling. Each test compiles its own program once with `mcs` and runs it with `mono`;
//! without Mono they print a loud SKIPPED line (and fail when CI is set).

#[path = "csharp/mono.rs"]
mod mono;
mod support;

use std::time::{Duration, Instant};

use packet_gen::Role;

use mono::{generate, root, runtime_sources, sources_in, work_dir, write_source, Mono};

/// Far above what a run takes (about a second for 50 bots), for a loaded CI machine.
const DEADLINE: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_csharp_bots_play_against_the_game_server() {
    let Some(mono) = Mono::find("fifty_csharp_bots_play_against_the_game_server") else {
        return;
    };
    let dir = work_dir("bot");
    let started = Instant::now();
    let mut sources = generate(&root().join("packets.json"), Role::Client, None, &dir);
    sources.extend(runtime_sources());
    sources.extend(sources_in(&root().join("clients/csharp/Bot")));
    let exe = dir.join("Bot.exe");
    mono.compile(&exe, &sources);
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
