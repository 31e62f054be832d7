namespace ZmqAspire.Tunneling;

/// <summary>
/// Holding the server's data for a channel until the end of the read it came in, so that the
/// local socket gets one write per read instead of one per SSH message (<see cref="ReceivedAhead"/>).
/// </summary>
internal sealed partial class ChannelMux
{
    /// <summary>How long held data waits at most when no further message comes to end the read, in milliseconds.</summary>
    /// <remarks>
    /// Only an SSH_MSG_GLOBAL_REQUEST (which SSH.NET answers without an event) as the last message
    /// of a read leaves data held: rare, so a coarse one-shot timer, set only when a message leaves
    /// data held for a later one, is enough. OpenSSH's sshd sends one (its host keys after login, a
    /// <c>ClientAliveInterval</c> probe) only while no channel is open (serverloop.c,
    /// client_alive_check: the probe is a channel request when one is), so then nothing is held;
    /// other servers may.
    /// </remarks>
    private const int HoldWatchMilliseconds = 20;

    private readonly List<RelayChannel> _holding = [];
    private SessionMessageEvents? _afterEachMessage;
    private Timer? _holdWatch;
    private volatile int _holdingCount;

    // When the receive thread last handled a message that left data held for a later one
    // (Environment.TickCount64, written by that thread alone), and whether the one-shot hold watch is set.
    private long _lastMessageWhileHolding;
    private int _holdWatchSet;

    /// <summary>Gets a value indicating whether channels hold the server's data until the end of each read.</summary>
    internal bool HoldsData => _afterEachMessage is not null;

    /// <summary>Records that <paramref name="channel"/> holds data to write once the current read is handled.</summary>
    internal void Holding(RelayChannel channel)
    {
        lock (_holding)
        {
            _holding.Add(channel);
            _holdingCount = _holding.Count;
        }
    }

    /// <summary>Starts holding data when SSH.NET lets us see the end of a read; subscribed after every other handler of ours.</summary>
    private void StartHolding()
    {
        // Part of the fast path (ZMQASPIRE_TUNNEL_FASTPATH=0 turns it off with the rest);
        // ZMQASPIRE_TUNNEL_HOLD=0 turns off this alone, for the benchmark's before/after.
        if (!SshFastPath.Enabled || !ReceivedAhead.Available || Environment.GetEnvironmentVariable("ZMQASPIRE_TUNNEL_HOLD") == "0")
        {
            return;
        }

        _holdWatch = new Timer(_ => OnHoldWatch());
        _afterEachMessage = SessionMessageEvents.TrySubscribe(_session, AfterMessage);
    }

    private void StopHolding()
    {
        _afterEachMessage?.Dispose();
        _holdWatch?.Dispose();
    }

    // On the receive thread, after our handlers of the same message: the end of a read writes what is held.
    private void AfterMessage(object? sender, EventArgs e)
    {
        if (_holdingCount == 0)
        {
            return;
        }

        if (!ReceivedAhead.EndsRead(_session, e))
        {
            // A later message of this read writes it, unless none of them raises an event. Only
            // this branch stamps the time: a message that ends its read writes what is held.
            Volatile.Write(ref _lastMessageWhileHolding, Environment.TickCount64);
            SetHoldWatch(HoldWatchMilliseconds);
            return;
        }

        if (ReceivedAhead.KeyExchangeInProgress(_session))
        {
            // A read that ends with the server's SSH_MSG_KEXINIT (sshd re-keys right after the
            // data that crossed its RekeyLimit): writing here would send a window adjust, or a
            // CLOSE, which SSH.NET makes wait for the end of the key exchange, and only this
            // thread can end it by reading the server's NEWKEYS: a message sent from here at
            // KEXINIT hung the session for good (RekeyHeldWritesTests' notes). A pool thread
            // writes it instead, at once, and waits for the exchange to end if it has something to send.
            ThreadPool.UnsafeQueueUserWorkItem(static mux => mux.WriteHeld(), this, preferLocal: false);
            return;
        }

        WriteHeld();
    }

    private void WriteHeld()
    {
        RelayChannel[] channels;
        lock (_holding)
        {
            if (_holding.Count == 0)
            {
                return;
            }

            channels = [.. _holding];
            _holding.Clear();
            _holdingCount = 0;
        }

        foreach (var channel in channels)
        {
            channel.WriteHeld();
        }
    }

    /// <summary>Sets the one-shot hold watch to fire in <paramref name="milliseconds"/>, unless it is set already.</summary>
    private void SetHoldWatch(long milliseconds)
    {
        if (_holdWatchSet == 0 && Interlocked.Exchange(ref _holdWatchSet, 1) == 0)
        {
            try
            {
                _holdWatch?.Change(milliseconds, Timeout.Infinite);
            }
            catch (ObjectDisposedException)
            {
                // The mux was disposed: its channels are gone, nothing is left to write.
            }
        }
    }

    // On a timer thread, once a message left data held for a later one: writes it when no message
    // came for HoldWatchMilliseconds (the read ended with messages that raise no event), else
    // looks again when that much time will have passed since the last one.
    private void OnHoldWatch()
    {
        Volatile.Write(ref _holdWatchSet, 0);
        if (_holdingCount == 0)
        {
            return;
        }

        var quiet = Environment.TickCount64 - Volatile.Read(ref _lastMessageWhileHolding);
        if (quiet >= HoldWatchMilliseconds)
        {
            WriteHeld();
        }
        else
        {
            SetHoldWatch(HoldWatchMilliseconds - quiet);
        }
    }
}
