using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using ServerCore;

/// <summary>
/// The bot run, phase by phase: join, enter, move, chat, ping, leave. Each phase sends,
/// then waits on <see cref="Lock"/> (Monitor.Wait, pulsed by every packet: no polling)
/// until every bot has what it should, or the timeout passes and the phase fails with what
/// is missing.
/// </summary>
class Run
{
    /// <summary>Korean and an astral-plane emoji: a UTF-16 surrogate pair on the wire.</summary>
    public const string ChatText = "안녕하세요, 여러분! 🎮";

    public readonly object Lock = new object();
    readonly List<string> _failures = new List<string>();
    readonly List<BotSession> _bots = new List<BotSession>();
    readonly IPEndPoint _endPoint;
    readonly int _count;
    readonly TimeSpan _timeout;

    public Run(IPEndPoint endPoint, int count, TimeSpan timeout)
    {
        _endPoint = endPoint;
        _count = count;
        _timeout = timeout;
    }

    /// <summary>Records a failure (under Lock).</summary>
    public void Fail(string what)
    {
        if (_failures.Count < 50)
            _failures.Add(what);
    }

    /// <summary>Wakes the main thread (under Lock).</summary>
    public void Changed()
    {
        Monitor.PulseAll(Lock);
    }

    /// <summary>Runs every phase; returns the process exit code.</summary>
    public int Execute()
    {
        Console.WriteLine("csharp-bot: " + _count + " bots against " + _endPoint);
        bool ok = Join() && Enter() && Move() && Chat() && Ping() && Leave();
        lock (Lock)
        {
            foreach (string failure in _failures)
                Console.WriteLine("FAIL: " + failure);
            ok = ok && _failures.Count == 0;
        }
        foreach (BotSession bot in _bots)
            bot.Disconnect();
        Console.WriteLine(ok ? "PASS" : "FAILED");
        return ok ? 0 : 1;
    }

    bool Join()
    {
        Stopwatch clock = Stopwatch.StartNew();
        Connector connector = new Connector();
        connector.ConnectFailed += (endPoint, error) =>
        {
            lock (Lock)
            {
                Fail("connect to " + endPoint + " failed: " + error);
                Changed();
            }
        };
        connector.Connect(_endPoint, () =>
        {
            lock (Lock)
            {
                BotSession bot = new BotSession(_bots.Count, this);
                _bots.Add(bot);
                return bot;
            }
        }, _count);
        if (!WaitFor("join", () => _bots.Count == _count && _bots.All(b => b.PlayerId != 0),
                () => (_count - _bots.Count(b => b.PlayerId != 0)) + " bots have no S_PlayerList"))
            return false;
        lock (Lock)
        {
            int distinct = _bots.Select(b => b.PlayerId).Distinct().Count();
            if (distinct != _count)
            {
                Fail("join: " + _count + " bots got only " + distinct + " distinct player ids");
                return false;
            }
            Console.WriteLine("join: " + _count + "/" + _count + " bots got S_PlayerList with exactly one self entry, ids unique ("
                + _bots.Min(b => b.PlayerId) + ".." + _bots.Max(b => b.PlayerId) + ") in " + Seconds(clock));
        }
        return true;
    }

    bool Enter()
    {
        Stopwatch clock = Stopwatch.StartNew();
        HashSet<int> ids;
        lock (Lock)
            ids = new HashSet<int>(_bots.Select(b => b.PlayerId));
        if (!WaitFor("enter", () => _bots.All(b => b.Known.IsSupersetOf(ids)),
                () => _bots.Count(b => !b.Known.IsSupersetOf(ids)) + " bots do not know every player"))
            return false;
        Console.WriteLine("enter: every bot knows all " + _count + " players (S_PlayerList + S_BroadcastEnterGame) in " + Seconds(clock));
        return true;
    }

    static float[] PositionOf(BotSession bot)
    {
        // Exactly representable and distinct per bot, so equality is the right check.
        return new float[] { bot.Index + 0.5f, -bot.Index * 0.25f, 1000f - bot.Index };
    }

    bool Move()
    {
        Stopwatch clock = Stopwatch.StartNew();
        foreach (BotSession bot in Snapshot())
        {
            float[] p = PositionOf(bot);
            bot.Send(new C_Move { posX = p[0], posY = p[1], posZ = p[2] }.Write());
        }
        Func<int> exact = () => _bots.Sum(receiver => _bots.Count(mover =>
        {
            float[] seen;
            float[] sent = PositionOf(mover);
            return receiver.Moves.TryGetValue(mover.PlayerId, out seen)
                && seen[0] == sent[0] && seen[1] == sent[1] && seen[2] == sent[2];
        }));
        int expected = _count * _count;
        if (!WaitFor("move", () => exact() == expected, () => exact() + "/" + expected + " moves seen with the exact position"))
            return false;
        Console.WriteLine("move: " + expected + "/" + expected + " S_BroadcastMove received with exact positions (every bot saw every bot, itself included) in " + Seconds(clock));
        return true;
    }

    bool Chat()
    {
        Stopwatch clock = Stopwatch.StartNew();
        foreach (BotSession bot in Snapshot())
            bot.Send(new C_Chat { message = ChatText + " #" + bot.Index }.Write());
        Func<int> exact = () => _bots.Sum(receiver => _bots.Count(sender =>
        {
            List<string> lines;
            return receiver.Chats.TryGetValue(sender.PlayerId, out lines)
                && lines.Count == 1 && lines[0] == ChatText + " #" + sender.Index;
        }));
        int expected = _count * _count;
        if (!WaitFor("chat", () => exact() == expected, () => exact() + "/" + expected + " chat lines came back exactly once with the exact text"))
            return false;
        Console.WriteLine("chat: " + expected + "/" + expected + " S_Chat received with the exact text \"" + ChatText + " #<bot>\" in " + Seconds(clock));
        return true;
    }

    bool Ping()
    {
        Stopwatch clock = Stopwatch.StartNew();
        long start = DateTime.UtcNow.Ticks;
        foreach (BotSession bot in Snapshot())
            bot.Send(new C_Ping { clientTime = start + bot.Index }.Write());
        if (!WaitFor("ping", () => _bots.All(b => b.Pong == start + b.Index),
                () => _bots.Count(b => b.Pong != start + b.Index) + " bots have no S_Pong echoing their clientTime"))
            return false;
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
            BotSession early = bots.FirstOrDefault(b => b.Disconnected);
            if (early != null)
            {
                Fail("bot " + early.Index + " was disconnected before leaving: " + early.DisconnectReason + " (" + early.DisconnectDetail + ")");
                return false;
            }
        }
        foreach (BotSession bot in leavers)
            bot.Send(new C_LeaveGame().Write());
        HashSet<int> leftIds = new HashSet<int>(leavers.Select(b => b.PlayerId));
        int expected = stayers.Count * leavers.Count;
        Func<int> seen = () => stayers.Sum(b => b.Left.Count(leftIds.Contains));
        if (!WaitFor("leave", () => seen() == expected && leavers.All(b => b.Disconnected),
                () => seen() + "/" + expected + " leave broadcasts seen, " + leavers.Count(b => !b.Disconnected) + " leavers still connected"))
            return false;
        lock (Lock)
        {
            foreach (BotSession bot in leavers)
                if (bot.DisconnectReason != DisconnectReason.RemoteClosed)
                    Fail("leave: bot " + bot.Index + " ended with " + bot.DisconnectReason + " (" + bot.DisconnectDetail + "), expected the server to close it");
            foreach (BotSession bot in stayers)
                if (bot.Disconnected)
                    Fail("leave: bot " + bot.Index + " was disconnected while staying: " + bot.DisconnectReason + " (" + bot.DisconnectDetail + ")");
        }
        foreach (BotSession bot in stayers)
            bot.Send(new C_LeaveGame().Write());
        if (!WaitFor("leave", () => stayers.All(b => b.Disconnected),
                () => stayers.Count(b => !b.Disconnected) + " bots still connected after C_LeaveGame"))
            return false;
        Console.WriteLine("leave: " + leavers.Count + " bots left, " + expected + "/" + expected
            + " S_BroadcastLeaveGame received by the " + stayers.Count + " others; the server closed all " + _count + " sessions in " + Seconds(clock));
        return true;
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
                BotSession dropped = _bots.FirstOrDefault(b => b.Disconnected && phase != "leave");
                if (dropped != null)
                {
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
