using System;

namespace ServerCore
{
    /// <summary>
    /// A session that cuts the byte stream into frames (u16 size including the 4-byte
    /// header, u16 id, body) and calls OnRecvPacket once per whole frame.
    /// </summary>
    public abstract class PacketSession : Session
    {
        /// <summary>Bytes of the size field, the least needed to know a frame's length.</summary>
        public static readonly int HeaderSize = 2;

        /// <summary>
        /// Hands every whole frame in <paramref name="buffer"/> to OnRecvPacket and returns the
        /// bytes they took; a partial frame stays for the next receive. Throws FrameException on
        /// a size below 4 (the course looped forever on size 0); the session then closes.
        /// </summary>
        public sealed override int OnRecv(ArraySegment<byte> buffer)
        {
            int processed = 0;
            while (buffer.Count >= HeaderSize && !IsDisconnected)
            {
                int size = buffer.Array[buffer.Offset] | (buffer.Array[buffer.Offset + 1] << 8);
                if (size < 4)
                    throw new FrameException(size);
                if (buffer.Count < size)
                    break;
                OnRecvPacket(new ArraySegment<byte>(buffer.Array, buffer.Offset, size));
                processed += size;
                buffer = new ArraySegment<byte>(buffer.Array, buffer.Offset + size, buffer.Count - size);
            }
            return processed;
        }

        /// <summary>One whole frame, header included (pass it to PacketManager.Instance.OnRecvPacket).</summary>
        public abstract void OnRecvPacket(ArraySegment<byte> buffer);
    }
}
