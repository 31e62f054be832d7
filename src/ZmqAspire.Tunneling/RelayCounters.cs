namespace ZmqAspire.Tunneling;

/// <summary>
/// Debug counters of the relay's per-message work (local reads, SSH data messages, window
/// adjusts, TCP_QUICKACK re-arms), for the benchmark's profile (docs/benchmarks.md, "Small
/// messages"). Off unless <see cref="Enabled"/> is set: then a flag check per event.
/// </summary>
/// <remarks>
/// Not a Meter instrument: these count implementation steps, not something a user monitors, and
/// they change whenever the fast path does. The benchmark (in-process tunnel) turns them on.
/// </remarks>
internal static class RelayCounters
{
    private static long[] _values = new long[(int)RelayCounter.Count];

    /// <summary>Gets or sets a value indicating whether the counters count.</summary>
    internal static bool Enabled { get; set; }

    /// <summary>Adds <paramref name="amount"/> to a counter when <see cref="Enabled"/>.</summary>
    internal static void Add(RelayCounter counter, long amount = 1)
    {
        if (Enabled)
        {
            Interlocked.Add(ref _values[(int)counter], amount);
        }
    }

    /// <summary>Gets a copy of every counter, indexed by <see cref="RelayCounter"/>.</summary>
    internal static long[] Snapshot()
    {
        var copy = new long[_values.Length];
        for (var i = 0; i < copy.Length; i++)
        {
            copy[i] = Interlocked.Read(ref _values[i]);
        }

        return copy;
    }
}

/// <summary>What <see cref="RelayCounters"/> counts.</summary>
internal enum RelayCounter
{
    /// <summary>Reads of the local socket that returned data (local → SSH).</summary>
    LocalReads,

    /// <summary>Reads of the local socket that found nothing (EAGAIN) before the reader waited.</summary>
    EmptyReads,

    /// <summary>SSH_MSG_CHANNEL_DATA messages sent.</summary>
    DataSent,

    /// <summary>Payload bytes in the SSH_MSG_CHANNEL_DATA messages sent.</summary>
    BytesSent,

    /// <summary>SSH_MSG_CHANNEL_DATA messages received for our channels.</summary>
    DataReceived,

    /// <summary>Payload bytes in the SSH_MSG_CHANNEL_DATA messages received.</summary>
    BytesReceived,

    /// <summary>Writes to the local socket (direct from the receive thread, or by the queue's writer).</summary>
    LocalWrites,

    /// <summary>Received data the local socket did not take at once and that went to the queue.</summary>
    Queued,

    /// <summary>SSH_MSG_CHANNEL_WINDOW_ADJUST messages sent.</summary>
    WindowAdjustsSent,

    /// <summary>TCP_QUICKACK set on the session socket.</summary>
    QuickAcks,

    /// <summary>SSH_MSG_CHANNEL_DATA payloads held to be written with the rest of their read (<see cref="ReceivedAhead"/>).</summary>
    Held,

    /// <summary>The number of counters.</summary>
    Count,
}
