using System.Collections.Generic;

/// <summary>
/// Packets decoded on socket threads, waiting for Unity's main thread (Unity objects may
/// only be touched there). The session pushes from
/// <c>PacketManager.Instance.OnRecvPacket(this, buffer, (s, p) => ...)</c>; a MonoBehaviour's
/// Update() pops them and calls <c>PacketManager.Instance.HandlePacket</c>.
/// Bounded: when the main thread falls <see cref="Capacity"/> packets behind, Push returns
/// false and the session should disconnect. Dropping packets silently would leave the
/// client's world out of step with the server's.
/// </summary>
public class PacketQueue
{
    /// <summary>Packets that may wait; about 40 seconds of a busy room at 250 ms ticks.</summary>
    public const int Capacity = 10000;

    static readonly PacketQueue _instance = new PacketQueue();
    public static PacketQueue Instance { get { return _instance; } }

    readonly Queue<IPacket> _queue = new Queue<IPacket>();
    readonly object _lock = new object();

    /// <summary>Adds a packet; false (and nothing added) when the queue is full.</summary>
    public bool Push(IPacket packet)
    {
        lock (_lock)
        {
            if (_queue.Count >= Capacity)
                return false;
            _queue.Enqueue(packet);
            return true;
        }
    }

    /// <summary>The oldest packet, or null when there is none.</summary>
    public IPacket Pop()
    {
        lock (_lock)
            return _queue.Count == 0 ? null : _queue.Dequeue();
    }

    /// <summary>Every waiting packet, oldest first, in one lock.</summary>
    public List<IPacket> PopAll()
    {
        lock (_lock)
        {
            List<IPacket> packets = new List<IPacket>(_queue);
            _queue.Clear();
            return packets;
        }
    }
}
