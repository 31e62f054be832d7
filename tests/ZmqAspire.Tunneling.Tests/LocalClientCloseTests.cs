using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// A local client that closes its connection ends the target's connection too, even when the
/// target keeps writing and never closes on its own. Replays sshnet/SSH.NET#974
/// ("ForwardedPortLocal occasionally leads to CLOSE_WAIT connection": the client disconnects,
/// and x11vnc behind the tunnel is left connected forever) and sshnet/SSH.NET#326 (the same on a
/// remote forward). Our EOF half-closes (RFC 4254 section 5.3); the target's next write then
/// fails on the closed client socket, which must close the channel, and sshd the target's socket.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class LocalClientCloseTests(SshdFixture sshd, ITestOutputHelper output)
{
    private const int Clients = 20;
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_client_that_closes_ends_the_connection_of_a_target_that_keeps_writing()
    {
        using var target = TickServer.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var forward = session.OpenLocalForward(target.Endpoint);

        for (var i = 0; i < Clients; i++)
        {
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(IPAddress.Loopback, forward.LocalPort).WaitAsync(Functional);
            var tick = new byte[TickServer.TickSize];
            Assert.True(await client.ReceiveAsync(tick).WaitAsync(Functional) > 0, $"client {i}: no tick came through");
            if (i % 2 == 0)
            {
                // A close with ticks unread: the kernel resets. Otherwise a plain FIN.
                continue;
            }

            client.Shutdown(SocketShutdown.Both);
        }

        var watch = Stopwatch.StartNew();
        while (target.Open > 0 && watch.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(100);
        }

        var established = TcpTable.CountAt(target.Port, TcpTable.Established);
        output.WriteLine($"after {watch.Elapsed.TotalSeconds:0.0} s: the target accepted {target.Accepted}, {target.Open} still open, {established} ESTABLISHED on its port");
        Assert.Equal(Clients, target.Accepted);
        Assert.True(target.Open == 0, $"{target.Open} target connection(s) outlived their client by 5 s.");
        Assert.True(session.IsConnected);
    }

    /// <summary>Writes a small tick to each connection every 50 ms, never closing on its own (as a VNC server does).</summary>
    private sealed class TickServer : IDisposable
    {
        public const int TickSize = 64;
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private int _accepted;
        private int _open;

        private TickServer()
        {
            _listener.Start();
            _ = AcceptAsync();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public TcpEndpoint Endpoint => new("127.0.0.1", Port);

        public int Accepted => Volatile.Read(ref _accepted);

        public int Open => Volatile.Read(ref _open);

        public static TickServer Start() => new();

        public void Dispose() => _listener.Stop();

        private async Task AcceptAsync()
        {
            while (true)
            {
                Socket peer;
                try
                {
                    peer = await _listener.AcceptSocketAsync();
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                    return;
                }

                Interlocked.Increment(ref _accepted);
                Interlocked.Increment(ref _open);
                _ = TickAsync(peer);
            }
        }

        private async Task TickAsync(Socket peer)
        {
            using var _ = peer;
            var tick = new byte[TickSize];
            try
            {
                // An end of stream from the relay is a half-close: keep writing, as the target of
                // SSH.NET#974 does; only a failed write ends the connection.
                while (true)
                {
                    await peer.SendAsync(tick);
                    await Task.Delay(50);
                }
            }
            catch (SocketException)
            {
                // The relay closed the connection.
            }
            finally
            {
                Interlocked.Decrement(ref _open);
            }
        }
    }
}
