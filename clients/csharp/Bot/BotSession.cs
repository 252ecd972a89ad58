using System;
using System.Collections.Generic;
using System.Net;
using ServerCore;

/// <summary>
/// One bot: what it has received so far. Every field is read and written under
/// <see cref="Run.Lock"/>; each handler updates the run's counters there and pulses it,
/// so the main thread's checks cost O(1) per packet however many bots play.
/// </summary>
class BotSession : PacketSession
{
    public readonly int Index;
    readonly Run _run;
    /// <summary>The account this bot logs in to before it plays (login mode), or null for a guest.</summary>
    public readonly string Account;
    /// <summary>Whether the next C_Login makes the account (cleared when the name is taken).</summary>
    bool _create;
    /// <summary>The token this bot logs in with (C_LoginToken) instead of its password, or null.</summary>
    readonly string _loginToken;
    /// <summary>The token S_Login handed this bot for its next login (null until then).</summary>
    public string Token;

    public bool Disconnected;
    /// <summary>Set for the bots that watch the others leave.</summary>
    public bool Staying;
    /// <summary>This bot's player id, from the entry of its S_PlayerList flagged isSelf (0 until then).</summary>
    public int PlayerId;
    /// <summary>Every player id this bot was told about: its S_PlayerList, then enter broadcasts.</summary>
    public readonly HashSet<int> Known = new HashSet<int>();
    /// <summary>Players whose move this bot saw with exactly the position that player sent.</summary>
    public readonly HashSet<int> ExactMoves = new HashSet<int>();
    /// <summary>Players whose chat line this bot saw, with exactly the text that player sent.</summary>
    public readonly HashSet<int> ExactChats = new HashSet<int>();
    public readonly HashSet<int> Left = new HashSet<int>();
    public long Pong = long.MinValue;
    /// <summary>Login mode: S_Login's playerId once a login passed (0 until then).</summary>
    public int LoginId;
    /// <summary>The position of this bot's isSelf entry in its S_PlayerList.</summary>
    public float[] SelfAt;
    /// <summary>The last position the server echoed for this bot (its own S_BroadcastMove), or null.</summary>
    public float[] LastEcho;

    /// <summary>A guest (<paramref name="account"/> null) or a bot that logs in to <paramref name="account"/>, by <paramref name="token"/> if not null.</summary>
    public BotSession(int index, Run run, string account, bool create, string token)
    {
        Index = index;
        _run = run;
        Account = account;
        _create = create;
        _loginToken = token;
    }

    /// <summary>A bot that logs in sends C_Login as its very first packet; a guest sends nothing yet.</summary>
    public override void OnConnected(EndPoint endPoint)
    {
        if (Account != null)
            SendLogin();
    }

    void SendLogin()
    {
        if (_loginToken != null)
        {
            Send(new C_LoginToken { name = Account, token = _loginToken }.Write());
            return;
        }
        bool create;
        lock (_run.Lock)
            create = _create;
        Send(_run.LoginMode.Packet(Account, create).Write());
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
            _run.Disconnects++;
            if (_run.FirstDisconnected == null)
                _run.FirstDisconnected = this;
            _run.Changed();
        }
    }

    /// <summary>
    /// Login mode: 0 lets the character in (S_PlayerList follows); 4 to a create logs in to
    /// the account that has the name; any other code fails the run with its meaning.
    /// </summary>
    public void OnLogin(S_Login packet)
    {
        bool again = false;
        lock (_run.Lock)
        {
            string what = "S_Login result " + packet.result + " (" + Login.Meaning(packet.result) + ")"
                + (packet.retryAfterMs > 0 ? ", retry after " + packet.retryAfterMs + " ms" : "");
            if (Account == null)
                _run.Fail("bot " + Index + ": got " + what + " without sending C_Login");
            else if (LoginId != 0 || PlayerId != 0)
                _run.Fail("bot " + Index + " (" + Account + "): " + what + " after it was already playing");
            else if (packet.result == Login.Ok)
            {
                if (packet.playerId == 0)
                    _run.Fail("bot " + Index + " (" + Account + "): S_Login result 0 with playerId 0");
                LoginId = packet.playerId;
                Token = packet.token;
                if (packet.token == null || packet.token.Length != 64)
                    _run.Fail("bot " + Index + " (" + Account + "): S_Login result 0 handed no 64-digit token: \"" + packet.token + "\"");
                if (_loginToken != null)
                    _run.ByToken++;
                else if (_create)
                    _run.Created++;
                else
                    _run.LoggedIn++;
            }
            else if (packet.result == Login.NameTaken && _create)
            {
                _create = false;
                _run.NameTaken++;
                again = true;
            }
            else
                _run.Fail("bot " + Index + " (" + Account + "): login refused: " + what);
            _run.Changed();
        }
        if (again)
            SendLogin();
    }

    public void OnPlayerList(S_PlayerList packet)
    {
        lock (_run.Lock)
        {
            if (PlayerId != 0)
                _run.Fail("bot " + Index + " got a second S_PlayerList");
            if (Account != null && LoginId == 0)
                _run.Fail("bot " + Index + " (" + Account + "): S_PlayerList before a passed S_Login: the server took it as a guest (are logins off there?)");
            int self = 0;
            int selfCount = 0;
            foreach (S_PlayerList.Player player in packet.players)
            {
                if (Known.Add(player.playerId))
                    _run.Learned(player.playerId);
                else
                    _run.Fail("bot " + Index + ": S_PlayerList names player " + player.playerId + " twice");
                if (player.isSelf)
                {
                    self = player.playerId;
                    SelfAt = new float[] { player.posX, player.posY, player.posZ };
                    selfCount++;
                }
            }
            if (selfCount != 1)
                _run.Fail("bot " + Index + ": S_PlayerList flags " + selfCount + " players as self, expected exactly 1");
            if (Account != null && selfCount == 1 && self != LoginId)
                _run.Fail("bot " + Index + " (" + Account + "): S_Login said playerId " + LoginId + " but the isSelf entry of S_PlayerList is player " + self);
            PlayerId = self;
            _run.Joined++;
            _run.Changed();
        }
    }

    public void OnEnter(S_BroadcastEnterGame packet)
    {
        lock (_run.Lock)
        {
            if (Known.Add(packet.playerId))
                _run.Learned(packet.playerId);
            _run.Changed();
        }
    }

    public void OnMove(S_BroadcastMove packet)
    {
        lock (_run.Lock)
        {
            if (packet.playerId == PlayerId)
                LastEcho = new float[] { packet.posX, packet.posY, packet.posZ };
            float[] sent = _run.MoveOf(packet.playerId);
            if (sent == null)
                _run.Fail("bot " + Index + ": S_BroadcastMove for player " + packet.playerId + ", who has not moved");
            else if (packet.posX != sent[0] || packet.posY != sent[1] || packet.posZ != sent[2])
                _run.Fail("bot " + Index + ": player " + packet.playerId + " moved to (" + sent[0] + ", " + sent[1] + ", " + sent[2]
                    + ") but S_BroadcastMove says (" + packet.posX + ", " + packet.posY + ", " + packet.posZ + ")");
            else if (ExactMoves.Add(packet.playerId))
                _run.ExactMoves++;
            _run.Changed();
        }
    }

    public void OnChat(S_Chat packet)
    {
        lock (_run.Lock)
        {
            string sent = _run.ChatOf(packet.playerId);
            if (sent == null)
                _run.Fail("bot " + Index + ": S_Chat from player " + packet.playerId + ", who has not chatted");
            else if (packet.message != sent)
                _run.Fail("bot " + Index + ": player " + packet.playerId + " said \"" + sent + "\" but S_Chat says \"" + packet.message + "\"");
            else if (!ExactChats.Add(packet.playerId))
                _run.Fail("bot " + Index + ": the chat line of player " + packet.playerId + " came twice");
            else
                _run.ExactChats++;
            _run.Changed();
        }
    }

    /// <summary>
    /// A packet this course-style bot never asked for (the UDP handshake's replies come only
    /// after C_UdpRequest): receiving one is the server's fault.
    /// </summary>
    public void OnUnasked(string name)
    {
        lock (_run.Lock)
        {
            _run.Fail("bot " + Index + ": got " + name + " without asking for it");
        }
    }

    public void OnPong(S_Pong packet)
    {
        lock (_run.Lock)
        {
            if (Pong != long.MinValue)
                _run.Fail("bot " + Index + ": a second S_Pong");
            Pong = packet.clientTime;
            _run.Pongs++;
            _run.Changed();
        }
    }

    public void OnLeave(S_BroadcastLeaveGame packet)
    {
        lock (_run.Lock)
        {
            if (Left.Add(packet.playerId))
                _run.SawLeave(this, packet.playerId);
            else
                _run.Fail("bot " + Index + ": S_BroadcastLeaveGame for player " + packet.playerId + " came twice");
            _run.Changed();
        }
    }
}
