// Hostile input to the C# side, compiled by tests/csharp.rs with the C# generated from
// packet-gen/tests/schemas/all_types.json (client role, UTF-16LE strings) and the
// ServerCore runtime. Every bad frame must end in a typed exception (PacketDecodeException
// with the right Kind, or FrameException from PacketSession), never an
// IndexOutOfRangeException or a wrong packet. Prints one line per failed check and exits 1,
// or prints a summary and exits 0.
using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using ServerCore;

static class PacketHandler
{
    public static int Handled;
    public static void S_SkillsHandler(PacketSession session, IPacket packet) { Handled++; }
    public static void EmptyHandler(PacketSession session, IPacket packet) { Handled++; }
}

/// <summary>A PacketSession that records frames (called directly, or over a socket).</summary>
class FrameCounter : PacketSession
{
    public readonly List<int> Frames = new List<int>();
    public readonly ManualResetEvent Connected = new ManualResetEvent(false);
    public readonly ManualResetEvent Ended = new ManualResetEvent(false);
    public override void OnConnected(EndPoint endPoint) { Connected.Set(); }
    public override void OnSend(int numOfBytes) { }
    public override void OnDisconnected(EndPoint endPoint) { Ended.Set(); }
    public override void OnRecvPacket(ArraySegment<byte> buffer) { Frames.Add(buffer.Count); }
}

/// <summary>A session that hands frames to the generated client PacketManager.</summary>
class ManagedSession : FrameCounter
{
    public override void OnRecvPacket(ArraySegment<byte> buffer) { PacketManager.Instance.OnRecvPacket(this, buffer); }
}

static class BadInput
{
    static int _checks;
    static readonly List<string> Failures = new List<string>();

    static void Check(bool ok, string what)
    {
        _checks++;
        if (!ok)
            Failures.Add(what);
    }

    /// <summary>Runs <paramref name="action"/> and checks it throws PacketDecodeException of <paramref name="kind"/>.</summary>
    static void ExpectDecode(PacketError kind, string what, Action action)
    {
        try
        {
            action();
            Check(false, what + ": no exception, expected " + kind);
        }
        catch (PacketDecodeException e)
        {
            Check(e.Kind == kind, what + ": " + e.Kind + " (" + e.Message + "), expected " + kind);
        }
        catch (Exception e)
        {
            Check(false, what + ": " + e.GetType().Name + " (" + e.Message + "), expected PacketDecodeException " + kind);
        }
    }

    static void ExpectEncode(PacketError kind, string what, Action action)
    {
        try
        {
            action();
            Check(false, what + ": no exception, expected " + kind);
        }
        catch (PacketEncodeException e)
        {
            Check(e.Kind == kind, what + ": " + e.Kind + " (" + e.Message + "), expected " + kind);
        }
        catch (Exception e)
        {
            Check(false, what + ": " + e.GetType().Name + " (" + e.Message + "), expected PacketEncodeException " + kind);
        }
    }

    static byte[] Bytes(ArraySegment<byte> segment)
    {
        byte[] copy = new byte[segment.Count];
        Array.Copy(segment.Array, segment.Offset, copy, 0, segment.Count);
        return copy;
    }

    /// <summary>A frame of <paramref name="body"/> with a correct size header and <paramref name="id"/>.</summary>
    static byte[] Frame(ushort id, byte[] body, int bodyCount)
    {
        byte[] frame = new byte[4 + bodyCount];
        frame[0] = (byte)(frame.Length & 0xFF);
        frame[1] = (byte)(frame.Length >> 8);
        frame[2] = (byte)id;
        frame[3] = (byte)(id >> 8);
        Array.Copy(body, 0, frame, 4, bodyCount);
        return frame;
    }

    static ArraySegment<byte> Seg(byte[] bytes)
    {
        return new ArraySegment<byte>(bytes);
    }

    static int Main()
    {
        ShortFrames();
        HeaderMismatches();
        TruncatedAndTrailing();
        CountsLargerThanTheBody();
        BadUtf16();
        Manager();
        SessionFraming();
        Writes();
        RandomBytes();
        MainThreadQueue();
        Sockets();
        foreach (string failure in Failures)
            Console.WriteLine("FAIL: " + failure);
        Console.WriteLine((_checks - Failures.Count) + "/" + _checks + " checks passed");
        return Failures.Count == 0 ? 0 : 1;
    }

    static void ShortFrames()
    {
        for (int size = 0; size < 4; size++)
        {
            byte[] frame = new byte[size];
            if (size >= 2)
            {
                frame[0] = (byte)size;
            }
            ExpectDecode(PacketError.FrameTooShort, "C_Scalars.Read of a " + size + "-byte frame",
                () => new C_Scalars().Read(Seg(frame)));
            ExpectDecode(PacketError.FrameTooShort, "OnRecvPacket of a " + size + "-byte frame",
                () => PacketManager.Instance.OnRecvPacket(null, Seg(frame)));
        }
        ExpectDecode(PacketError.FrameTooShort, "Read of a default ArraySegment",
            () => new Empty().Read(default(ArraySegment<byte>)));
    }

    static void HeaderMismatches()
    {
        byte[] good = Bytes(new S_Skills { ownerId = 7 }.Write());
        byte[] bigger = (byte[])good.Clone();
        bigger[0]++;
        ExpectDecode(PacketError.SizeMismatch, "size header larger than the frame", () => new S_Skills().Read(Seg(bigger)));
        byte[] smaller = (byte[])good.Clone();
        smaller[0]--;
        ExpectDecode(PacketError.SizeMismatch, "size header smaller than the frame", () => new S_Skills().Read(Seg(smaller)));
        ExpectDecode(PacketError.WrongId, "S_Skills frame read as C_Scalars", () => new C_Scalars().Read(Seg(good)));
        // A frame inside a larger array at an offset: the size is the segment's, not the array's.
        byte[] padded = new byte[good.Length + 20];
        Array.Copy(good, 0, padded, 10, good.Length);
        S_Skills read = new S_Skills();
        read.Read(new ArraySegment<byte>(padded, 10, good.Length));
        Check(read.ownerId == 7, "a frame at an offset inside a larger array reads");
    }

    static void TruncatedAndTrailing()
    {
        C_Variable packet = new C_Variable { text = "안녕 🎮", blob = new byte[] { 1, 2, 3 } };
        packet.numbers.Add(-1);
        packet.names.Add("a");
        packet.blobs.Add(new byte[] { 9 });
        packet.points.Add(new Vec3 { x = 1, y = 2, z = 3 });
        byte[] frame = Bytes(packet.Write());
        byte[] body = new byte[frame.Length - 4];
        Array.Copy(frame, 4, body, 0, body.Length);
        for (int cut = 0; cut < body.Length; cut++)
        {
            byte[] shorter = Frame((ushort)PacketID.C_Variable, body, cut);
            bool ok;
            try
            {
                new C_Variable().Read(Seg(shorter));
                ok = false;
            }
            catch (PacketDecodeException e)
            {
                // A cut inside a string can also leave an odd or invalid length.
                ok = e.Kind == PacketError.Truncated || e.Kind == PacketError.CountTooLarge || e.Kind == PacketError.InvalidString;
            }
            catch (Exception)
            {
                ok = false;
            }
            Check(ok, "C_Variable body cut to " + cut + " of " + body.Length + " bytes must be refused with a PacketDecodeException");
        }
        byte[] longer = new byte[body.Length + 1];
        Array.Copy(body, longer, body.Length);
        ExpectDecode(PacketError.TrailingBytes, "one byte after the last field",
            () => new C_Variable().Read(Seg(Frame((ushort)PacketID.C_Variable, longer, longer.Length))));
        C_Variable again = new C_Variable();
        again.Read(Seg(frame));
        Check(again.text == "안녕 🎮" && again.points.Count == 1 && again.points[0].z == 3, "the uncut frame reads back");
    }

    static void CountsLargerThanTheBody()
    {
        // C_Variable: text "", blob [], position (12 bytes), numbers count 0xFFFF, then 8 bytes.
        byte[] body = new byte[2 + 2 + 12 + 2 + 8];
        body[16] = 0xFF;
        body[17] = 0xFF;
        ExpectDecode(PacketError.CountTooLarge, "a list count of 65535 i32s with 8 bytes left",
            () => new C_Variable().Read(Seg(Frame((ushort)PacketID.C_Variable, body, body.Length))));
        // S_Skills: ownerId, then a count of 2 skills whose minimum size (10 bytes) does not fit.
        byte[] skills = new byte[8 + 2 + 10];
        skills[8] = 2;
        ExpectDecode(PacketError.CountTooLarge, "2 skills of at least 10 bytes in 10 bytes",
            () => new S_Skills().Read(Seg(Frame((ushort)PacketID.S_Skills, skills, skills.Length))));
        // A string length larger than the body.
        byte[] text = new byte[] { 0x10, 0x00, 0x41, 0x00 };
        ExpectDecode(PacketError.Truncated, "a string length past the end of the body",
            () => new C_Variable().Read(Seg(Frame((ushort)PacketID.C_Variable, text, text.Length))));
    }

    static void BadUtf16()
    {
        byte[][] strings =
        {
            new byte[] { 0x03, 0x00, 0x41, 0x00, 0x42 },          // odd byte length
            new byte[] { 0x02, 0x00, 0x00, 0xD8 },                // a lone high surrogate
            new byte[] { 0x02, 0x00, 0x00, 0xDC },                // a lone low surrogate
            new byte[] { 0x04, 0x00, 0x00, 0xDC, 0x00, 0xD8 },    // a pair in the wrong order
        };
        foreach (byte[] text in strings)
        {
            // text, then an empty blob, Vec3 and four empty lists: only the string is wrong.
            byte[] body = new byte[text.Length + 2 + 12 + 8];
            Array.Copy(text, body, text.Length);
            ExpectDecode(PacketError.InvalidString, "C_Variable.text of bytes " + BitConverter.ToString(text),
                () => new C_Variable().Read(Seg(Frame((ushort)PacketID.C_Variable, body, body.Length))));
        }
    }

    static void Manager()
    {
        ExpectDecode(PacketError.UnknownId, "an id not in the schema",
            () => PacketManager.Instance.OnRecvPacket(null, Seg(Frame(999, new byte[0], 0))));
        ExpectDecode(PacketError.UnknownId, "a C_ packet arriving at the client",
            () => PacketManager.Instance.OnRecvPacket(null, Seg(Bytes(new C_Scalars().Write()))));
        PacketManager.Instance.Register(); // again, as course code does: must not throw
        int before = PacketHandler.Handled;
        PacketManager.Instance.OnRecvPacket(null, new Empty().Write());
        Check(PacketHandler.Handled == before + 1, "an Empty frame reaches PacketHandler.EmptyHandler");
        IPacket queued = null;
        PacketManager.Instance.OnRecvPacket(null, new S_Skills { ownerId = 3 }.Write(), (s, p) => queued = p);
        Check(queued is S_Skills && ((S_Skills)queued).ownerId == 3 && PacketHandler.Handled == before + 1,
            "onRecvCallback receives the packet instead of the handler");
    }

    static void SessionFraming()
    {
        for (int size = 0; size < 4; size++)
        {
            FrameCounter session = new FrameCounter();
            bool threw = false;
            try
            {
                session.OnRecv(Seg(new byte[] { (byte)size, 0, 1, 0, 0, 0 }));
            }
            catch (FrameException e)
            {
                threw = e.Size == size;
            }
            catch (Exception)
            {
            }
            Check(threw, "PacketSession.OnRecv must throw FrameException for size " + size);
        }
        FrameCounter partial = new FrameCounter();
        Check(partial.OnRecv(Seg(new byte[] { 6 })) == 0, "one byte of a header is kept for later");
        Check(partial.OnRecv(Seg(new byte[] { 6, 0, 1, 0, 9 })) == 0, "a partial frame is kept for later");
        byte[] two = { 4, 0, 1, 0, 5, 0, 2, 0, 7, 6, 0 };
        Check(partial.OnRecv(Seg(two)) == 9 && partial.Frames.Count == 2 && partial.Frames[1] == 5,
            "two whole frames and the start of a third: 9 bytes used, 2 frames");
        RecvBuffer buffer = new RecvBuffer(8);
        Check(!buffer.OnWrite(9) && buffer.OnWrite(8) && !buffer.OnRead(9) && buffer.OnRead(8),
            "RecvBuffer refuses to read or write past its bounds");
    }

    static void Writes()
    {
        C_Variable tooMany = new C_Variable();
        for (int i = 0; i < 70000; i++)
            tooMany.numbers.Add(i);
        ExpectEncode(PacketError.TooLong, "70000 list elements", () => tooMany.Write());
        C_Variable tooBig = new C_Variable();
        for (int i = 0; i < 20000; i++)
            tooBig.names.Add("ab");
        ExpectEncode(PacketError.FrameTooLarge, "a frame of 120 KB", () => tooBig.Write());
        ExpectEncode(PacketError.NullField, "a null string", () => new C_Variable { text = null }.Write());
        ExpectEncode(PacketError.NullField, "a null list", () => new C_Variable { points = null }.Write());
        C_Variable nullItem = new C_Variable();
        nullItem.points.Add(null);
        ExpectEncode(PacketError.NullField, "a null list element", () => nullItem.Write());
        ExpectEncode(PacketError.InvalidString, "a lone surrogate", () => new C_Variable { text = "a\uD800b" }.Write());
        ArraySegment<byte> exact = new C_Scalars().Write();
        Check(exact.Count == 4 + 1 + 1 + 1 + 2 + 2 + 4 + 4 + 8 + 8 + 4 + 8, "Write returns exactly the frame's size");
    }

    static void MainThreadQueue()
    {
        PacketQueue queue = new PacketQueue();
        bool all = true;
        for (int i = 0; i < PacketQueue.Capacity; i++)
            all &= queue.Push(new S_Skills { ownerId = (ulong)i });
        Check(all, "PacketQueue takes Capacity packets");
        Check(!queue.Push(new Empty()), "PacketQueue refuses a packet past Capacity");
        IPacket first = queue.Pop();
        Check(first is S_Skills && ((S_Skills)first).ownerId == 0, "Pop gives the oldest packet");
        List<IPacket> rest = queue.PopAll();
        Check(rest.Count == PacketQueue.Capacity - 1 && ((S_Skills)rest[rest.Count - 1]).ownerId == PacketQueue.Capacity - 1,
            "PopAll gives the rest in order");
        Check(queue.Pop() == null && queue.Push(new Empty()), "an emptied queue takes packets again");
    }

    /// <summary>
    /// The runtime over real loopback sockets: each way a session can end gives its reason.
    /// A local listener plays the server; every wait has a generous timeout.
    /// </summary>
    static void Sockets()
    {
        TcpListener listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        IPEndPoint endPoint = (IPEndPoint)listener.LocalEndpoint;
        TimeSpan wait = TimeSpan.FromSeconds(20);

        // The peer sends a frame, a whole valid packet, then closes: RemoteClosed.
        FrameCounter closed = Connect(listener, endPoint, new ManagedSession(), wait, peer =>
        {
            ArraySegment<byte> empty = new Empty().Write();
            peer.Send(empty.Array, empty.Offset, empty.Count, SocketFlags.None);
            peer.Shutdown(SocketShutdown.Both);
        });
        Check(closed != null && closed.Ended.WaitOne(wait) && closed.DisconnectReason == DisconnectReason.RemoteClosed,
            "a peer that closes ends the session with RemoteClosed, got " + (closed == null ? "no session" : closed.DisconnectReason.ToString()));

        // The peer sends a frame whose size is 0: ProtocolError, not an endless loop.
        FrameCounter zero = Connect(listener, endPoint, new FrameCounter(), wait, peer =>
            peer.Send(new byte[] { 0, 0, 1, 0 }));
        Check(zero != null && zero.Ended.WaitOne(wait) && zero.DisconnectReason == DisconnectReason.ProtocolError
            && zero.DisconnectException is FrameException,
            "a size-0 frame ends the session with ProtocolError, got " + (zero == null ? "no session" : zero.DisconnectReason + " " + zero.DisconnectDetail));

        // The peer sends an id the client does not receive: ReceiveError with the typed exception.
        FrameCounter unknown = Connect(listener, endPoint, new ManagedSession(), wait, peer =>
            peer.Send(new byte[] { 4, 0, 0xE7, 0x03 }));
        bool ended = unknown != null && unknown.Ended.WaitOne(wait);
        PacketDecodeException decode = ended ? unknown.DisconnectException as PacketDecodeException : null;
        Check(ended && unknown.DisconnectReason == DisconnectReason.ReceiveError
            && decode != null && decode.Kind == PacketError.UnknownId,
            "an unknown id ends the session with ReceiveError and a PacketDecodeException, got "
            + (unknown == null ? "no session" : unknown.DisconnectReason + " " + unknown.DisconnectDetail));

        // The peer never reads: the bounded send queue fills and the session ends with
        // SendQueueFull instead of growing without bound.
        Socket silent = null;
        FrameCounter flooded = Connect(listener, endPoint, new FrameCounter(), wait, peer => silent = peer);
        if (flooded != null)
        {
            flooded.MaxSendQueue = 8;
            byte[] frame = new byte[60000];
            frame[0] = 0x60;
            frame[1] = 0xEA; // 60000
            for (int i = 0; i < 100000 && !flooded.IsDisconnected; i++)
                flooded.Send(new ArraySegment<byte>(frame));
            Check(flooded.Ended.WaitOne(wait) && flooded.DisconnectReason == DisconnectReason.SendQueueFull,
                "a peer that never reads ends the session with SendQueueFull, got " + flooded.DisconnectReason);
        }
        else
        {
            Check(false, "the flooding session did not connect");
        }
        if (silent != null)
            silent.Close();

        // Disconnect() is Local, and a second call changes nothing.
        FrameCounter local = Connect(listener, endPoint, new FrameCounter(), wait, peer => { });
        if (local != null)
        {
            local.Disconnect();
            local.Disconnect();
            local.Send(new ArraySegment<byte>(new byte[] { 4, 0, 1, 0 })); // ignored after the end
        }
        Check(local != null && local.Ended.WaitOne(wait) && local.DisconnectReason == DisconnectReason.Local,
            "Disconnect() ends the session with Local");
        listener.Stop();
    }

    /// <summary>Connects <paramref name="session"/> to the listener, then lets <paramref name="peer"/> act as the server.</summary>
    static T Connect<T>(TcpListener listener, IPEndPoint endPoint, T session, TimeSpan wait, Action<Socket> peer) where T : FrameCounter
    {
        Connector connector = new Connector();
        connector.Connect(endPoint, () => session);
        Socket accepted = listener.AcceptSocket();
        if (!session.Connected.WaitOne(wait))
            return null;
        peer(accepted);
        return session;
    }

    static void RandomBytes()
    {
        // Random bodies under every packet's id: anything may happen except an exception
        // other than PacketDecodeException.
        Random random = new Random(12345);
        ushort[] ids = { (ushort)PacketID.C_Scalars, (ushort)PacketID.C_Variable, (ushort)PacketID.S_Skills, (ushort)PacketID.Empty };
        Func<IPacket>[] makers = { () => new C_Scalars(), () => new C_Variable(), () => new S_Skills(), () => new Empty() };
        int refused = 0;
        int bad = 0;
        for (int round = 0; round < 20000; round++)
        {
            int which = random.Next(ids.Length);
            byte[] body = new byte[random.Next(0, 64)];
            random.NextBytes(body);
            // Small counts and lengths now and then, so some decodes get deep.
            for (int i = 0; i + 1 < body.Length; i += 2)
                if (random.Next(4) == 0)
                    body[i + 1] = 0;
            try
            {
                makers[which]().Read(Seg(Frame(ids[which], body, body.Length)));
            }
            catch (PacketDecodeException)
            {
                refused++;
            }
            catch (Exception e)
            {
                if (bad++ < 5)
                    Check(false, "random body for id " + ids[which] + ": " + e.GetType().Name + ": " + e.Message);
            }
        }
        Check(bad == 0, bad + " random bodies threw something other than PacketDecodeException");
        Check(refused > 10000, "most random bodies are refused (" + refused + " of 20000)");
    }
}
