using ZmqAspire.Messaging;

namespace ZmqAspire.Client;

/// <summary>
/// Requests that got no reply from one replica, waiting for a lane of another (the ZeroMQ
/// Guide's Lazy Pirate across lanes: the resend goes to a replica that has not tried it yet).
/// Shared by the lanes; thread-safe.
/// </summary>
/// <param name="lanes">How many lanes (server replicas) there are; at most 64.</param>
internal sealed class MovedRequests(int lanes)
{
    private readonly Lock _gate = new();
    private readonly LinkedList<PendingRequest> _waiting = [];
    private readonly ulong _allLanes = lanes >= 64 ? ulong.MaxValue : (1UL << lanes) - 1;

    /// <summary>Gets how many lanes there are.</summary>
    public int Lanes => lanes;

    /// <summary>Gets a value indicating whether any request is waiting.</summary>
    public bool Any
    {
        get
        {
            lock (_gate)
            {
                return _waiting.Count > 0;
            }
        }
    }

    /// <summary>Queues a request for another lane.</summary>
    public void Add(PendingRequest request)
    {
        lock (_gate)
        {
            _waiting.AddLast(request);
        }
    }

    /// <summary>Lets any lane take the requests pinned to <paramref name="lane"/> (its replica is refused: gone).</summary>
    public void Unpin(int lane)
    {
        lock (_gate)
        {
            foreach (var request in _waiting.Where(r => r.PinnedLane == lane))
            {
                request.PinnedLane = -1;
            }
        }
    }

    /// <summary>
    /// Takes the oldest waiting request that <paramref name="lane"/> has not tried yet; once every
    /// lane has tried one (all replicas silent, or a single replica), any lane may take it again.
    /// </summary>
    public bool TryTake(int lane, out PendingRequest request)
    {
        lock (_gate)
        {
            for (var node = _waiting.First; node is not null; node = node.Next)
            {
                var tried = node.Value.TriedLanes;
                var pinned = node.Value.PinnedLane;
                if (pinned == lane || (pinned < 0 && ((tried & (1UL << lane)) == 0 || (tried & _allLanes) == _allLanes)))
                {
                    _waiting.Remove(node);
                    request = node.Value;
                    return true;
                }
            }
        }

        request = null!;
        return false;
    }
}

/// <summary>One logical request: its number stays the same on every attempt, whichever replica gets it, so a replica that served it answers from its reply cache.</summary>
/// <param name="Sequence">The request's number (the envelope's <c>seq</c>).</param>
/// <param name="Asked">The dashboard command waiting for it, if it was asked for.</param>
/// <param name="Counted">Whether it is one of the configured <c>RequestCount</c>.</param>
internal sealed record PendingRequest(long Sequence, TaskCompletionSource<ZmqReply>? Asked, bool Counted)
{
    /// <summary>Gets or sets how many times it was sent.</summary>
    public int Attempts { get; set; }

    /// <summary>Gets or sets the lanes it was sent on, one bit each.</summary>
    public ulong TriedLanes { get; set; }

    /// <summary>
    /// Gets or sets the only lane that may take it next, or -1 for any that has not tried it: a
    /// request that went unanswered because the SSH path failed (not its replica) is resent to the
    /// same replica, which answers from its reply cache if it did the work.
    /// </summary>
    public int PinnedLane { get; set; } = -1;
}
