using System.Diagnostics.CodeAnalysis;
using System.Net.Sockets;
using System.Reflection;
using Renci.SshNet;

namespace ZmqAspire.Tunneling;

/// <summary>
/// The tunnel's fast path: what we change in how SSH.NET 2026.0.0 is used so that a forward is
/// at least as fast as OpenSSH's <c>ssh -L</c> (measured by bench/ZmqAspire.Benchmarks; the
/// figures and the diagnosis are in docs/benchmarks.md). Everything is on our side of the
/// connection: the SSH server (a hardened bastion, no pty) is left as it is.
/// </summary>
/// <remarks>
/// <list type="number">
/// <item>AES-GCM first in the cipher preference (<see cref="PreferAesGcm"/>).</item>
/// <item>The session socket's receive buffer at the kernel's autotuning ceiling instead of
/// SSH.NET's 137 KB (<see cref="SessionReceiveBuffer"/>): sshd is no longer held to a 262 KB TCP
/// window (receive-window-limited 60-66% of its busy time before; issue #19).</item>
/// <item>An immediate ACK after every message read from the server (<see cref="QuickAck"/>):
/// removes the 40 ms Nagle/delayed-ACK stall of 64 KiB round trips.</item>
/// <item>The session socket back in blocking mode (<see cref="NativeBlocking"/>): one thread hop
/// less on every message from the server; and out of .NET's epoll (<see cref="EpollDetach"/>):
/// one wake-up of .NET's event thread less on every arrival.</item>
/// <item>Our own accept loop with a thread per relayed connection (<see cref="ForwardListener"/>):
/// connections opened together no longer hang, and relays no longer hold thread-pool threads.</item>
/// <item>Our own TCP forwarding channels (<see cref="ChannelMux"/>, <see cref="RelayChannel"/>):
/// per-channel flow control (RFC 4254 section 5.2), no head-of-line blocking between the
/// channels of a session, no thread per relayed connection.</item>
/// <item>One write to the local socket, and one TCP_QUICKACK, per read from the server rather
/// than per SSH message, as <c>ssh</c> does (<see cref="ReceivedAhead"/>): a channel holds the
/// data of a read until SSH.NET has handled its last message.</item>
/// </list>
/// <para>
/// Items 2 to 7 reach SSH.NET internals by reflection, because SSH.NET offers no public hook:
/// no socket factory or socket options (sshnet/SSH.NET#953, closed without a change), no
/// direct-tcpip channel usable without its listener (sshnet/SSH.NET#732, open). Each member is
/// looked up once; when one is missing (another SSH.NET version) that item is skipped and the
/// tunnel behaves as plain SSH.NET does: an upgrade can make the tunnel slower, not broken.
/// SSH.NET sets its socket buffers to 137 KB after connecting, which also turns off the
/// kernel's autotuning (sshnet/SSH.NET#1821, changed after 2026.0.0); item 2 sets the receive
/// buffer again (the send buffer never limited us).
/// </para>
/// <para>
/// <c>ZMQASPIRE_TUNNEL_FASTPATH=0</c> in the environment turns the whole fast path off: for
/// before/after figures, and as an escape hatch should a future SSH.NET misbehave with it.
/// </para>
/// </remarks>
internal static class SshFastPath
{
    private const BindingFlags Instance = BindingFlags.Instance | BindingFlags.NonPublic;

    /// <summary>SSH.NET's <c>BaseClient.Session</c> (internal), the logged-in <c>Session</c>, whose <c>_socket</c> we tune.</summary>
    private static readonly PropertyInfo? SessionProperty = typeof(BaseClient).GetProperty("Session", Instance);

    /// <summary>
    /// SSH.NET's internal <c>Session</c> type, named by a literal so the trimmer keeps the
    /// members we reach (its <c>_socket</c> field and its public message events) in trimmed images.
    /// </summary>
    [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.NonPublicFields | DynamicallyAccessedMemberTypes.NonPublicMethods | DynamicallyAccessedMemberTypes.PublicEvents | DynamicallyAccessedMemberTypes.NonPublicEvents)]
    internal static readonly Type? SshNetSessionType = Type.GetType("Renci.SshNet.Session, Renci.SshNet");

    /// <summary>SSH.NET's <c>Session._socket</c> (private): the TCP connection to the SSH server.</summary>
    private static readonly FieldInfo? SocketField = SshNetSessionType?.GetField("_socket", Instance);

    /// <summary>SSH.NET's <c>ForwardedPortLocal._listener</c> (private): the listener we replace.</summary>
    private static readonly FieldInfo? ListenerField = typeof(ForwardedPortLocal).GetField("_listener", Instance);

    /// <summary>Gets a value indicating whether the fast path is on (it is unless <c>ZMQASPIRE_TUNNEL_FASTPATH=0</c>).</summary>
    internal static bool Enabled { get; } = Environment.GetEnvironmentVariable("ZMQASPIRE_TUNNEL_FASTPATH") != "0";

    /// <summary>
    /// Gets SSH.NET's private <c>ForwardedPortLocal.ProcessAccept(Socket)</c>: opens a
    /// direct-tcpip channel for an accepted connection and relays it until either end closes
    /// (blocking the calling thread all that time). Null when SSH.NET has no such method.
    /// </summary>
    internal static Action<ForwardedPortLocal, Socket>? ProcessAccept { get; } = FindProcessAccept();

    /// <summary>
    /// Puts AES-GCM first in the client's cipher preference (SSH picks the first client
    /// algorithm the server also offers). SSH.NET 2026.0.0 lists aes128-ctr first, with a
    /// separate HMAC; its AES-GCM uses .NET's <c>AesGcm</c> (AES-NI) and costs about a third of
    /// the CPU per byte of aes128-ctr + hmac-sha2-256 here, while its chacha20-poly1305 is managed
    /// code (BouncyCastle), several times slower than either, so it is not promoted.
    /// </summary>
    internal static void PreferAesGcm(ConnectionInfo info)
    {
        string[] preferred = ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com"];
        for (var i = preferred.Length - 1; i >= 0; i--)
        {
            if (info.Encryptions.Remove(preferred[i], out var cipher))
            {
                info.Encryptions.Insert(0, preferred[i], cipher);
            }
        }
    }

    /// <summary>
    /// Tunes the connected session's TCP socket: TCP_NODELAY, the kernel's autotuning ceiling as
    /// its receive buffer (<see cref="SessionReceiveBuffer"/>), blocking mode for SSH.NET's
    /// synchronous reads (<see cref="NativeBlocking"/>), and an immediate ACK after every
    /// message read (<see cref="QuickAck"/>). Returns what to dispose with the session, or null
    /// when SSH.NET's socket cannot be reached; <paramref name="blocking"/> tells whether the
    /// socket was put back in blocking mode (then it is also taken out of .NET's epoll at the
    /// first message, <see cref="EpollDetach"/>).
    /// </summary>
    /// <param name="client">The connected client.</param>
    /// <param name="enlargeBuffers">Give the socket the kernel's autotuning ceiling as receive buffer (<see cref="SessionReceiveBuffer"/>); false keeps SSH.NET's 137 KB (the benchmark's "before").</param>
    /// <param name="blocking">Whether the socket was put back in blocking mode.</param>
    internal static QuickAck? TuneSessionSocket(SshClient client, bool enlargeBuffers, out bool blocking)
    {
        blocking = false;
        var session = SessionProperty?.GetValue(client);
        if (session is null || session.GetType() != SshNetSessionType || SocketField?.GetValue(session) is not Socket socket)
        {
            return null;
        }

        // SSH.NET sets TCP_NODELAY on this socket already; set it again in case a version stops.
        socket.NoDelay = true;
        if (enlargeBuffers)
        {
            SessionReceiveBuffer.TryEnlarge(socket);
        }

        blocking = NativeBlocking.VerifiedFor(typeof(SshClient).Assembly) && NativeBlocking.TrySet(socket);
        // Same condition as blocking mode: SSH.NET issues nothing asynchronous on the socket any
        // more, so .NET's event thread need not wake on each arrival (EpollDetach, done by
        // QuickAck on the receive thread).
        return QuickAck.TryStart(socket, session, detachFromEventLoop: blocking);
    }

    /// <summary>Closes the listener a started <see cref="ForwardedPortLocal"/> opened, once ours has replaced it.</summary>
    internal static void CloseBuiltInListener(ForwardedPortLocal port)
    {
        // Its pending accept then completes with OperationAborted, which SSH.NET ignores.
        (ListenerField?.GetValue(port) as Socket)?.Dispose();
    }

    /// <summary>Gets a value indicating whether a started port's own listener can be found and closed.</summary>
    internal static bool CanCloseBuiltInListener => ListenerField is not null;

    /// <summary>Gets a value indicating whether our own accept loop can replace SSH.NET's.</summary>
    internal static bool CanReplaceListener => Enabled && ProcessAccept is not null && ListenerField is not null;

    private static Action<ForwardedPortLocal, Socket>? FindProcessAccept()
    {
        var method = typeof(ForwardedPortLocal).GetMethod("ProcessAccept", Instance, [typeof(Socket)]);
        return method is null || method.ReturnType != typeof(void)
            ? null
            : method.CreateDelegate<Action<ForwardedPortLocal, Socket>>();
    }
}
