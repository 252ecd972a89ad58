using System;

namespace ServerCore
{
    /// <summary>
    /// Hands out reservations from per-thread chunks, so writing a packet allocates nothing
    /// most of the time. A reservation must be closed on the thread that opened it, before
    /// the next Open (the generated Write() does both in one call). A closed segment stays
    /// valid while anything holds it: a full chunk is replaced, never reused.
    /// </summary>
    public static class SendBufferHelper
    {
        /// <summary>Bytes per chunk; a reservation may not be larger. Four maximum frames.</summary>
        public const int ChunkSize = 65535 * 4;

        [ThreadStatic]
        static SendBuffer _current;

        /// <summary>Reserves <paramref name="reserveSize"/> bytes on this thread's chunk.</summary>
        public static ArraySegment<byte> Open(int reserveSize)
        {
            if (reserveSize < 0 || reserveSize > ChunkSize)
                throw new ArgumentOutOfRangeException("reserveSize", reserveSize, "must be between 0 and " + ChunkSize);
            if (_current == null || _current.FreeSize < reserveSize)
                _current = new SendBuffer(ChunkSize);
            return _current.Open(reserveSize);
        }

        /// <summary>Ends this thread's reservation after <paramref name="usedSize"/> bytes and returns them.</summary>
        public static ArraySegment<byte> Close(int usedSize)
        {
            if (_current == null)
                throw new InvalidOperationException("SendBufferHelper.Close without Open on this thread");
            return _current.Close(usedSize);
        }
    }

    /// <summary>One chunk: reservations are carved from the front and never reused.</summary>
    public class SendBuffer
    {
        readonly byte[] _buffer;
        int _usedSize;
        int _reserved = -1;

        public SendBuffer(int chunkSize)
        {
            _buffer = new byte[chunkSize];
        }

        /// <summary>Bytes not handed out yet.</summary>
        public int FreeSize { get { return _buffer.Length - _usedSize; } }

        public ArraySegment<byte> Open(int reserveSize)
        {
            if (reserveSize < 0 || reserveSize > FreeSize)
                throw new ArgumentOutOfRangeException("reserveSize", reserveSize, "only " + FreeSize + " bytes free");
            _reserved = reserveSize;
            return new ArraySegment<byte>(_buffer, _usedSize, reserveSize);
        }

        public ArraySegment<byte> Close(int usedSize)
        {
            if (_reserved < 0)
                throw new InvalidOperationException("SendBuffer.Close without Open");
            if (usedSize < 0 || usedSize > _reserved)
                throw new ArgumentOutOfRangeException("usedSize", usedSize, "only " + _reserved + " bytes were reserved");
            ArraySegment<byte> segment = new ArraySegment<byte>(_buffer, _usedSize, usedSize);
            _usedSize += usedSize;
            _reserved = -1;
            return segment;
        }
    }
}
