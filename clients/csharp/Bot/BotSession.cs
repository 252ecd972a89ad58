using System;
using System.Collections.Generic;
using System.Net;
using ServerCore;

/// <summary>
/// One bot: what it has received so far. Every field is read and written under
/// <see cref="Run.Lock"/>, which the main thread waits on; each change pulses it.
/// </summary>
class BotSession : PacketSession
{
    public readonly int Index;
    readonly Run _run;

    public bool Connected;
    public bool Disconnected;
    /// <summary>This bot's player id, from the entry of its S_PlayerList flagged isSelf (0 until then).</summary>
    public int PlayerId;
    /// <summary>Every player id this bot was told about: its S_PlayerList, then enter broadcasts.</summary>
    public readonly HashSet<int> Known = new HashSet<int>();
    /// <summary>The last position broadcast for each player id.</summary>
    public readonly Dictionary<int, float[]> Moves = new Dictionary<int, float[]>();
    /// <summary>Chat lines received, by sender.</summary>
    public readonly Dictionary<int, List<string>> Chats = new Dictionary<int, List<string>>();
    public readonly HashSet<int> Left = new HashSet<int>();
    public long Pong = long.MinValue;

    public BotSession(int index, Run run)
    {
        Index = index;
        _run = run;
    }

    public override void OnConnected(EndPoint endPoint)
    {
        lock (_run.Lock)
        {
            Connected = true;
            _run.Changed();
        }
    }

    public override void OnRecvPacket(ArraySegment<byte> buffer)
    {
        PacketManager.Instance.OnRecvPacket(this, buffer);
    }

    public override void OnSend(int numOfBytes)
    {
    }

    public override void OnDisconnected(EndPoint endPoint)
    {
        lock (_run.Lock)
        {
            Disconnected = true;
            _run.Changed();
        }
    }

    public void OnPlayerList(S_PlayerList packet)
    {
        lock (_run.Lock)
        {
            if (PlayerId != 0)
                _run.Fail("bot " + Index + " got a second S_PlayerList");
            int self = 0;
            int selfCount = 0;
            foreach (S_PlayerList.Player player in packet.players)
            {
                if (!Known.Add(player.playerId))
                    _run.Fail("bot " + Index + ": S_PlayerList names player " + player.playerId + " twice");
                if (player.isSelf)
                {
                    self = player.playerId;
                    selfCount++;
                }
            }
            if (selfCount != 1)
                _run.Fail("bot " + Index + ": S_PlayerList flags " + selfCount + " players as self, expected exactly 1");
            PlayerId = self;
            _run.Changed();
        }
    }

    public void OnEnter(S_BroadcastEnterGame packet)
    {
        lock (_run.Lock)
        {
            Known.Add(packet.playerId);
            _run.Changed();
        }
    }

    public void OnMove(S_BroadcastMove packet)
    {
        lock (_run.Lock)
        {
            Moves[packet.playerId] = new float[] { packet.posX, packet.posY, packet.posZ };
            _run.Changed();
        }
    }

    public void OnChat(S_Chat packet)
    {
        lock (_run.Lock)
        {
            List<string> lines;
            if (!Chats.TryGetValue(packet.playerId, out lines))
            {
                lines = new List<string>();
                Chats[packet.playerId] = lines;
            }
            lines.Add(packet.message);
            _run.Changed();
        }
    }

    public void OnPong(S_Pong packet)
    {
        lock (_run.Lock)
        {
            Pong = packet.clientTime;
            _run.Changed();
        }
    }

    public void OnLeave(S_BroadcastLeaveGame packet)
    {
        lock (_run.Lock)
        {
            if (!Left.Add(packet.playerId))
                _run.Fail("bot " + Index + ": S_BroadcastLeaveGame for player " + packet.playerId + " came twice");
            _run.Changed();
        }
    }
}
