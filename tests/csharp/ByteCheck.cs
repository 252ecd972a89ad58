// The C# half of tests/csharp_bytes.rs, compiled with the C# generated from any schema
// (it finds packets through PacketID and fills fields by reflection, so it is not tied to
// one schema) and the ServerCore runtime.
//
//   ByteCheck.exe roundtrip IN OUT        each frame of IN: Read, then Write, into OUT
//   ByteCheck.exe generate SEED COUNT OUT COUNT packets of every type per edge mode and at
//                                         random, encoded into OUT
//
// Files are frames back to back (each starts with its u16 size). Rust does the comparing.
using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Reflection;
using System.Text;

static class ByteCheck
{
    static int Main(string[] args)
    {
        try
        {
            if (args.Length == 3 && args[0] == "roundtrip")
                return RoundTrip(args[1], args[2]);
            if (args.Length == 4 && args[0] == "generate")
                return Generate(int.Parse(args[1]), int.Parse(args[2]), args[3]);
        }
        catch (Exception e)
        {
            Console.Error.WriteLine("ByteCheck failed: " + e);
            return 1;
        }
        Console.Error.WriteLine("usage: ByteCheck.exe roundtrip IN OUT | generate SEED COUNT OUT");
        return 2;
    }

    static IPacket Create(ushort id)
    {
        if (!Enum.IsDefined(typeof(PacketID), (int)id))
            throw new InvalidDataException("id " + id + " is not in the schema");
        Type type = typeof(IPacket).Assembly.GetType(((PacketID)id).ToString(), true);
        return (IPacket)Activator.CreateInstance(type);
    }

    static int RoundTrip(string input, string output)
    {
        byte[] bytes = File.ReadAllBytes(input);
        int frames = 0;
        using (FileStream o = File.Create(output))
        {
            int at = 0;
            while (at < bytes.Length)
            {
                int size = bytes[at] | (bytes[at + 1] << 8);
                ushort id = (ushort)(bytes[at + 2] | (bytes[at + 3] << 8));
                IPacket packet = Create(id);
                packet.Read(new ArraySegment<byte>(bytes, at, size));
                ArraySegment<byte> again = packet.Write();
                o.Write(again.Array, again.Offset, again.Count);
                at += size;
                frames++;
            }
        }
        Console.WriteLine("roundtrip: " + frames + " frames read and written again");
        return 0;
    }

    enum Mode { Min, Max, Empty, Long, Random }

    static int Generate(int seed, int count, string output)
    {
        Random random = new Random(seed);
        int frames = 0;
        using (FileStream o = File.Create(output))
        {
            foreach (PacketID id in Enum.GetValues(typeof(PacketID)))
            {
                List<Mode> modes = new List<Mode> { Mode.Min, Mode.Max, Mode.Empty, Mode.Long };
                for (int i = 0; i < count; i++)
                    modes.Add(Mode.Random);
                foreach (Mode mode in modes)
                {
                    IPacket packet = Create((ushort)id);
                    Fill(packet, mode, random, 0);
                    ArraySegment<byte> frame = packet.Write();
                    o.Write(frame.Array, frame.Offset, frame.Count);
                    frames++;
                }
            }
        }
        Console.WriteLine("generate: " + frames + " frames");
        return 0;
    }

    static void Fill(object target, Mode mode, Random random, int depth)
    {
        foreach (FieldInfo field in target.GetType().GetFields(BindingFlags.Public | BindingFlags.Instance))
            field.SetValue(target, Value(field.FieldType, mode, random, depth));
    }

    static readonly string[] Pieces = { "a", "Z", "é", "안", "녕", "😀", "🎮", " ", "\0" };

    static object Value(Type type, Mode mode, Random random, int depth)
    {
        if (type == typeof(bool)) return mode == Mode.Max || (mode == Mode.Random && random.Next(2) == 1);
        if (type == typeof(sbyte)) return Pick(mode, random, sbyte.MinValue, sbyte.MaxValue, b => (sbyte)b[0]);
        if (type == typeof(byte)) return Pick(mode, random, byte.MinValue, byte.MaxValue, b => b[0]);
        if (type == typeof(short)) return Pick(mode, random, short.MinValue, short.MaxValue, b => BitConverter.ToInt16(b, 0));
        if (type == typeof(ushort)) return Pick(mode, random, ushort.MinValue, ushort.MaxValue, b => BitConverter.ToUInt16(b, 0));
        if (type == typeof(int)) return Pick(mode, random, int.MinValue, int.MaxValue, b => BitConverter.ToInt32(b, 0));
        if (type == typeof(uint)) return Pick(mode, random, uint.MinValue, uint.MaxValue, b => BitConverter.ToUInt32(b, 0));
        if (type == typeof(long)) return Pick(mode, random, long.MinValue, long.MaxValue, b => BitConverter.ToInt64(b, 0));
        if (type == typeof(ulong)) return Pick(mode, random, ulong.MinValue, ulong.MaxValue, b => BitConverter.ToUInt64(b, 0));
        if (type == typeof(float))
        {
            float f = Pick(mode, random, float.MinValue, float.MaxValue, b => BitConverter.ToSingle(b, 0));
            if (mode == Mode.Empty) f = -0.0f;
            if (mode == Mode.Long) f = random.Next(2) == 0 ? float.PositiveInfinity : float.Epsilon;
            return float.IsNaN(f) ? 1.5f : f;
        }
        if (type == typeof(double))
        {
            double d = Pick(mode, random, double.MinValue, double.MaxValue, b => BitConverter.ToDouble(b, 0));
            if (mode == Mode.Empty) d = -0.0;
            if (mode == Mode.Long) d = random.Next(2) == 0 ? double.NegativeInfinity : double.Epsilon;
            return double.IsNaN(d) ? -2.25 : d;
        }
        if (type == typeof(string))
        {
            if (mode == Mode.Empty || mode == Mode.Min) return "";
            if (mode == Mode.Long) return "x";
            StringBuilder text = new StringBuilder();
            int pieces = mode == Mode.Max ? 40 : random.Next(0, 12);
            for (int i = 0; i < pieces; i++)
                text.Append(Pieces[random.Next(Pieces.Length)]);
            return text.ToString();
        }
        if (type == typeof(byte[]))
        {
            int length = mode == Mode.Empty || mode == Mode.Min ? 0 : mode == Mode.Max ? 300 : mode == Mode.Long ? 1 : random.Next(0, 16);
            byte[] bytes = new byte[length];
            random.NextBytes(bytes);
            return bytes;
        }
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>))
        {
            Type element = type.GetGenericArguments()[0];
            IList list = (IList)Activator.CreateInstance(type);
            int length;
            if (mode == Mode.Empty) length = 0;
            else if (mode == Mode.Long && depth == 0) length = element.IsPrimitive || element == typeof(string) ? 1000 : 300;
            else if (mode == Mode.Min || mode == Mode.Max) length = 1 + random.Next(3);
            else length = random.Next(0, depth == 0 ? 6 : 3);
            for (int i = 0; i < length; i++)
                list.Add(Value(element, mode == Mode.Long && depth > 0 ? Mode.Random : mode, random, depth + 1));
            return list;
        }
        if (type.IsClass)
        {
            object nested = Activator.CreateInstance(type);
            Fill(nested, mode, random, depth + 1);
            return nested;
        }
        throw new NotSupportedException("no values for " + type);
    }

    static T Pick<T>(Mode mode, Random random, T min, T max, Func<byte[], T> fromBytes)
    {
        if (mode == Mode.Min) return min;
        if (mode == Mode.Max) return max;
        if (mode == Mode.Empty) return default(T);
        byte[] bytes = new byte[8];
        random.NextBytes(bytes);
        return fromBytes(bytes);
    }
}
