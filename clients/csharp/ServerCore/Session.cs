using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Threading;

namespace ServerCore
{
    /// <summary>
    /// One TCP connection driven by SocketAsyncEventArgs: one receive and at most one send
    /// in flight, callbacks on the thread pool, no thread of its own and no polling.
    /// Subclasses (usually through PacketSession) implement the four On* callbacks.
    /// </summary>
    public abstract class Session
    {
        /// <summary>Default cap on frames waiting to be sent; see MaxSendQueue.</summary>
        public const int DefaultMaxSendQueue = 4096;

        Socket _socket;
        int _disconnected;
        EndPoint _remote;

        readonly RecvBuffer _recvBuffer;
        readonly SocketAsyncEventArgs _recvArgs = new SocketAsyncEventArgs();
        readonly SocketAsyncEventArgs _sendArgs = new SocketAsyncEventArgs();

        // Guards the send queue and the list being sent; held only to move segments and
        // start a send, never while user code runs.
        readonly object _lock = new object();
        readonly Queue<ArraySegment<byte>> _sendQueue = new Queue<ArraySegment<byte>>();
        readonly List<ArraySegment<byte>> _pendingList = new List<ArraySegment<byte>>();

        protected Session(int recvBufferSize = 65536)
        {
            _recvBuffer = new RecvBuffer(recvBufferSize);
            _recvArgs.Completed += OnRecvCompleted;
            _sendArgs.Completed += OnSendCompleted;
            MaxSendQueue = DefaultMaxSendQueue;
        }

        /// <summary>
        /// Frames that may wait for the socket. Send() past it disconnects with
        /// SendQueueFull: a peer that stops reading must not grow this process without
        /// bound, and dropping one frame silently would corrupt the game state.
        /// </summary>
        public int MaxSendQueue { get; set; }

        /// <summary>Why the session ended (None while connected).</summary>
        public DisconnectReason DisconnectReason { get; private set; }

        /// <summary>Words for the reason: the socket error, the exception message ...</summary>
        public string DisconnectDetail { get; private set; }

        /// <summary>The exception that ended the session, for ProtocolError and ReceiveError.</summary>
        public Exception DisconnectException { get; private set; }

        public bool IsDisconnected { get { return Volatile.Read(ref _disconnected) != 0; } }

        public EndPoint RemoteEndPoint { get { return _remote; } }

        public abstract void OnConnected(EndPoint endPoint);
        /// <summary>Consumes received bytes; returns how many it used (the rest stay buffered).</summary>
        public abstract int OnRecv(ArraySegment<byte> buffer);
        public abstract void OnSend(int numOfBytes);
        /// <summary>Called once, after the socket is closed; DisconnectReason says why.</summary>
        public abstract void OnDisconnected(EndPoint endPoint);

        /// <summary>Takes a connected socket: calls OnConnected, then starts receiving.</summary>
        public void Start(Socket socket)
        {
            _socket = socket;
            try
            {
                _remote = socket.RemoteEndPoint;
            }
            catch (SocketException)
            {
                _remote = null;
            }
            OnConnected(_remote);
            RegisterRecv();
        }

        /// <summary>
        /// Queues one frame (any thread; never blocks). Ignored after the session ended;
        /// disconnects with SendQueueFull when MaxSendQueue frames are already waiting.
        /// </summary>
        public void Send(ArraySegment<byte> sendBuff)
        {
            bool full;
            lock (_lock)
            {
                if (IsDisconnected)
                    return;
                CheckStarted();
                full = _sendQueue.Count + 1 > MaxSendQueue;
                if (!full)
                {
                    _sendQueue.Enqueue(sendBuff);
                    if (_pendingList.Count == 0)
                        RegisterSend();
                }
            }
            if (full)
                Disconnect(DisconnectReason.SendQueueFull, MaxSendQueue + " frames already waiting");
        }

        /// <summary>Queues several frames at once, sent together; same rules as Send(ArraySegment).</summary>
        public void Send(List<ArraySegment<byte>> sendBuffList)
        {
            if (sendBuffList == null || sendBuffList.Count == 0)
                return;
            bool full;
            lock (_lock)
            {
                if (IsDisconnected)
                    return;
                CheckStarted();
                full = _sendQueue.Count + sendBuffList.Count > MaxSendQueue;
                if (!full)
                {
                    foreach (ArraySegment<byte> buff in sendBuffList)
                        _sendQueue.Enqueue(buff);
                    if (_pendingList.Count == 0)
                        RegisterSend();
                }
            }
            if (full)
                Disconnect(DisconnectReason.SendQueueFull, MaxSendQueue + " frames already waiting");
        }

        /// <summary>Closes the session (once; later calls do nothing).</summary>
        public void Disconnect()
        {
            Disconnect(DisconnectReason.Local, "Disconnect() called");
        }

        void Disconnect(DisconnectReason reason, string detail, Exception exception = null)
        {
            if (Interlocked.Exchange(ref _disconnected, 1) == 1)
                return;
            DisconnectReason = reason;
            DisconnectDetail = detail;
            DisconnectException = exception;
            Socket socket = _socket;
            if (socket != null)
            {
                try
                {
                    socket.Shutdown(SocketShutdown.Both);
                }
                catch (SocketException)
                {
                    // Already reset by the peer: closing is all that is left.
                }
                catch (ObjectDisposedException)
                {
                }
                socket.Close();
            }
            lock (_lock)
            {
                _sendQueue.Clear();
                _pendingList.Clear();
            }
            OnDisconnected(_remote);
        }

        void CheckStarted()
        {
            if (_socket == null)
                throw new InvalidOperationException("Send before Start: the session has no socket yet");
        }

        // Called with _lock held: everything queued joins the list in flight.
        void RegisterSend()
        {
            while (_sendQueue.Count > 0)
                _pendingList.Add(_sendQueue.Dequeue());
            StartSend();
        }

        // Called with _lock held. BufferList is assigned again after every change to
        // _pendingList because the socket copies the list when it is assigned.
        void StartSend()
        {
            _sendArgs.BufferList = null;
            _sendArgs.BufferList = _pendingList;
            bool pending;
            try
            {
                pending = _socket.SendAsync(_sendArgs);
            }
            catch (ObjectDisposedException)
            {
                return; // closed by Disconnect on another thread
            }
            catch (SocketException e)
            {
                // Not under this lock: Disconnect runs OnDisconnected, which is user code.
                ThreadPool.QueueUserWorkItem(_ => Disconnect(DisconnectReason.SocketError, "send failed: " + e.SocketErrorCode, e));
                return;
            }
            if (!pending)
                ThreadPool.QueueUserWorkItem(_ => OnSendCompleted(null, _sendArgs));
        }

        void OnSendCompleted(object sender, SocketAsyncEventArgs args)
        {
            string failure = null;
            int sent = args.BytesTransferred;
            lock (_lock)
            {
                if (IsDisconnected)
                    return;
                if (args.SocketError != SocketError.Success || sent == 0)
                {
                    failure = "send failed: " + args.SocketError;
                }
                else
                {
                    DropSent(sent);
                    if (_pendingList.Count > 0)
                        StartSend(); // a partial send: the rest goes first, in order
                    else if (_sendQueue.Count > 0)
                        RegisterSend();
                    else
                        _sendArgs.BufferList = null;
                }
            }
            if (failure != null)
                Disconnect(DisconnectReason.SocketError, failure);
            else
                OnSend(sent);
        }

        // Removes the first `sent` bytes from the list in flight (with _lock held).
        void DropSent(int sent)
        {
            int whole = 0;
            while (whole < _pendingList.Count && _pendingList[whole].Count <= sent)
            {
                sent -= _pendingList[whole].Count;
                whole++;
            }
            _pendingList.RemoveRange(0, whole);
            if (sent > 0 && _pendingList.Count > 0)
            {
                ArraySegment<byte> first = _pendingList[0];
                _pendingList[0] = new ArraySegment<byte>(first.Array, first.Offset + sent, first.Count - sent);
            }
        }

        void RegisterRecv()
        {
            // A loop, not recursion: a receive that completes at once is processed here.
            while (!IsDisconnected)
            {
                _recvBuffer.Clean();
                ArraySegment<byte> segment = _recvBuffer.WriteSegment;
                if (segment.Count == 0)
                {
                    Disconnect(DisconnectReason.ProtocolError, "a frame does not fit the receive buffer");
                    return;
                }
                _recvArgs.SetBuffer(segment.Array, segment.Offset, segment.Count);
                bool pending;
                try
                {
                    pending = _socket.ReceiveAsync(_recvArgs);
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
                catch (SocketException e)
                {
                    Disconnect(DisconnectReason.SocketError, "receive failed: " + e.SocketErrorCode, e);
                    return;
                }
                if (pending || !ProcessRecv(_recvArgs))
                    return;
            }
        }

        void OnRecvCompleted(object sender, SocketAsyncEventArgs args)
        {
            if (ProcessRecv(args))
                RegisterRecv();
        }

        /// <summary>Handles one completed receive; false when the session is over.</summary>
        bool ProcessRecv(SocketAsyncEventArgs args)
        {
            if (IsDisconnected)
                return false;
            if (args.SocketError != SocketError.Success)
            {
                Disconnect(DisconnectReason.SocketError, "receive failed: " + args.SocketError);
                return false;
            }
            if (args.BytesTransferred == 0)
            {
                Disconnect(DisconnectReason.RemoteClosed, "the peer closed the connection");
                return false;
            }
            if (!_recvBuffer.OnWrite(args.BytesTransferred))
            {
                Disconnect(DisconnectReason.ProtocolError, "received more bytes than the buffer had room for");
                return false;
            }
            int processed;
            try
            {
                processed = OnRecv(_recvBuffer.ReadSegment);
            }
            catch (FrameException e)
            {
                Disconnect(DisconnectReason.ProtocolError, e.Message, e);
                return false;
            }
            catch (Exception e)
            {
                Disconnect(DisconnectReason.ReceiveError, e.GetType().Name + ": " + e.Message, e);
                return false;
            }
            if (!_recvBuffer.OnRead(processed))
            {
                Disconnect(DisconnectReason.ProtocolError, "OnRecv reported " + processed + " bytes of " + _recvBuffer.DataSize);
                return false;
            }
            return !IsDisconnected;
        }
    }
}
