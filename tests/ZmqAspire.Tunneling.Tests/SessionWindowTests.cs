using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// Issue #19: the SSH session's socket must not hold sshd to SSH.NET's 137 KB receive buffer. With
/// it our side never advertised more than 262 KiB and sshd's socket toward us was
/// receive-window-limited 60-66% of its busy time with 8-16 MiB replies from a libzmq server
/// (docs/benchmarks.md, "libzmq peers and the stall at 8-16 MiB").
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class SessionWindowTests(SshdFixture sshd)
{
    private const int IpProtoTcp = 6;
    private const int TcpInfo = 11;

    /// <summary>Offset of tcpi_rcv_ssthresh in Linux's struct tcp_info: 8 bytes of u8 fields, then the 15th u32.</summary>
    private const int RcvSsthreshOffset = 8 + (14 * 4);

    [Fact]
    public async Task A_large_reply_opens_the_session_window_beyond_what_SSH_NET_buffers_allow()
    {
        const int replyBytes = 16 * 1024 * 1024;
        using var source = BulkSource.Start(replyBytes);
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        var socket = Assert.IsType<Socket>(session.QuickAck?.Socket);
        using var forward = session.OpenLocalForward(new TcpEndpoint("127.0.0.1", source.Port));

        // SSH.NET's buffers: Linux doubles what is set, and the advertised window stays below that.
        const int sshNetBuffer = 2 * SessionReceiveBuffer.SshNetSize;
        Assert.True(socket.ReceiveBufferSize > sshNetBuffer, $"The session socket's receive buffer is {socket.ReceiveBufferSize} B, SSH.NET's {sshNetBuffer} B or less (net.core.rmem_max is {File.ReadAllText("/proc/sys/net/core/rmem_max").Trim()}).");

        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, forward.LocalPort);
        var stream = client.GetStream();
        var buffer = new byte[256 * 1024];
        long received = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (received < replyBytes)
        {
            var read = await stream.ReadAsync(buffer, timeout.Token);
            Assert.NotEqual(0, read);
            received += read;
        }

        // The window our side may advertise (tcpi_rcv_ssthresh) grows with the data received, up
        // to what the receive buffer allows; held under SSH.NET's buffer it never passes 262 KB.
        var info = new byte[256];
        var length = socket.GetRawSocketOption(IpProtoTcp, TcpInfo, info);
        Assert.True(length >= RcvSsthreshOffset + 4, $"TCP_INFO returned {length} B");
        var ssthresh = BinaryPrimitives.ReadUInt32LittleEndian(info.AsSpan(RcvSsthreshOffset));
        Console.WriteLine($"session socket after a 16 MiB reply: receive buffer {socket.ReceiveBufferSize} B, rcv_ssthresh {ssthresh} B");
        Assert.True(ssthresh > sshNetBuffer, $"After a 16 MiB reply the session's receive window may reach {ssthresh} B only: sshd stays window-limited.");
    }

    /// <summary>A TCP server that writes <c>bytes</c> bytes to each connection, then closes it.</summary>
    private sealed class BulkSource : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly int _bytes;

        private BulkSource(int bytes)
        {
            _bytes = bytes;
            _listener.Start();
            _ = AcceptAsync();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public static BulkSource Start(int bytes) => new(bytes);

        public void Dispose() => _listener.Stop();

        private async Task AcceptAsync()
        {
            try
            {
                using var client = await _listener.AcceptTcpClientAsync();
                var chunk = new byte[1024 * 1024];
                var stream = client.GetStream();
                for (var sent = 0; sent < _bytes; sent += chunk.Length)
                {
                    await stream.WriteAsync(chunk);
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException)
            {
                // The test ended first.
            }
        }
    }
}
