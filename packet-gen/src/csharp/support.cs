/// <summary>What was wrong with a packet that could not be read or written.</summary>
public enum PacketError
{
    /// <summary>The frame is shorter than its 4-byte header.</summary>
    FrameTooShort,
    /// <summary>The size header does not match the length of the frame given.</summary>
    SizeMismatch,
    /// <summary>The id header is not the id of the packet asked to read it.</summary>
    WrongId,
    /// <summary>No packet that this side receives has this id.</summary>
    UnknownId,
    /// <summary>A field needs more bytes than the body has left.</summary>
    Truncated,
    /// <summary>Bytes are left over after the last field.</summary>
    TrailingBytes,
    /// <summary>A list count that the bytes left cannot hold, even with the smallest elements.</summary>
    CountTooLarge,
    /// <summary>A string whose bytes are not valid in the schema's encoding (or, when writing, a string with a lone surrogate).</summary>
    InvalidString,
    /// <summary>A string, byte array or list longer than its u16 length prefix can say.</summary>
    TooLong,
    /// <summary>The whole packet is larger than the 65535 bytes its size header can say.</summary>
    FrameTooLarge,
    /// <summary>A string, byte array, list, struct or list element is null.</summary>
    NullField,
}

/// <summary>A packet that could not be read or written; <see cref="Kind"/> says why.</summary>
public class PacketException : Exception
{
    /// <summary>The packet's schema name, or null when the id was not known.</summary>
    public readonly string Packet;
    /// <summary>The field's schema name (<c>Player.posX</c>), or null for the frame itself.</summary>
    public readonly string Field;
    /// <summary>Why.</summary>
    public readonly PacketError Kind;

    public PacketException(string packet, string field, PacketError kind, string message, Exception inner = null)
        : base(Describe(packet, field, message), inner)
    {
        Packet = packet;
        Field = field;
        Kind = kind;
    }

    static string Describe(string packet, string field, string message)
    {
        string where = packet == null ? "packet" : packet;
        if (field != null)
            where += "." + field;
        return where + ": " + message;
    }
}

/// <summary>Bytes from the network that do not make a valid packet: the session that received them should be closed.</summary>
public class PacketDecodeException : PacketException
{
    public PacketDecodeException(string packet, string field, PacketError kind, string message, Exception inner = null)
        : base(packet, field, kind, message, inner) { }
}

/// <summary>A local packet value that cannot be put on the wire (too long, null, a lone surrogate).</summary>
public class PacketEncodeException : PacketException
{
    public PacketEncodeException(string packet, string field, PacketError kind, string message, Exception inner = null)
        : base(packet, field, kind, message, inner) { }
}

/// <summary>
/// Reads one frame's body with a bounds check before every read; every failure is a
/// <see cref="PacketDecodeException"/>, never an out-of-range index.
/// </summary>
public struct PacketReader
{
    // Strict decoders: invalid bytes throw instead of turning into U+FFFD, so what we
    // accept re-encodes to the same bytes.
    static readonly Encoding Utf16 = new UnicodeEncoding(false, false, true);
    static readonly Encoding Utf8 = new UTF8Encoding(false, true);

    readonly byte[] _array;
    readonly int _end;
    readonly string _packet;
    int _pos;

    PacketReader(byte[] array, int pos, int end, string packet)
    {
        _array = array;
        _pos = pos;
        _end = end;
        _packet = packet;
    }

    /// <summary>
    /// Checks a whole frame's header (size equal to the frame's length, id equal to
    /// <paramref name="id"/>) and returns a reader over its body.
    /// </summary>
    public static PacketReader Frame(ArraySegment<byte> frame, ushort id, string packet)
    {
        CheckHeader(frame, packet);
        ushort got = (ushort)(frame.Array[frame.Offset + 2] | (frame.Array[frame.Offset + 3] << 8));
        if (got != id)
            throw new PacketDecodeException(packet, null, PacketError.WrongId, "frame has id " + got + ", expected " + id);
        return new PacketReader(frame.Array, frame.Offset + 4, frame.Offset + frame.Count, packet);
    }

    /// <summary>Checks that <paramref name="frame"/> holds a 4-byte header whose size is the frame's length; returns the id.</summary>
    public static ushort CheckHeader(ArraySegment<byte> frame, string packet)
    {
        if (frame.Array == null || frame.Count < 4)
            throw new PacketDecodeException(packet, null, PacketError.FrameTooShort,
                "frame of " + (frame.Array == null ? 0 : frame.Count) + " bytes is shorter than its 4-byte header");
        int size = frame.Array[frame.Offset] | (frame.Array[frame.Offset + 1] << 8);
        if (size != frame.Count)
            throw new PacketDecodeException(packet, null, PacketError.SizeMismatch,
                "size header says " + size + " bytes, the frame has " + frame.Count);
        return (ushort)(frame.Array[frame.Offset + 2] | (frame.Array[frame.Offset + 3] << 8));
    }

    /// <summary>Bytes of the body not read yet.</summary>
    public int Remaining { get { return _end - _pos; } }

    int Take(int count, string field)
    {
        if (_end - _pos < count)
            throw new PacketDecodeException(_packet, field, PacketError.Truncated,
                "needs " + count + " bytes, " + (_end - _pos) + " left");
        int at = _pos;
        _pos += count;
        return at;
    }

    public bool ReadBool(string field) { return _array[Take(1, field)] != 0; }
    public sbyte ReadSByte(string field) { return (sbyte)_array[Take(1, field)]; }
    public byte ReadByte(string field) { return _array[Take(1, field)]; }
    public short ReadInt16(string field) { return (short)ReadUInt16(field); }

    public ushort ReadUInt16(string field)
    {
        int at = Take(2, field);
        return (ushort)(_array[at] | (_array[at + 1] << 8));
    }

    public int ReadInt32(string field) { return (int)ReadUInt32(field); }

    public uint ReadUInt32(string field)
    {
        int at = Take(4, field);
        return (uint)(_array[at] | (_array[at + 1] << 8) | (_array[at + 2] << 16) | (_array[at + 3] << 24));
    }

    public long ReadInt64(string field) { return (long)ReadUInt64(field); }

    public ulong ReadUInt64(string field)
    {
        int at = Take(8, field);
        uint lo = (uint)(_array[at] | (_array[at + 1] << 8) | (_array[at + 2] << 16) | (_array[at + 3] << 24));
        uint hi = (uint)(_array[at + 4] | (_array[at + 5] << 8) | (_array[at + 6] << 16) | (_array[at + 7] << 24));
        return lo | ((ulong)hi << 32);
    }

    public float ReadSingle(string field)
    {
        FloatBits bits = new FloatBits();
        bits.Int = ReadInt32(field);
        return bits.Float;
    }

    public double ReadDouble(string field) { return BitConverter.Int64BitsToDouble(ReadInt64(field)); }

    /// <summary>A u16 byte length, then that many bytes of UTF-16LE (even, no lone surrogates).</summary>
    public string ReadStringUtf16(string field)
    {
        int length = ReadUInt16(field);
        if (length % 2 != 0)
            throw new PacketDecodeException(_packet, field, PacketError.InvalidString,
                "odd byte length " + length + " for a utf-16le string");
        return Decode(Utf16, length, field, "utf-16le");
    }

    /// <summary>A u16 byte length, then that many bytes of valid UTF-8.</summary>
    public string ReadStringUtf8(string field) { return Decode(Utf8, ReadUInt16(field), field, "utf-8"); }

    string Decode(Encoding encoding, int length, string field, string name)
    {
        int at = Take(length, field);
        try
        {
            return encoding.GetString(_array, at, length);
        }
        catch (ArgumentException e) // DecoderFallbackException: invalid bytes
        {
            throw new PacketDecodeException(_packet, field, PacketError.InvalidString, "invalid " + name + " string", e);
        }
    }

    /// <summary>A u16 byte length, then the raw bytes.</summary>
    public byte[] ReadBytes(string field)
    {
        int length = ReadUInt16(field);
        int at = Take(length, field);
        byte[] value = new byte[length];
        Buffer.BlockCopy(_array, at, value, 0, length);
        return value;
    }

    /// <summary>
    /// A list's u16 count, refused before anything is allocated when the bytes left could
    /// not hold that many elements of at least <paramref name="minElementSize"/> bytes.
    /// </summary>
    public int ReadCount(string field, int minElementSize)
    {
        int count = ReadUInt16(field);
        if ((long)count * minElementSize > _end - _pos)
            throw new PacketDecodeException(_packet, field, PacketError.CountTooLarge,
                "count " + count + " needs at least " + ((long)count * minElementSize) + " bytes, " + (_end - _pos) + " left");
        return count;
    }

    /// <summary>Checks that the whole body was read.</summary>
    public void End()
    {
        if (_pos != _end)
            throw new PacketDecodeException(_packet, null, PacketError.TrailingBytes,
                (_end - _pos) + " trailing bytes after the last field");
    }
}

/// <summary>
/// Writes one frame into exactly the bytes reserved for it. Sizes are computed (and length
/// limits checked) before anything is reserved, so a write past the end means the packet
/// changed while it was being written; that throws rather than overrunning the buffer.
/// </summary>
public struct PacketWriter
{
    static readonly Encoding Utf16 = new UnicodeEncoding(false, false, true);
    static readonly Encoding Utf8 = new UTF8Encoding(false, true);

    readonly byte[] _array;
    readonly int _end;
    readonly string _packet;
    int _pos;

    PacketWriter(byte[] array, int pos, int end, string packet)
    {
        _array = array;
        _pos = pos;
        _end = end;
        _packet = packet;
    }

    /// <summary>The frame size for a body of <paramref name="bodySize"/> bytes, refused past 65535.</summary>
    public static int FrameSize(string packet, long bodySize)
    {
        long size = 4 + bodySize;
        if (size > ushort.MaxValue)
            throw new PacketEncodeException(packet, null, PacketError.FrameTooLarge,
                "frame of " + size + " bytes does not fit the u16 size header");
        return (int)size;
    }

    /// <summary>A writer over the first <paramref name="size"/> bytes of <paramref name="segment"/>, header written.</summary>
    public static PacketWriter Frame(ArraySegment<byte> segment, int size, ushort id, string packet)
    {
        if (segment.Array == null || segment.Count < size)
            throw new InvalidOperationException(packet + ": SendBufferHelper.Open returned fewer than the " + size + " bytes asked for");
        PacketWriter w = new PacketWriter(segment.Array, segment.Offset, segment.Offset + size, packet);
        w.WriteUInt16((ushort)size);
        w.WriteUInt16(id);
        return w;
    }

    int Take(int count)
    {
        if (_end - _pos < count)
            throw new InvalidOperationException(_packet + " changed while it was being written: it no longer fits the bytes reserved for it");
        int at = _pos;
        _pos += count;
        return at;
    }

    public void WriteBool(bool value) { _array[Take(1)] = (byte)(value ? 1 : 0); }
    public void WriteSByte(sbyte value) { _array[Take(1)] = (byte)value; }
    public void WriteByte(byte value) { _array[Take(1)] = value; }
    public void WriteInt16(short value) { WriteUInt16((ushort)value); }

    public void WriteUInt16(ushort value)
    {
        int at = Take(2);
        _array[at] = (byte)value;
        _array[at + 1] = (byte)(value >> 8);
    }

    public void WriteInt32(int value) { WriteUInt32((uint)value); }

    public void WriteUInt32(uint value)
    {
        int at = Take(4);
        _array[at] = (byte)value;
        _array[at + 1] = (byte)(value >> 8);
        _array[at + 2] = (byte)(value >> 16);
        _array[at + 3] = (byte)(value >> 24);
    }

    public void WriteInt64(long value) { WriteUInt64((ulong)value); }

    public void WriteUInt64(ulong value)
    {
        WriteUInt32((uint)value);
        WriteUInt32((uint)(value >> 32));
    }

    public void WriteSingle(float value)
    {
        FloatBits bits = new FloatBits();
        bits.Float = value;
        WriteInt32(bits.Int);
    }

    public void WriteDouble(double value) { WriteInt64(BitConverter.DoubleToInt64Bits(value)); }

    public void WriteStringUtf16(string value) { WriteEncoded(Utf16, value); }
    public void WriteStringUtf8(string value) { WriteEncoded(Utf8, value); }

    void WriteEncoded(Encoding encoding, string value)
    {
        int length = encoding.GetByteCount(value);
        WriteUInt16((ushort)length);
        int at = Take(length);
        encoding.GetBytes(value, 0, value.Length, _array, at);
    }

    public void WriteBytes(byte[] value)
    {
        WriteUInt16((ushort)value.Length);
        int at = Take(value.Length);
        Buffer.BlockCopy(value, 0, _array, at, value.Length);
    }

    /// <summary>Checks that exactly the reserved bytes were written.</summary>
    public void End()
    {
        if (_pos != _end)
            throw new InvalidOperationException(_packet + " changed while it was being written: " + (_end - _pos) + " reserved bytes left unwritten");
    }

    /// <summary>Bytes a utf-16le string takes, prefix included; checks null, length and lone surrogates.</summary>
    public static long StringSizeUtf16(string value, string packet, string field) { return EncodedSize(Utf16, value, packet, field); }

    /// <summary>Bytes a utf-8 string takes, prefix included; checks null, length and lone surrogates.</summary>
    public static long StringSizeUtf8(string value, string packet, string field) { return EncodedSize(Utf8, value, packet, field); }

    static long EncodedSize(Encoding encoding, string value, string packet, string field)
    {
        NotNull(value, packet, field);
        int length;
        try
        {
            length = encoding.GetByteCount(value);
        }
        catch (ArgumentException e) // EncoderFallbackException: a lone surrogate
        {
            throw new PacketEncodeException(packet, field, PacketError.InvalidString, "string has a lone surrogate", e);
        }
        return 2 + CheckLength(length, packet, field);
    }

    /// <summary>Bytes a byte array takes, prefix included.</summary>
    public static long BytesSize(byte[] value, string packet, string field)
    {
        NotNull(value, packet, field);
        return 2 + CheckLength(value.Length, packet, field);
    }

    /// <summary>Checks a list for null and for a count that fits its u16 prefix.</summary>
    public static void CheckList<T>(List<T> value, string packet, string field)
    {
        NotNull(value, packet, field);
        CheckLength(value.Count, packet, field);
    }

    /// <summary>Refuses a null string, array, list, struct or list element.</summary>
    public static void NotNull(object value, string packet, string field)
    {
        if (value == null)
            throw new PacketEncodeException(packet, field, PacketError.NullField, "is null");
    }

    /// <summary>Refuses a null struct; returns it so a size expression can go on.</summary>
    public static T NotNullStruct<T>(T value, string packet, string field) where T : class
    {
        NotNull(value, packet, field);
        return value;
    }

    static int CheckLength(int length, string packet, string field)
    {
        if (length > ushort.MaxValue)
            throw new PacketEncodeException(packet, field, PacketError.TooLong,
                "length " + length + " does not fit the u16 length prefix");
        return length;
    }
}

/// <summary>
/// The bits of a float without BitConverter.SingleToInt32Bits (missing from .NET Framework
/// and older Unity profiles) and without allocating; both fields share one native-order
/// slot, so the conversion is exact on every platform.
/// </summary>
[System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Explicit)]
struct FloatBits
{
    [System.Runtime.InteropServices.FieldOffset(0)] public int Int;
    [System.Runtime.InteropServices.FieldOffset(0)] public float Float;
}
