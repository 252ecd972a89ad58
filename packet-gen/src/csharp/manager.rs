//! `ClientPacketManager.cs` / `ServerPacketManager.cs`: the course's `PacketManager`, for the
//! packets one side receives, with a frame check and an exception for an unknown id where
//! the course dropped the packet silently.

use super::code::Code;
use super::naming::ident;
use crate::model::{Role, Schema};

/// The manager file's name for `role`.
pub(crate) fn file_name(role: Role) -> &'static str {
    match role {
        Role::Server => "ServerPacketManager.cs",
        Role::Client => "ClientPacketManager.cs",
    }
}

/// The body of the manager file (after the header and usings).
pub(crate) fn manager(code: &mut Code, schema: &Schema, role: Role) {
    let (side, other) = match role {
        Role::Server => ("server", "client"),
        Role::Client => ("client", "server"),
    };
    let received: Vec<&str> = schema
        .packets
        .iter()
        .filter(|p| role.receives(p.direction))
        .map(|p| p.name.as_str())
        .collect();

    code.line(format!(
        "/// <summary>Decodes the packets the {side} receives and calls PacketHandler.&lt;Name&gt;Handler for each.</summary>"
    ));
    code.open("public class PacketManager");
    code.line("static readonly PacketManager _instance = new PacketManager();");
    code.line(
        "/// <summary>The one manager; its tables are filled once, by the constructor.</summary>",
    );
    code.line("public static PacketManager Instance { get { return _instance; } }");
    code.line("");
    code.line("// Filled once, then only read: safe to use from every I/O thread at once.");
    code.line(
        "readonly Dictionary<ushort, Func<PacketSession, ArraySegment<byte>, IPacket>> _makeFunc =",
    );
    code.line("    new Dictionary<ushort, Func<PacketSession, ArraySegment<byte>, IPacket>>();");
    code.line("readonly Dictionary<ushort, Action<PacketSession, IPacket>> _handler =");
    code.line("    new Dictionary<ushort, Action<PacketSession, IPacket>>();");
    code.line("");
    code.line("PacketManager() { Register(); }");
    code.line("");
    code.line("/// <summary>Fills the tables. The constructor calls it; calling it again (as course code does at start-up) changes nothing.</summary>");
    code.open("public void Register()");
    code.open("lock (_makeFunc)");
    for name in &received {
        let class = ident(name);
        code.line(format!(
            "_makeFunc[(ushort)PacketID.{class}] = MakePacket<{class}>;"
        ));
        code.line(format!(
            "_handler[(ushort)PacketID.{class}] = PacketHandler.{name}Handler;"
        ));
    }
    code.close();
    code.close();
    code.line("");
    code.line("/// <summary>");
    code.line("/// Decodes one whole frame (header included) and hands the packet to");
    code.line("/// <paramref name=\"onRecvCallback\"/> (a Unity client queues it for the main thread there)");
    code.line("/// or, without one, to <see cref=\"HandlePacket\"/>. Throws PacketDecodeException for a bad");
    code.line(format!(
        "/// frame or an id the {side} does not receive; the session should close on it."
    ));
    code.line("/// </summary>");
    code.open("public void OnRecvPacket(PacketSession session, ArraySegment<byte> buffer, Action<PacketSession, IPacket> onRecvCallback = null)");
    code.line("ushort id = PacketReader.CheckHeader(buffer, null);");
    code.line("Func<PacketSession, ArraySegment<byte>, IPacket> make;");
    code.open("if (!_makeFunc.TryGetValue(id, out make))");
    code.line("string known = Enum.IsDefined(typeof(PacketID), (int)id)");
    code.line(format!(
        "    ? \" (\" + (PacketID)id + \", which only the {other} receives)\""
    ));
    code.line("    : \" (not in the schema)\";");
    code.line("throw new PacketDecodeException(null, null, PacketError.UnknownId,");
    code.line(format!(
        "    \"id \" + id + known + \" is not a packet the {side} receives\");"
    ));
    code.close();
    code.line("IPacket packet = make(session, buffer);");
    code.line("if (onRecvCallback != null)");
    code.line("    onRecvCallback(session, packet);");
    code.line("else");
    code.line("    HandlePacket(session, packet);");
    code.close();
    code.line("");
    code.open("static T MakePacket<T>(PacketSession session, ArraySegment<byte> buffer) where T : IPacket, new()");
    code.line("T packet = new T();");
    code.line("packet.Read(buffer);");
    code.line("return packet;");
    code.close();
    code.line("");
    code.line(
        "/// <summary>Calls the packet's PacketHandler method (on the caller's thread).</summary>",
    );
    code.open("public void HandlePacket(PacketSession session, IPacket packet)");
    code.line("if (packet == null)");
    code.line("    throw new ArgumentNullException(\"packet\");");
    code.line("Action<PacketSession, IPacket> handler;");
    code.line("if (!_handler.TryGetValue(packet.Protocol, out handler))");
    code.line(format!(
        "    throw new ArgumentException(packet.GetType().Name + \" is not a packet the {side} receives\", \"packet\");"
    ));
    code.line("handler(session, packet);");
    code.close();
    code.close();
}
