using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Threading;
using ServerCore;

/// <summary>
/// The bot run, phase by phase: join, enter, move, chat, ping, leave, and in login mode
/// relogin (each bot logs in first, and again at the end). Each phase sends, then waits on
/// <see cref="Lock"/> (Monitor.Wait, pulsed by every packet: no polling) until the counters
/// the packet handlers keep reach their targets, or the timeout passes and the phase fails
/// with what is missing. The bots expect to be alone on the server.
/// </summary>
class Run
{
    /// <summary>Korean and an astral-plane emoji: a UTF-16 surrogate pair on the wire.</summary>
    public const string ChatText = "안녕하세요, 여러분! 🎮";

    public readonly object Lock = new object();

    // Counters and expectations, all under Lock.
    public int Joined;
    public int KnownOurs;
    public int ExactMoves;
    public int ExactChats;
    public int Pongs;
    public int LeavesSeen;
    public int Disconnects;
    public BotSession FirstDisconnected;
    // Login mode: S_Login 0 to a create, to a plain login, to a token login, and creates
    // answered "name taken".
    public int Created;
    public int LoggedIn;
    public int ByToken;
    public int NameTaken;
    HashSet<int> _ids;
    HashSet<int> _leavers = new HashSet<int>();
    readonly Dictionary<int, float[]> _moves = new Dictionary<int, float[]>();
    readonly Dictionary<int, string> _chats = new Dictionary<int, string>();

    readonly List<string> _failures = new List<string>();
    readonly List<BotSession> _bots = new List<BotSession>();
    readonly IPEndPoint _endPoint;
    readonly int _count;
    readonly TimeSpan _timeout;
    /// <summary>The accounts the bots log in to (--login), or null: every bot a guest, as in the course.</summary>
    public readonly Login LoginMode;

    public Run(IPEndPoint endPoint, int count, TimeSpan timeout, Login login)
    {
        _endPoint = endPoint;
        _count = count;
        _timeout = timeout;
        LoginMode = login;
    }

    /// <summary>Records a failure (under Lock); the waiting phase stops at once.</summary>
    public void Fail(string what)
    {
        if (_failures.Count < 50)
            _failures.Add(what);
        Changed();
    }

    /// <summary>Wakes the main thread (under Lock).</summary>
    public void Changed()
    {
        Monitor.PulseAll(Lock);
    }

    /// <summary>A bot learned of a player (under Lock).</summary>
    public void Learned(int playerId)
    {
        if (_ids != null && _ids.Contains(playerId))
            KnownOurs++;
    }

    /// <summary>A bot saw a leave broadcast (under Lock).</summary>
    public void SawLeave(BotSession bot, int playerId)
    {
        if (bot.Staying && _leavers.Contains(playerId))
            LeavesSeen++;
    }

    /// <summary>The position a player sent in the move phase, or null (under Lock).</summary>
    public float[] MoveOf(int playerId)
    {
        float[] sent;
        return _moves.TryGetValue(playerId, out sent) ? sent : null;
    }

    /// <summary>The chat line a player sent, or null (under Lock).</summary>
    public string ChatOf(int playerId)
    {
        string sent;
        return _chats.TryGetValue(playerId, out sent) ? sent : null;
    }

    /// <summary>Runs every phase; returns the process exit code.</summary>
    public int Execute()
    {
        string accounts = LoginMode == null ? ""
            : _count == 1 ? ", logged in to account " + LoginMode.Name
            : ", logged in to accounts " + LoginMode.AccountOf(0, _count) + ".." + LoginMode.AccountOf(_count - 1, _count);
        Console.WriteLine("csharp-bot: " + _count + " bots against " + _endPoint + accounts);
        bool ok = Join() && Enter() && Move() && Chat() && Ping() && Leave() && (LoginMode == null || Relogin());
        lock (Lock)
        {
            foreach (string failure in _failures)
                Console.WriteLine("FAIL: " + failure);
            ok = ok && _failures.Count == 0;
        }
        foreach (BotSession bot in Snapshot())
            bot.Disconnect();
        Console.WriteLine(ok ? "PASS" : "FAILED");
        return ok ? 0 : 1;
    }

    /// <summary>
    /// Opens the bots' connections; in login mode each sends C_Login first (create as given),
    /// or C_LoginToken with the token of <paramref name="tokens"/> at its index if not null.
    /// </summary>
    void Connect(bool create, List<BotSession> tokens = null)
    {
        Connector connector = new Connector();
        connector.ConnectFailed += (endPoint, error) =>
        {
            lock (Lock)
                Fail("connect to " + endPoint + " failed: " + error);
        };
        connector.Connect(_endPoint, () =>
        {
            lock (Lock)
            {
                int index = _bots.Count;
                string account = LoginMode == null ? null : LoginMode.AccountOf(index, _count);
                string token = tokens == null ? null : tokens[index].Token;
                BotSession bot = new BotSession(index, this, account, create, token);
                _bots.Add(bot);
                return bot;
            }
        }, _count);
    }

    bool Join()
    {
        Stopwatch clock = Stopwatch.StartNew();
        Connect(true);
        if (!WaitFor("join", () => Joined == _count, () => (_count - Joined) + " bots have no S_PlayerList"))
            return false;
        lock (Lock)
        {
            _ids = new HashSet<int>(_bots.Select(b => b.PlayerId));
            if (_ids.Count != _count)
            {
                Fail("join: " + _count + " bots got only " + _ids.Count + " distinct player ids");
                return false;
            }
            KnownOurs = _bots.Sum(b => b.Known.Count(_ids.Contains));
            if (LoginMode != null)
                Console.WriteLine("login: " + (Created + LoggedIn) + "/" + _count + " bots logged in first (S_Login 0, playerId = the isSelf id): "
                    + Created + " created, " + NameTaken + " found taken (S_Login 4) and logged in to with create=false");
            Console.WriteLine("join: " + _count + "/" + _count + " bots got S_PlayerList with exactly one self entry, ids unique ("
                + _ids.Min() + ".." + _ids.Max() + ") in " + Seconds(clock));
        }
        return true;
    }

    bool Enter()
    {
        Stopwatch clock = Stopwatch.StartNew();
        int expected = _count * _count;
        if (!WaitFor("enter", () => KnownOurs == expected, () => KnownOurs + "/" + expected + " (bot, player) pairs known"))
            return false;
        Console.WriteLine("enter: every bot knows all " + _count + " players (S_PlayerList + S_BroadcastEnterGame) in " + Seconds(clock));
        return true;
    }

    bool Move()
    {
        Stopwatch clock = Stopwatch.StartNew();
        List<BotSession> bots = Snapshot();
        lock (Lock)
        {
            // Exactly representable and distinct per bot, so equality is the right check.
            foreach (BotSession bot in bots)
                _moves[bot.PlayerId] = new float[] { bot.Index + 0.5f, -bot.Index * 0.25f, 1000f - bot.Index };
        }
        foreach (BotSession bot in bots)
        {
            float[] p = _moves[bot.PlayerId];
            bot.Send(new C_Move { posX = p[0], posY = p[1], posZ = p[2] }.Write());
        }
        int expected = _count * _count;
        if (!WaitFor("move", () => ExactMoves == expected, () => ExactMoves + "/" + expected + " moves seen with the exact position"))
            return false;
        Console.WriteLine("move: " + expected + "/" + expected + " S_BroadcastMove received with exact positions (every bot saw every bot, itself included) in " + Seconds(clock));
        return true;
    }

    bool Chat()
    {
        Stopwatch clock = Stopwatch.StartNew();
        List<BotSession> bots = Snapshot();
        lock (Lock)
        {
            foreach (BotSession bot in bots)
                _chats[bot.PlayerId] = ChatText + " #" + bot.Index;
        }
        foreach (BotSession bot in bots)
            bot.Send(new C_Chat { message = _chats[bot.PlayerId] }.Write());
        int expected = _count * _count;
        if (!WaitFor("chat", () => ExactChats == expected, () => ExactChats + "/" + expected + " chat lines came back with the exact text"))
            return false;
        Console.WriteLine("chat: " + expected + "/" + expected + " S_Chat received with the exact text \"" + ChatText + " #<bot>\" in " + Seconds(clock));
        return true;
    }

    bool Ping()
    {
        Stopwatch clock = Stopwatch.StartNew();
        long start = DateTime.UtcNow.Ticks;
        List<BotSession> bots = Snapshot();
        foreach (BotSession bot in bots)
            bot.Send(new C_Ping { clientTime = start + bot.Index }.Write());
        if (!WaitFor("ping", () => Pongs == _count, () => (_count - Pongs) + " bots have no S_Pong"))
            return false;
        lock (Lock)
        {
            foreach (BotSession bot in bots)
                if (bot.Pong != start + bot.Index)
                    Fail("ping: bot " + bot.Index + " sent clientTime " + (start + bot.Index) + ", S_Pong echoed " + bot.Pong);
            if (_failures.Count > 0)
                return false;
        }
        Console.WriteLine("ping: " + _count + "/" + _count + " S_Pong echoed clientTime in " + Seconds(clock));
        return true;
    }

    bool Leave()
    {
        Stopwatch clock = Stopwatch.StartNew();
        List<BotSession> bots = Snapshot();
        // The first half leaves while the second half watches; then the watchers leave.
        List<BotSession> leavers = bots.Take(Math.Max(1, _count / 2)).ToList();
        List<BotSession> stayers = bots.Skip(leavers.Count).ToList();
        lock (Lock)
        {
            _leavers = new HashSet<int>(leavers.Select(b => b.PlayerId));
            foreach (BotSession bot in stayers)
                bot.Staying = true;
        }
        foreach (BotSession bot in leavers)
            bot.Send(new C_LeaveGame().Write());
        int expected = stayers.Count * leavers.Count;
        if (!WaitFor("leave", () => LeavesSeen == expected && Disconnects >= leavers.Count,
                () => LeavesSeen + "/" + expected + " leave broadcasts seen, " + (leavers.Count - Disconnects) + " leavers still connected"))
            return false;
        lock (Lock)
        {
            foreach (BotSession bot in leavers)
                if (bot.DisconnectReason != DisconnectReason.RemoteClosed)
                    Fail("leave: bot " + bot.Index + " ended with " + bot.DisconnectReason + " (" + bot.DisconnectDetail + "), expected the server to close it");
            foreach (BotSession bot in stayers)
                if (bot.Disconnected)
                    Fail("leave: bot " + bot.Index + " was disconnected while staying: " + bot.DisconnectReason + " (" + bot.DisconnectDetail + ")");
            if (_failures.Count > 0)
                return false;
        }
        foreach (BotSession bot in stayers)
            bot.Send(new C_LeaveGame().Write());
        if (!WaitFor("leave", () => Disconnects == _count, () => (_count - Disconnects) + " bots still connected after C_LeaveGame"))
            return false;
        Console.WriteLine("leave: " + leavers.Count + " bots left, " + expected + "/" + expected
            + " S_BroadcastLeaveGame received by the " + stayers.Count + " others; the server closed all " + _count + " sessions in " + Seconds(clock));
        return true;
    }

    /// <summary>
    /// Login mode, after every bot left: each connects again and logs in to its account with
    /// the token its first login was handed (C_LoginToken, no password). Its S_PlayerList must put it exactly where the server last echoed it (its
    /// own S_BroadcastMove) before it left, and S_Login.playerId must be its isSelf entry's id
    /// (checked as the packets come). Then every bot disconnects.
    /// </summary>
    bool Relogin()
    {
        Stopwatch clock = Stopwatch.StartNew();
        List<BotSession> first = Snapshot();
        lock (Lock)
        {
            foreach (BotSession bot in first)
                if (bot.LastEcho == null)
                    Fail("relogin: bot " + bot.Index + " (" + bot.Account + ") never saw its own S_BroadcastMove");
            if (_failures.Count > 0)
                return false;
            // A new round of sessions, counted afresh.
            _bots.Clear();
            Joined = 0;
            Disconnects = 0;
            FirstDisconnected = null;
            Created = 0;
            LoggedIn = 0;
            NameTaken = 0;
            ByToken = 0;
        }
        Connect(false, first);
        if (!WaitFor("relogin", () => Joined == _count, () => (_count - Joined) + " bots have no S_PlayerList after logging in again"))
            return false;
        BotSession sample;
        lock (Lock)
        {
            foreach (BotSession bot in _bots)
            {
                float[] left = first[bot.Index].LastEcho;
                float[] at = bot.SelfAt;
                if (at[0] != left[0] || at[1] != left[1] || at[2] != left[2])
                    Fail("relogin: bot " + bot.Index + " (" + bot.Account + ") was last echoed at " + Position(left)
                        + " before it left but its S_PlayerList puts it at " + Position(at));
            }
            if (ByToken != _count)
                Fail("relogin: " + ByToken + "/" + _count + " bots logged in by token");
            if (_failures.Count > 0)
                return false;
            sample = _bots.First(b => b.Index == 0);
        }
        Console.WriteLine("relogin: " + _count + "/" + _count + " bots logged in again by token (C_LoginToken), each at the position the server last echoed for it ("
            + sample.Account + " at " + Position(sample.SelfAt) + ", S_Login.playerId " + sample.LoginId + " = the isSelf id) in " + Seconds(clock));
        List<BotSession> again = Snapshot();
        foreach (BotSession bot in again)
            bot.Disconnect();
        if (!WaitFor("disconnect", () => Disconnects == _count, () => (_count - Disconnects) + " bots still connected"))
            return false;
        Console.WriteLine("disconnect: all " + _count + " bots closed their connections");
        return true;
    }

    static string Position(float[] p)
    {
        return "(" + p[0] + ", " + p[1] + ", " + p[2] + ")";
    }

    List<BotSession> Snapshot()
    {
        lock (Lock)
            return new List<BotSession>(_bots);
    }

    /// <summary>Waits until <paramref name="done"/> holds (evaluated under Lock), a failure is recorded, or the timeout.</summary>
    bool WaitFor(string phase, Func<bool> done, Func<string> missing)
    {
        DateTime deadline = DateTime.UtcNow + _timeout;
        lock (Lock)
        {
            while (true)
            {
                if (_failures.Count > 0)
                    return false;
                if (done())
                    return true;
                if (phase != "leave" && phase != "disconnect" && FirstDisconnected != null)
                {
                    BotSession dropped = FirstDisconnected;
                    Fail(phase + ": bot " + dropped.Index + " was disconnected: " + dropped.DisconnectReason + " (" + dropped.DisconnectDetail + ")");
                    return false;
                }
                TimeSpan left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero)
                {
                    Fail(phase + ": timed out after " + _timeout.TotalSeconds + " s: " + missing());
                    return false;
                }
                Monitor.Wait(Lock, left);
            }
        }
    }

    static string Seconds(Stopwatch clock)
    {
        return (clock.Elapsed.TotalMilliseconds / 1000.0).ToString("0.00") + " s";
    }
}
