using System.Globalization;
using System.Net.Sockets;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Linux: gives the SSH session's socket the kernel's autotuning ceiling as its receive buffer,
/// in place of the 137 KB SSH.NET 2026.0 sets, so that sshd is not held to a 262 KB TCP window (issue #19).
/// </summary>
/// <remarks>
/// <para>
/// Why: SSH.NET sets SO_RCVBUF and SO_SNDBUF to 137 KB after connecting (sshnet/SSH.NET#1821,
/// changed after 2026.0.0). Setting a buffer also turns the kernel's autotuning of it off for
/// good, so our side never advertised more than 262 KB, where OpenSSH's client, which sets
/// nothing, grows to several MB. Measured on loopback with a libzmq (pyzmq) server and 8-16 MiB
/// replies (docs/benchmarks.md, "libzmq peers and the stall at 8-16 MiB"): sshd's socket toward
/// our session was receive-window-limited 60-66% of its busy time (tcpi_rwnd_limited; toward
/// <c>ssh -L</c>'s 0-12%, toward ours with this buffer 0-0.5%) and retransmitted 20-29 MB per
/// run (<c>ssh -L</c>'s 0.3-7 MB, ours with this buffer 1.8-9 MB). That is a measured difference
/// between the two clients' connections to sshd; whether it is what stalls single 16 MiB
/// round trips for 1-2 s was not settled on the loaded machine it was measured on.
/// </para>
/// <para>
/// How: SO_RCVBUF set again, to what the kernel would have let an untuned socket grow to (the
/// third field of <c>net.ipv4.tcp_rmem</c>); the kernel caps it at <c>net.core.rmem_max</c> (an
/// unprivileged setsockopt cannot go above it), so on a host with a small limit the gain is
/// smaller. Once set, autotuning stays off (Linux has no way back), so the ceiling is the size.
/// A buffer is a limit, not an allocation: memory is used only for data waiting to be read.
/// The send buffer stays SSH.NET's: our sends were never limited by it (tcpi_sndbuf_limited
/// 0.0%), and a larger one would queue more bytes of one channel ahead of every other channel's.
/// </para>
/// </remarks>
internal static class SessionReceiveBuffer
{
    /// <summary>The size SSH.NET 2026.0 gives both buffers, in bytes: twice its largest SSH packet (<c>2 * Session.MaximumSshPacketSize</c>, 64 KiB + 3000).</summary>
    internal const int SshNetSize = 2 * ((64 * 1024) + 3000);

    /// <summary>
    /// Sets the socket's receive buffer to the autotuning ceiling; false when not on Linux, the
    /// ceiling cannot be read, or the socket refuses (closing). The size the kernel granted can
    /// be read back from <see cref="Socket.ReceiveBufferSize"/> (doubled, as Linux reports it).
    /// </summary>
    public static bool TryEnlarge(Socket socket)
    {
        if (!OperatingSystem.IsLinux() || Ceiling() is not { } ceiling)
        {
            return false;
        }

        try
        {
            // Never below what SSH.NET set: a host whose ceiling is smaller keeps SSH.NET's.
            socket.ReceiveBufferSize = Math.Max(ceiling, SshNetSize);
            return true;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>The third field ("max") of <c>/proc/sys/net/ipv4/tcp_rmem</c>, in bytes; null when unreadable.</summary>
    private static int? Ceiling()
    {
        try
        {
            var fields = File.ReadAllText("/proc/sys/net/ipv4/tcp_rmem").Split([' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return fields.Length == 3 && int.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var max) && max > 0 ? max : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
