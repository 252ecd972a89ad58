using ServerCore;

/// <summary>
/// The handlers ClientPacketManager.cs calls, one per S_ packet. They run on the socket's
/// thread-pool thread; each hands the packet to its bot, which records it under the run's lock.
/// </summary>
static class PacketHandler
{
    public static void S_BroadcastEnterGameHandler(PacketSession session, IPacket packet)
    {
        ((BotSession)session).OnEnter((S_BroadcastEnterGame)packet);
    }

    public static void S_BroadcastLeaveGameHandler(PacketSession session, IPacket packet)
    {
        ((BotSession)session).OnLeave((S_BroadcastLeaveGame)packet);
    }

    public static void S_PlayerListHandler(PacketSession session, IPacket packet)
    {
        ((BotSession)session).OnPlayerList((S_PlayerList)packet);
    }

    public static void S_BroadcastMoveHandler(PacketSession session, IPacket packet)
    {
        ((BotSession)session).OnMove((S_BroadcastMove)packet);
    }

    public static void S_ChatHandler(PacketSession session, IPacket packet)
    {
        ((BotSession)session).OnChat((S_Chat)packet);
    }

    public static void S_PongHandler(PacketSession session, IPacket packet)
    {
        ((BotSession)session).OnPong((S_Pong)packet);
    }

    // The answer to C_Login: only a bot in login mode asks (a guest that gets one fails).
    public static void S_LoginHandler(PacketSession session, IPacket packet)
    {
        ((BotSession)session).OnLogin((S_Login)packet);
    }

    // The UDP handshake's replies: this bot never sends C_UdpRequest, so the server must
    // never send them (a course client has no handler for them at all).
    public static void S_UdpTicketHandler(PacketSession session, IPacket packet)
    {
        ((BotSession)session).OnUnasked("S_UdpTicket");
    }

    public static void S_UdpBoundHandler(PacketSession session, IPacket packet)
    {
        ((BotSession)session).OnUnasked("S_UdpBound");
    }

    public static void S_UdpChallengeHandler(PacketSession session, IPacket packet)
    {
        ((BotSession)session).OnUnasked("S_UdpChallenge");
    }

    // Monsters live in world mode; this bot plays the course's room, which has none.
    public static void S_MonsterSpawnHandler(PacketSession session, IPacket packet)
    {
        ((BotSession)session).OnUnasked("S_MonsterSpawn");
    }

    public static void S_MonsterMoveHandler(PacketSession session, IPacket packet)
    {
        ((BotSession)session).OnUnasked("S_MonsterMove");
    }

    public static void S_MonsterDespawnHandler(PacketSession session, IPacket packet)
    {
        ((BotSession)session).OnUnasked("S_MonsterDespawn");
    }
}
