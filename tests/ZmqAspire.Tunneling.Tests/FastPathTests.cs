using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// The tunnel's fast path (SshFastPath, ForwardListener, QuickAck) is in use against a
/// real sshd, and fixes what it is for. Figures are the benchmark's job (docs/benchmarks.md):
/// these tests check mechanisms, not timings.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class FastPathTests(SshdFixture sshd)
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Session_negotiates_aes_gcm_and_keeps_acks_immediate()
    {
        using var server = ReplyServer.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));

        Assert.Equal("aes128-gcm@openssh.com", session.NegotiatedCipher);
        Assert.True(session.SocketMadeBlocking, "The SSH socket was left non-blocking (checked for SSH.NET 2026.0 only).");
        var quickAck = session.QuickAck;
        Assert.NotNull(quickAck);
        Assert.Equal(TunnelFastPath.QuickAck | TunnelFastPath.BlockingSocket | TunnelFastPath.ForwardListener | TunnelFastPath.OwnChannels | TunnelFastPath.HeldWrites, session.FastPath);

        using var req = Requests.NewRequestSocket();
        using var forward = req.ConnectThroughTunnel(server.Endpoint, session);
        Assert.True(forward.UsesOwnListener, "SSH.NET's accept loop is in use: the fast path did not replace it.");
        var before = quickAck.Rearms;
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(server.ExpectedGreeting, Requests.Ask(req, "Hello", () => sshd.LogTail()));
        }

        // Every reply is a channel data message read from the SSH socket: each re-armed TCP_QUICKACK.
        Assert.True(quickAck.Rearms - before >= 5, $"TCP_QUICKACK was re-armed {quickAck.Rearms - before} times for 5 replies.");
        Assert.True(quickAck.OffEventLoop, "The SSH socket is still watched by .NET's epoll thread, which then wakes on every message.");
    }

    [Fact]
    public async Task A_socket_taken_off_the_event_loop_still_reads_and_closes()
    {
        // An asynchronous connect registers the socket with .NET's epoll; EpollDetach removes
        // exactly that registration, and synchronous use goes on as before.
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        using var accepted = listener.Accept();
        Assert.True(EpollDetach.IsWatched(client), "An asynchronous connect did not register the socket with .NET's epoll: nothing to check.");

        Assert.True(NativeBlocking.TrySet(client));
        Assert.True(EpollDetach.TryDetach(client));

        Assert.False(EpollDetach.IsWatched(client));
        accepted.Send("ping"u8);
        var buffer = new byte[4];
        Assert.Equal(4, client.Receive(buffer));
        Assert.Equal("ping"u8.ToArray(), buffer);
        accepted.Shutdown(SocketShutdown.Send);
        Assert.Equal(0, client.Receive(buffer));
    }

    [Fact]
    public async Task Connections_opened_together_are_all_relayed()
    {
        // SSH.NET 2026.0.0's own accept loop relays a connection that was already queued on the
        // thread of the one before it, which then waits for it to close: with several sockets
        // connecting at once, some hung. Each of these must echo while all are open.
        using var echo = EchoTarget.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var forward = session.OpenLocalForward(new TcpEndpoint("127.0.0.1", echo.Port));
        const int count = 8;
        var clients = new TcpClient[count];
        try
        {
            await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
            {
                clients[i] = new TcpClient { NoDelay = true };
                await clients[i].ConnectAsync(IPAddress.Loopback, forward.LocalPort);
            })).WaitAsync(Generous);

            var payloads = Enumerable.Range(0, count).Select(_ => RandomNumberGenerator.GetBytes(64 * 1024)).ToArray();
            await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
            {
                var stream = clients[i].GetStream();
                await stream.WriteAsync(payloads[i]);
                var back = new byte[payloads[i].Length];
                await stream.ReadExactlyAsync(back);
                Assert.True(payloads[i].AsSpan().SequenceEqual(back), $"Connection {i} got other bytes back.");
            })).WaitAsync(Generous);
        }
        finally
        {
            foreach (var client in clients)
            {
                client?.Dispose();
            }
        }
    }

    [Fact]
    public async Task Disposing_the_session_unsubscribes_the_quick_ack()
    {
        var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        var quickAck = session.QuickAck;
        Assert.NotNull(quickAck);
        Assert.True(quickAck.IsActive);

        session.Dispose();

        Assert.False(quickAck.IsActive);
    }

    /// <summary>A raw TCP echo on 127.0.0.1: every byte read is written back.</summary>
    private sealed class EchoTarget : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

        private EchoTarget()
        {
            _listener.Start();
            _ = AcceptAsync();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public static EchoTarget Start() => new();

        public void Dispose() => _listener.Stop();

        private async Task AcceptAsync()
        {
            while (true)
            {
                TcpClient client;
                try
                {
                    client = await _listener.AcceptTcpClientAsync();
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                    return;
                }

                _ = EchoAsync(client);
            }
        }

        private static async Task EchoAsync(TcpClient client)
        {
            using var _ = client;
            var stream = client.GetStream();
            var buffer = new byte[16 * 1024];
            try
            {
                int n;
                while ((n = await stream.ReadAsync(buffer)) > 0)
                {
                    await stream.WriteAsync(buffer.AsMemory(0, n));
                }
            }
            catch (IOException)
            {
            }
        }
    }
}
