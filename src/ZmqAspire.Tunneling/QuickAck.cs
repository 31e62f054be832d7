using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Makes our side of the SSH connection acknowledge what the SSH server sends at once
/// (TCP_QUICKACK after each message SSH.NET reads), instead of delaying the ACK by 40 ms or more.
/// </summary>
/// <remarks>
/// <para>
/// Why: OpenSSH's sshd turns Nagle off (TCP_NODELAY) only for interactive sessions (a pty or
/// X11), so on a forward-only connection it keeps Nagle on, and Nagle holds a small segment
/// while an earlier small one is unacknowledged. Our side of a request/reply exchange is in
/// Linux's delayed-ACK ("pingpong") mode, because we always answer quickly. So sshd sends the
/// first SSH packet of a reply, holds the next until our ACK, and our ACK waits for the
/// delayed-ACK timer. Captured on loopback with tshark: 40-45 ms per 64 KiB round trip, through
/// ssh -L as through SSH.NET; the same stall hits about 1 small round trip in 1000, when sshd
/// sends a window adjust just before a reply. On a 1500-byte MTU a big reply spans many full
/// segments and the stall is bounded by a round trip, but on loopback (65536) and with jumbo
/// frames every 32 KiB SSH packet is a "small" segment, and small messages stall anywhere.
/// </para>
/// <para>
/// How: TCP_QUICKACK is not sticky on Linux (the kernel re-enters delayed-ACK mode whenever we
/// send soon after receiving), so it is set again after every message SSH.NET reads from the
/// server, on SSH.NET's own receive thread, through the session's message events (internal to
/// SSH.NET, reached by reflection). Setting it after the read sends the pending ACK at once.
/// One setsockopt per read from the server (per message when <see cref="ReceivedAhead"/> cannot
/// tell whether the next one is already read); no thread of ours. An epoll watcher thread was tried
/// first and lost a race: when SSH.NET read the data before the watcher ran, the kernel
/// dropped the edge-triggered event and the ACK stayed delayed.
/// </para>
/// <para>
/// The clean fixes are upstream: TCP_NODELAY in sshd for forwarding sessions, or a hook in
/// SSH.NET to configure its socket (sshnet/SSH.NET#953).
/// </para>
/// </remarks>
internal sealed class QuickAck : IDisposable
{
    private const int IpProtoTcp = 6;
    private const int TcpQuickAck = 12;

    private static readonly byte[] One = BitConverter.GetBytes(1);

    private readonly Socket _socket;
    private readonly object _session;
    private SessionMessageEvents? _subscriptions;
    private long _rearms;
    private volatile bool _subscribed;
    private int _detachPending;
    private volatile bool _offEventLoop;

    private QuickAck(Socket socket, object session, bool detachFromEventLoop)
    {
        _socket = socket;
        _session = session;
        _detachPending = detachFromEventLoop ? 1 : 0;
    }

    /// <summary>Gets the session's TCP socket (for tests).</summary>
    internal Socket Socket => _socket;

    /// <summary>Gets the number of times TCP_QUICKACK was set (for tests and diagnostics).</summary>
    internal long Rearms => Interlocked.Read(ref _rearms);

    /// <summary>Gets a value indicating whether it is subscribed to the session's messages.</summary>
    internal bool IsActive => _subscribed;

    /// <summary>Gets a value indicating whether the socket was taken out of .NET's epoll (<see cref="EpollDetach"/>).</summary>
    internal bool OffEventLoop => _offEventLoop;

    /// <summary>Subscribes to a session's message events; null when not on Linux or SSH.NET has none of them.</summary>
    /// <param name="socket">The session's TCP socket.</param>
    /// <param name="session">SSH.NET's internal session object.</param>
    /// <param name="detachFromEventLoop">
    /// Also take the socket out of .NET's epoll (<see cref="EpollDetach"/>) at the first message:
    /// only when SSH.NET will issue nothing asynchronous on it again. Done on the receive thread,
    /// between two reads, because a read already waiting for .NET's event thread when the
    /// registration goes would wait for ever (seen: a read parked before the socket was made
    /// blocking never returned).
    /// </param>
    public static QuickAck? TryStart(Socket socket, object session, bool detachFromEventLoop = false)
    {
        if (!OperatingSystem.IsLinux() || session.GetType() != SshFastPath.SshNetSessionType)
        {
            return null;
        }

        try
        {
            // Check the option is accepted before subscribing.
            socket.SetRawSocketOption(IpProtoTcp, TcpQuickAck, One);
        }
        catch (SocketException)
        {
            return null;
        }

        var quickAck = new QuickAck(socket, session, detachFromEventLoop);
        quickAck._subscriptions = SessionMessageEvents.TrySubscribe(session, quickAck.OnMessage);
        if (quickAck._subscriptions is null)
        {
            return null;
        }

        quickAck._subscribed = true;
        return quickAck;
    }

    public void Dispose()
    {
        if (!_subscribed)
        {
            return;
        }

        _subscribed = false;
        _subscriptions?.Dispose();
    }

    // Runs on SSH.NET's receive thread, right after it read a message: the ACK goes out now,
    // or, when the next message is already read (ReceivedAhead), with the last one of the read.
    private void OnMessage(object? sender, EventArgs e)
    {
        if (_detachPending == 1 && Interlocked.Exchange(ref _detachPending, 0) == 1)
        {
            _offEventLoop = EpollDetach.TryDetach(_socket);
        }

        if (!ReceivedAhead.EndsRead(_session, e))
        {
            return;
        }

        try
        {
            _socket.SetRawSocketOption(IpProtoTcp, TcpQuickAck, One);
            Interlocked.Increment(ref _rearms);
            RelayCounters.Add(RelayCounter.QuickAcks);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // The connection is closing.
        }
    }
}

/// <summary>Linux: turns a socket's descriptor back to blocking mode.</summary>
internal static class NativeBlocking
{
    private const int FGetFl = 3;
    private const int FSetFl = 4;
    private const int ONonBlock = 0x800; // x86-64 and arm64 Linux

    /// <summary>
    /// Gets a value indicating whether SSH.NET's use of its session socket was checked for this
    /// version: blocking mode is safe only while SSH.NET does nothing asynchronous on the socket
    /// after connecting (an asynchronous receive on a blocking descriptor would block the thread
    /// that issues it). Checked for 2026.0.x; a newer SSH.NET gets the rest of the fast path, not this.
    /// </summary>
    public static bool VerifiedFor(Assembly sshNet) => sshNet.GetName().Version is { Major: 2026, Minor: 0 };

    /// <summary>
    /// Clears O_NONBLOCK on a socket's descriptor, so .NET's synchronous receive blocks in the
    /// kernel instead of emulating blocking on its event thread. Returns false if not changed.
    /// </summary>
    /// <remarks>
    /// SSH.NET connects with ConnectAsync and exchanges versions asynchronously, which makes .NET
    /// put the descriptor in non-blocking mode for good; SSH.NET then reads it with synchronous
    /// Receive calls, each of which, when no data is there yet, fails with EAGAIN and waits for
    /// .NET's epoll thread to report the socket readable and wake it: one more thread hop (two
    /// context switches) on every message from the server (seen with strace: recvmsg, EAGAIN,
    /// epoll_wait on another thread, recvmsg). SSH.NET 2026.0.0 performs no other asynchronous
    /// operation on the session socket after connecting, and .NET's Dispose unblocks a thread
    /// blocked in the kernel (as for any socket never used asynchronously). Measured: about 10%
    /// off the 64-byte round trip (median of 3 runs, 306 against 347 µs), no change for larger ones.
    /// </remarks>
    public static bool TrySet(Socket socket) => SocketDescriptor.TryUse(socket, fd =>
    {
        var flags = fcntl(fd, FGetFl, 0);
        return flags >= 0 && ((flags & ONonBlock) == 0 || fcntl(fd, FSetFl, flags & ~ONonBlock) == 0);
    });

#pragma warning disable SA1300, IDE1006 // libc's name
    [DllImport("libc", SetLastError = true)]
    private static extern int fcntl(int fd, int command, int argument);
#pragma warning restore SA1300, IDE1006
}
