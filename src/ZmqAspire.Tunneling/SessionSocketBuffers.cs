using System.Globalization;
using System.Net.Sockets;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Linux: gives the SSH session's socket the kernel's autotuning ceiling as its buffers, in place
/// of the 137 KB SSH.NET 2026.0 sets, so that the server is not held to a 262 KB TCP window (issue #19).
/// </summary>
/// <remarks>
/// <para>
/// Why: SSH.NET sets SO_RCVBUF and SO_SNDBUF to 137 KB after connecting (sshnet/SSH.NET#1821,
/// changed after 2026.0.0). Setting them also turns the kernel's autotuning off for good, so our
/// side of the connection never advertises more than 262 KB (half of the doubled 137 KB, on
/// Linux), while OpenSSH's client, which sets nothing, grows to several MB. Captured on loopback
/// with a libzmq (pyzmq) server and 16 MiB replies (docs/benchmarks.md, "libzmq peers and the
/// stall at 8-16 MiB"): sshd's socket toward our session was receive-window-limited 66% of its
/// busy time (tcpi_rwnd_limited; toward <c>ssh -L</c>'s: 0.0%), our socket advertised a zero
/// window 456 times (<c>ssh -L</c>'s: none), and replies stalled for 1-2 s at a time.
/// </para>
/// <para>
/// How: SO_RCVBUF and SO_SNDBUF set again, to the autotuning ceiling the kernel would have let an
/// untuned socket grow to (the third field of <c>net.ipv4.tcp_rmem</c> and <c>tcp_wmem</c>); the
/// kernel caps what we ask at <c>net.core.rmem_max</c> and <c>wmem_max</c> (an unprivileged
/// setsockopt cannot go above them), so on a host with small limits the gain is smaller. Once
/// set, autotuning stays off (Linux has no way back), so the ceiling is the size. A buffer is a
/// limit, not an allocation: memory is used only for data actually queued.
/// </para>
/// </remarks>
internal static class SessionSocketBuffers
{
    /// <summary>The size SSH.NET 2026.0 gives both buffers, in bytes: twice its largest SSH packet (<c>2 * Session.MaximumSshPacketSize</c>, 64 KiB + 3000).</summary>
    internal const int SshNetSize = 2 * ((64 * 1024) + 3000);

    /// <summary>
    /// Sets the socket's receive and send buffers to the autotuning ceilings; false when not on
    /// Linux, the ceilings cannot be read, or the socket refuses (closing). The sizes the kernel
    /// granted can be read back from <see cref="Socket.ReceiveBufferSize"/> (doubled, as Linux reports them).
    /// </summary>
    public static bool TryEnlarge(Socket socket)
    {
        if (!OperatingSystem.IsLinux() || Ceiling("tcp_rmem") is not { } receive || Ceiling("tcp_wmem") is not { } send)
        {
            return false;
        }

        try
        {
            // Never below what SSH.NET set: a host whose ceiling is smaller keeps SSH.NET's.
            socket.ReceiveBufferSize = Math.Max(receive, SshNetSize);
            socket.SendBufferSize = Math.Max(send, SshNetSize);
            return true;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>The third field ("max") of <c>/proc/sys/net/ipv4/NAME</c>, in bytes; null when unreadable.</summary>
    private static int? Ceiling(string name)
    {
        try
        {
            var fields = File.ReadAllText($"/proc/sys/net/ipv4/{name}").Split([' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return fields.Length == 3 && int.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var max) && max > 0 ? max : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
