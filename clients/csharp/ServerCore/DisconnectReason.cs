using System;

namespace ServerCore
{
    /// <summary>Why a session ended; see Session.DisconnectReason and Session.DisconnectDetail.</summary>
    public enum DisconnectReason
    {
        /// <summary>Still connected.</summary>
        None,
        /// <summary>This side called Disconnect().</summary>
        Local,
        /// <summary>The peer closed the connection (a read of 0 bytes).</summary>
        RemoteClosed,
        /// <summary>A send or receive failed (reset, aborted ...).</summary>
        SocketError,
        /// <summary>Send() found the bounded send queue full: the peer is not reading.</summary>
        SendQueueFull,
        /// <summary>The byte stream broke the framing rules (a size below 4).</summary>
        ProtocolError,
        /// <summary>OnRecv/OnRecvPacket threw: a packet that did not decode (PacketDecodeException), or a handler bug.</summary>
        ReceiveError,
    }

    /// <summary>A frame whose size header is below the 4-byte header itself.</summary>
    public class FrameException : Exception
    {
        public readonly int Size;

        public FrameException(int size)
            : base("frame size " + size + " is smaller than the 4-byte header")
        {
            Size = size;
        }
    }
}
