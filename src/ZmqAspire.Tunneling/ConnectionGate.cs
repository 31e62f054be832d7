using Renci.SshNet;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Decides when a <see cref="SelfHealingForward"/> relays a connection it accepted: at once while
/// the path works; parked while there is no SSH session (relayed when one is up again); held
/// until a backoff time while the target behind the SSH server refuses channels.
/// </summary>
/// <remarks>
/// <para>
/// Why: a connection accepted and closed at once is, to NetMQ, a successful connect followed by
/// a disconnect, and a successful connect resets its reconnect backoff
/// (<c>ReconnectIntervalMax</c> never applies). Closing at once during an outage made a REQ
/// socket reconnect every 100 ms or so (about 100 connects in 15 s, each a warning in the
/// client's log), where a plainly refused port gets 8 in the same time. Holding the connection
/// instead leaves the socket connected and waiting, as to a slow peer: it reconnects when its own
/// timeout (Lazy Pirate) closes it, or when a held attempt is refused at the next backoff time.
/// </para>
/// <para>
/// The backoff per target starts at <see cref="SelfHealingForwardOptions.ReconnectDelay"/> after
/// the first refused channel and doubles with each refusal in a row, up to
/// <see cref="SelfHealingForwardOptions.MaxReconnectDelay"/>, with ±20 % jitter; a confirmed
/// channel ends it. Our own channels (<see cref="ChannelMux"/>) tell which open an answer is for
/// (RFC 4254 section 5.1: it names our channel), so each answer counts for its own target, also
/// when the server answers out of order (a target that hangs is answered last). SSH.NET's
/// channels, the fallback, do not: there answers are matched to attempts in the order the
/// attempts were made, exact for one target and nearly so for several.
/// </para>
/// The relay thread that calls <see cref="WaitForPort"/> is the connection's own: waiting there
/// holds nothing else up. At most <see cref="MaxWaitingPerTarget"/> connections wait per target;
/// beyond that they are closed at once.
/// </remarks>
internal sealed class ConnectionGate
{
    /// <summary>The most connections held or parked per target at once.</summary>
    public const int MaxWaitingPerTarget = 64;

    private static readonly TimeSpan RecheckEvery = TimeSpan.FromSeconds(1);

    private readonly SelfHealingForwardOptions _healing;
    private readonly Lane[] _lanes;
    private readonly Lock _lock = new();
    private readonly LinkedList<int> _opening = [];
    private ForwardRoute[]? _ports;
    private TaskCompletionSource _changed = NewSignal();
    private bool _stopped;

    public ConnectionGate(int targets, SelfHealingForwardOptions healing)
    {
        _healing = healing;
        _lanes = [.. Enumerable.Range(0, targets).Select(_ => new Lane())];
    }

    /// <summary>Relays through <paramref name="ports"/> (one per target) from now on; parked connections go now.</summary>
    public void SessionUp(ForwardRoute[] ports) => Change(() => _ports = ports);

    /// <summary>Tells whether the SSH server refused, or did not answer in time, the last channel opened to <paramref name="target"/> (an outage, until one is confirmed).</summary>
    public bool IsRefused(int target)
    {
        lock (_lock)
        {
            return _lanes[target].Refusals > 0;
        }
    }

    /// <summary>No session: connections accepted from now on are parked.</summary>
    public void SessionDown() => Change(() =>
    {
        _ports = null;
        // Answers to these will never come: the session that carried them is gone.
        _opening.Clear();
    });

    /// <summary>The forward stopped: every waiting connection, and every later one, is closed.</summary>
    public void Stop() => Change(() => _stopped = true);

    /// <summary>
    /// Blocks the calling relay thread until the connection can be relayed, and returns the port
    /// to relay it through; null: close it (the forward stopped, or too many are waiting).
    /// </summary>
    public ForwardRoute? WaitForPort(int target)
    {
        var lane = _lanes[target];
        lock (_lock)
        {
            if (lane.Waiting >= MaxWaitingPerTarget)
            {
                return null;
            }

            lane.Waiting++;
        }

        try
        {
            while (true)
            {
                TimeSpan wait;
                Task changed;
                lock (_lock)
                {
                    if (_stopped)
                    {
                        return null;
                    }

                    changed = _changed.Task;
                    wait = RecheckEvery;
                    if (_ports is { } ports && ports[target] is { IsClosed: false, Port.IsStarted: true })
                    {
                        var now = DateTime.UtcNow;
                        if (now >= lane.RetryAt)
                        {
                            _opening.AddLast(target);
                            return ports[target];
                        }

                        wait = lane.RetryAt - now < wait ? lane.RetryAt - now : wait;
                    }
                }

                changed.Wait(wait);
            }
        }
        finally
        {
            lock (_lock)
            {
                lane.Waiting--;
            }
        }
    }

    /// <summary>
    /// Records the SSH server's answer to a channel open: the oldest still unanswered to
    /// <paramref name="answeredTarget"/>, or, when which target is not known (SSH.NET's channels),
    /// the oldest of all. Never blocks (called on SSH.NET's receive thread). Returns the target
    /// whose state changed: refused after working (an outage starts) or confirmed after refusals
    /// (it ended); null otherwise.
    /// </summary>
    public (int Target, bool Reachable)? Answered(int? answeredTarget, bool confirmed)
    {
        lock (_lock)
        {
            if (TakeOpening(answeredTarget) is not { } target)
            {
                return null;
            }

            var lane = _lanes[target];
            if (confirmed)
            {
                var recovered = lane.Refusals > 0;
                lane.Refusals = 0;
                lane.RetryAt = DateTime.MinValue;
                return recovered ? (target, true) : null;
            }

            return Unreachable(lane, target);
        }
    }

    /// <summary>
    /// Records that the SSH server did not answer a channel open to <paramref name="target"/> in
    /// time: the target is treated as refused (held connections wait for the backoff), and the
    /// open no longer waits for an answer, so that later answers still match their own opens.
    /// Returns true when an outage of the target starts with this timeout (it was not refused
    /// or timed out already): the caller reports it then, once per outage, as refusals are
    /// (<see cref="Answered"/>).
    /// </summary>
    /// <remarks>
    /// OpenSSH's sshd answers a direct-tcpip open only when its connect to the target completes
    /// or fails; to an address that no longer answers (a replica whose container is gone, its
    /// neighbour entry still cached) the SYNs go unanswered for about two minutes. The target is
    /// what is slow, not the server.
    /// </remarks>
    public bool TimedOut(int target)
    {
        lock (_lock)
        {
            TakeOpening(target);
            return Unreachable(_lanes[target], target) is not null;
        }
    }

    // Under _lock: removes the oldest unanswered open to target (any target: null) and returns its target.
    private int? TakeOpening(int? target)
    {
        for (var node = _opening.First; node is not null; node = node.Next)
        {
            if (target is null || node.Value == target)
            {
                _opening.Remove(node);
                return node.Value;
            }
        }

        return null;
    }

    private (int Target, bool Reachable)? Unreachable(Lane lane, int target)
    {
        lane.Refusals++;
        lane.RetryAt = DateTime.UtcNow + Backoff(lane.Refusals);
        return lane.Refusals == 1 ? (target, false) : null;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private TimeSpan Backoff(int refusals)
    {
        var doubled = _healing.ReconnectDelay.TotalMilliseconds * Math.Pow(2, Math.Min(refusals - 1, 30));
        var capped = Math.Min(doubled, _healing.MaxReconnectDelay.TotalMilliseconds);
        // Jitter, so that many clients held together do not all retry in step.
        var jittered = capped * (0.8 + (0.4 * Random.Shared.NextDouble()));
        return TimeSpan.FromMilliseconds(Math.Min(jittered, _healing.MaxReconnectDelay.TotalMilliseconds));
    }

    private void Change(Action change)
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            change();
            changed = _changed;
            _changed = NewSignal();
        }

        changed.TrySetResult();
    }

    private sealed class Lane
    {
        public int Waiting { get; set; }

        public int Refusals { get; set; }

        public DateTime RetryAt { get; set; } = DateTime.MinValue;
    }
}
