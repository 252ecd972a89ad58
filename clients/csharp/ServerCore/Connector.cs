using System;
using System.Net;
using System.Net.Sockets;

namespace ServerCore
{
    /// <summary>
    /// Opens client connections: for each one, a socket, an asynchronous connect, and on
    /// success a new session from the factory, started on the connected socket.
    /// </summary>
    public class Connector
    {
        /// <summary>Called for each connection that could not be made (without a handler, written to stderr).</summary>
        public event Action<EndPoint, SocketError> ConnectFailed;

        sealed class Attempt
        {
            public Socket Socket;
            public Func<Session> SessionFactory;
        }

        /// <summary>Starts <paramref name="count"/> connections to <paramref name="endPoint"/>; returns at once.</summary>
        public void Connect(IPEndPoint endPoint, Func<Session> sessionFactory, int count = 1)
        {
            if (sessionFactory == null)
                throw new ArgumentNullException("sessionFactory");
            for (int i = 0; i < count; i++)
            {
                Socket socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                // Game packets are small and latency matters more than segment count.
                socket.NoDelay = true;
                SocketAsyncEventArgs args = new SocketAsyncEventArgs();
                args.Completed += OnConnectCompleted;
                args.RemoteEndPoint = endPoint;
                args.UserToken = new Attempt { Socket = socket, SessionFactory = sessionFactory };
                bool pending;
                try
                {
                    pending = socket.ConnectAsync(args);
                }
                catch (SocketException e)
                {
                    socket.Close();
                    Failed(endPoint, e.SocketErrorCode);
                    continue;
                }
                if (!pending)
                    OnConnectCompleted(null, args);
            }
        }

        void OnConnectCompleted(object sender, SocketAsyncEventArgs args)
        {
            Attempt attempt = (Attempt)args.UserToken;
            if (args.SocketError != SocketError.Success)
            {
                attempt.Socket.Close();
                Failed(args.RemoteEndPoint, args.SocketError);
                return;
            }
            Session session = attempt.SessionFactory();
            session.Start(args.ConnectSocket ?? attempt.Socket);
        }

        void Failed(EndPoint endPoint, SocketError error)
        {
            Action<EndPoint, SocketError> handler = ConnectFailed;
            if (handler != null)
                handler(endPoint, error);
            else
                Console.Error.WriteLine("connect to " + endPoint + " failed: " + error);
        }
    }
}
