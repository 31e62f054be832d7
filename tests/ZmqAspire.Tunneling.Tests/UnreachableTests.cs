using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>Servers that refuse connections or never speak SSH.</summary>
[Collection(SshdCollection.Name)]
public sealed class UnreachableTests(SshdFixture sshd)
{
    [Fact]
    public async Task Closed_port_is_unreachable_quickly()
    {
        var closedPort = TestNet.FreePort();
        var options = sshd.Options(ClientKey.Ed25519);
        options.Server = new SshServerAddress(SshdFixture.User, "127.0.0.1", closedPort);
        var watch = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<SshServerUnreachableException>(() => SshTunnelSession.ConnectAsync(options));

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), $"Took {watch.Elapsed}.");
        Assert.False(ex.TimedOut);
        Assert.NotNull(ex.Server);
        Assert.Equal(closedPort, ex.Server.Port);
        Assert.Contains($"127.0.0.1:{closedPort}", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Server_that_never_sends_a_banner_times_out()
    {
        using var silent = new SilentServer();
        var options = sshd.Options(ClientKey.Ed25519, connectTimeout: TimeSpan.FromSeconds(2));
        options.Server = new SshServerAddress(SshdFixture.User, "127.0.0.1", silent.Port);
        var watch = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<SshServerUnreachableException>(() => SshTunnelSession.ConnectAsync(options));

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), $"Took {watch.Elapsed}.");
        Assert.True(ex.TimedOut, ex.ToString());
        Assert.True(silent.Accepted >= 1, "The client never connected to the silent server.");
    }

    [Fact]
    public async Task Tunnel_to_a_non_tcp_endpoint_fails_before_any_network_traffic()
    {
        // The server address is a closed port: reaching the network would give SshServerUnreachableException.
        var options = sshd.Options(ClientKey.Ed25519);
        options.Server = new SshServerAddress(SshdFixture.User, "127.0.0.1", TestNet.FreePort());
        using var req = Requests.NewRequestSocket();

        var ex = await Assert.ThrowsAsync<FormatException>(() => req.ConnectThroughTunnelAsync("ipc://x", options));

        Assert.Contains("ipc://x", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>Accepts TCP connections on 127.0.0.1 and never writes a byte.</summary>
    private sealed class SilentServer : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly List<TcpClient> _clients = [];
        private readonly Task _accepting;
        private int _accepted;

        public SilentServer()
        {
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            _accepting = Task.Run(AcceptAsync);
        }

        public int Port { get; }

        public int Accepted => Volatile.Read(ref _accepted);

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    var client = await _listener.AcceptTcpClientAsync();
                    lock (_clients)
                    {
                        _clients.Add(client);
                    }

                    Interlocked.Increment(ref _accepted);
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // Stopped.
            }
        }

        public void Dispose()
        {
            _listener.Stop();
            _accepting.Wait(TimeSpan.FromSeconds(10));
            lock (_clients)
            {
                _clients.ForEach(c => c.Dispose());
            }
        }
    }
}
