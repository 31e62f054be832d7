using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>What a forward does with its local port and its connections when it ends or fails.</summary>
[Collection(SshdCollection.Name)]
public sealed class ForwardLifetimeTests(SshdFixture sshd)
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Disposing_a_forward_frees_its_local_port()
    {
        using var server = ReplyServer.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        var forward = session.OpenLocalForward(TcpEndpoint.Parse(server.Endpoint));
        var port = forward.LocalPort;
        Assert.NotEmpty(TestNet.ListeningSockets(port));
        using (var req = Requests.NewRequestSocket())
        {
            req.Connect(forward.LocalEndpoint.ToString());
            Assert.Equal(server.ExpectedGreeting, Requests.Ask(req, "Hello", () => sshd.LogTail()));
        }

        forward.Dispose();

        Assert.False(forward.IsListening);
        Assert.DoesNotContain(forward, session.Forwards);
        Assert.True(session.IsConnected);
        AssertPortFree(port);
    }

    [Fact]
    public async Task Disposing_the_session_frees_every_forward_port()
    {
        using var server = ReplyServer.Start();
        var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        int[] ports;
        LocalForward[] forwards;
        try
        {
            forwards = [session.OpenLocalForward(TcpEndpoint.Parse(server.Endpoint)), session.OpenLocalForward(TcpEndpoint.Parse(server.Endpoint))];
            ports = [.. forwards.Select(f => f.LocalPort)];
            using var req = Requests.NewRequestSocket();
            req.Connect(forwards[0].LocalEndpoint.ToString());
            Assert.Equal(server.ExpectedGreeting, Requests.Ask(req, "Hello", () => sshd.LogTail()));
        }
        finally
        {
            session.Dispose();
        }

        Assert.False(session.IsConnected);
        Assert.Empty(session.Forwards);
        Assert.All(forwards, f => Assert.False(f.IsListening));
        Assert.All(ports, AssertPortFree);
        Assert.Throws<ObjectDisposedException>(() => session.OpenLocalForward(TcpEndpoint.Parse(server.Endpoint)));
    }

    [Fact]
    public async Task Disposing_a_forward_closes_the_connections_it_relays()
    {
        using var target = new TcpListener(IPAddress.Loopback, 0);
        target.Start();
        var targetPort = ((IPEndPoint)target.LocalEndpoint).Port;
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        var forward = session.OpenLocalForward(new TcpEndpoint("127.0.0.1", targetPort));
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, forward.LocalPort);
        var clientStream = client.GetStream();
        using var relayed = await target.AcceptTcpClientAsync().WaitAsync(Generous);
        var relayedStream = relayed.GetStream();

        // Bytes flow both ways before the forward is closed.
        await clientStream.WriteAsync(Encoding.ASCII.GetBytes("ping"));
        Assert.Equal("ping", await ReadExactlyAsync(relayedStream, 4));
        await relayedStream.WriteAsync(Encoding.ASCII.GetBytes("pong"));
        Assert.Equal("pong", await ReadExactlyAsync(clientStream, 4));

        var watch = Stopwatch.StartNew();
        forward.Dispose();

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), $"Dispose took {watch.Elapsed}.");
        Assert.True(await EndsClosedAsync(clientStream), "The local side of the relayed connection is still open 10 s after Dispose.");
        Assert.True(await EndsClosedAsync(relayedStream), "The target side of the relayed connection is still open 10 s after Dispose.");
        AssertPortFree(forward.LocalPort);
    }

    [Fact]
    public async Task Refused_target_closes_the_relayed_connection_and_keeps_the_forward()
    {
        var closedPort = TestNet.FreePort();
        var logPosition = sshd.LogPosition();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var forward = session.OpenLocalForward(new TcpEndpoint("127.0.0.1", closedPort));
        var failed = new TaskCompletionSource<SshForwardException>(TaskCreationOptions.RunContinuationsAsynchronously);
        forward.Failed += (_, e) => failed.TrySetResult(e.Error);

        // Twice: the forward goes on accepting after a refused channel.
        for (var attempt = 1; attempt <= 2; attempt++)
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, forward.LocalPort);
            var stream = client.GetStream();
            try
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes("anyone there?"));
            }
            catch (IOException)
            {
                // Already closed by the forward: fine.
            }

            Assert.True(await EndsClosedAsync(stream), $"Attempt {attempt}: the connection to a refused target is still open after 10 s.{sshd.LogTail()}");
        }

        // The refusal happened on the server: sshd could not connect to the target.
        var refusal = $"connect_to 127.0.0.1 port {closedPort}: failed";
        Assert.True(
            await sshd.WaitForLogLinesAsync(logPosition, refusal, 2, Generous) == 2,
            $"sshd did not log two refused channels ('{refusal}'):{sshd.LogTail()}");
        Assert.True(session.IsConnected);
        Assert.True(forward.IsListening);
        // SSH.NET 2026.0.0 closes a refused channel's connection without reporting it; the
        // session hears the server's SSH_MSG_CHANNEL_OPEN_FAILURE instead (ChannelOpenFailures).
        var error = await failed.Task.WaitAsync(Generous);
        Assert.Equal(new TcpEndpoint("127.0.0.1", closedPort), error.Remote);
        Assert.Contains("SSH_OPEN_CONNECT_FAILED", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Nothing listens on the port any more, and it can be bound again.</summary>
    private static void AssertPortFree(int port)
    {
        var listening = TestNet.ListeningSockets(port);
        Assert.True(listening.Count == 0, $"Still listening on {port}: {string.Join(" | ", listening)}");

        using (var probe = new TcpClient())
        {
            var refused = Assert.Throws<SocketException>(() => probe.Connect(IPAddress.Loopback, port));
            Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        }

        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        listener.Stop();
    }

    private static async Task<string> ReadExactlyAsync(Stream stream, int count)
    {
        var buffer = new byte[count];
        using var timeout = new CancellationTokenSource(Generous);
        await stream.ReadExactlyAsync(buffer, timeout.Token);
        return Encoding.ASCII.GetString(buffer);
    }

    /// <summary>True when the peer closes or resets the connection within 10 s (data still in flight is drained).</summary>
    private static async Task<bool> EndsClosedAsync(Stream stream)
    {
        using var timeout = new CancellationTokenSource(Generous);
        var buffer = new byte[4096];
        try
        {
            while (await stream.ReadAsync(buffer, timeout.Token) > 0)
            {
            }

            return true;
        }
        catch (IOException)
        {
            return true; // reset
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
