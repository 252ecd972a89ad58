using System;

namespace ServerCore
{
    /// <summary>
    /// A fixed receive buffer: the socket writes at the write position, the session reads
    /// whole frames from the read position, and Clean() moves a partial frame to the front.
    /// Fixed size on purpose: a peer cannot grow it; a frame that cannot fit (never the
    /// case at the default 64 KiB, as a frame is at most 65535 bytes) closes the session.
    /// </summary>
    public class RecvBuffer
    {
        readonly ArraySegment<byte> _buffer;
        int _readPos;
        int _writePos;

        public RecvBuffer(int bufferSize)
        {
            if (bufferSize <= 0)
                throw new ArgumentOutOfRangeException("bufferSize", "must be positive");
            _buffer = new ArraySegment<byte>(new byte[bufferSize], 0, bufferSize);
        }

        /// <summary>Bytes received and not yet read.</summary>
        public int DataSize { get { return _writePos - _readPos; } }

        /// <summary>Room left after the write position.</summary>
        public int FreeSize { get { return _buffer.Count - _writePos; } }

        /// <summary>The bytes received and not yet read.</summary>
        public ArraySegment<byte> ReadSegment
        {
            get { return new ArraySegment<byte>(_buffer.Array, _buffer.Offset + _readPos, DataSize); }
        }

        /// <summary>Where the next receive may write.</summary>
        public ArraySegment<byte> WriteSegment
        {
            get { return new ArraySegment<byte>(_buffer.Array, _buffer.Offset + _writePos, FreeSize); }
        }

        /// <summary>Moves unread bytes to the front so the free space is one piece.</summary>
        public void Clean()
        {
            int dataSize = DataSize;
            if (dataSize == 0)
            {
                _readPos = _writePos = 0;
            }
            else if (_readPos > 0)
            {
                Array.Copy(_buffer.Array, _buffer.Offset + _readPos, _buffer.Array, _buffer.Offset, dataSize);
                _readPos = 0;
                _writePos = dataSize;
            }
        }

        /// <summary>Marks bytes as read; false (and no change) if there are not that many.</summary>
        public bool OnRead(int numOfBytes)
        {
            if (numOfBytes < 0 || numOfBytes > DataSize)
                return false;
            _readPos += numOfBytes;
            return true;
        }

        /// <summary>Marks bytes as received; false (and no change) if there is not that much room.</summary>
        public bool OnWrite(int numOfBytes)
        {
            if (numOfBytes < 0 || numOfBytes > FreeSize)
                return false;
            _writePos += numOfBytes;
            return true;
        }
    }
}
