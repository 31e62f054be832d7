using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// What a forward reports as a failure: a close we asked for, or the local client's own reset,
/// is none; a refused channel is, with its real target, on the forward it belongs to.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class ForwardFailureTests(SshdFixture sshd, ITestOutputHelper output)
{
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Disposing_a_forward_while_it_relays_reports_no_failure()
    {
        using var flood = FloodServer.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        var failures = new ConcurrentBag<SshForwardException>();
        for (var cycle = 0; cycle < 200; cycle++)
        {
            var forward = session.OpenLocalForward(flood.Endpoint);
            forward.Failed += (_, e) => failures.Add(e.Error);
            var clients = new List<TcpClient>();
            try
            {
                for (var i = 0; i < 3; i++)
                {
                    var client = new TcpClient();
                    clients.Add(client);
                    await client.ConnectAsync(IPAddress.Loopback, forward.LocalPort).WaitAsync(Functional);
                    _ = DrainAsync(client);
                }

                // Data is flowing on every connection when the forward is closed.
                try
                {
                    await clients[^1].GetStream().ReadExactlyAsync(new byte[1]).AsTask().WaitAsync(Functional);
                }
                catch (Exception ex) when (ex is EndOfStreamException or IOException or TimeoutException)
                {
                    // Seen under heavy load: say what the forward reported and what sshd logged.
                    throw new InvalidOperationException(
                        $"cycle {cycle}: no first byte on a new connection ({ex.GetType().Name}); forward failures: [{string.Join(" | ", failures.Select(f => f.Message))}]\n{sshd.LogTail()}", ex);
                }
                forward.Dispose();
            }
            finally
            {
                clients.ForEach(c => c.Dispose());
            }
        }

        await Task.Delay(500); // late reports from channels that were closing
        output.WriteLine($"{failures.Count} failure(s) reported: {string.Join(" | ", failures.Select(f => f.Message).Distinct())}");
        Assert.Empty(failures);
        Assert.True(session.IsConnected);
    }

    [Fact]
    public async Task A_local_client_reset_is_not_a_forward_failure()
    {
        // Half the clients reset while the target is still writing to them (a send to the
        // client fails), half after a round trip through an echo server.
        using var flood = FloodServer.Start();
        using var echo = EchoServer.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var toFlood = session.OpenLocalForward(flood.Endpoint);
        using var toEcho = session.OpenLocalForward(echo.Endpoint);
        var failures = new ConcurrentBag<SshForwardException>();
        toFlood.Failed += (_, e) => failures.Add(e.Error);
        toEcho.Failed += (_, e) => failures.Add(e.Error);
        var payload = "ping!"u8.ToArray();
        for (var i = 0; i < 300; i++)
        {
            var flooded = i % 2 == 0;
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await client.ConnectAsync(IPAddress.Loopback, (flooded ? toFlood : toEcho).LocalPort).WaitAsync(Functional);
            if (!flooded)
            {
                await client.SendAsync(payload).WaitAsync(Functional);
            }

            var back = new byte[payload.Length];
            var got = 0;
            while (got < back.Length)
            {
                var n = await client.ReceiveAsync(back.AsMemory(got)).AsTask().WaitAsync(Functional);
                Assert.True(n > 0, $"Connection {i} closed before any data came back.");
                got += n;
            }

            client.LingerState = new LingerOption(true, 0); // RST on close
        }

        await Task.Delay(1000);
        output.WriteLine($"{failures.Count} failure(s) reported: {string.Join(" | ", failures.Select(f => f.Message).Distinct())}");
        Assert.Empty(failures);
        Assert.True(toFlood.IsListening && toEcho.IsListening);
    }

    [Fact]
    public async Task A_refused_channel_names_its_target_on_its_own_forward_when_the_session_has_several()
    {
        using var echo = EchoServer.Start();
        var closed = new TcpEndpoint("127.0.0.1", TestNet.FreePort());
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var good = session.OpenLocalForward(echo.Endpoint);
        using var refused = session.OpenLocalForward(closed);
        var refusedFailed = new TaskCompletionSource<SshForwardException>(TaskCreationOptions.RunContinuationsAsynchronously);
        var sessionFailed = new TaskCompletionSource<SshForwardException>(TaskCreationOptions.RunContinuationsAsynchronously);
        var goodFailures = new ConcurrentBag<SshForwardException>();
        refused.Failed += (_, e) => refusedFailed.TrySetResult(e.Error);
        good.Failed += (_, e) => goodFailures.Add(e.Error);
        session.ChannelOpenFailed += (_, e) => sessionFailed.TrySetResult(e.Error);

        using (var client = new TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, refused.LocalPort);
            var fromSession = await sessionFailed.Task.WaitAsync(Functional);
            output.WriteLine(fromSession.Message);
            Assert.Equal(closed, fromSession.Remote);
            var error = await refusedFailed.Task.WaitAsync(Functional);
            Assert.Equal(closed, error.Remote);
            Assert.Contains("SSH_OPEN_CONNECT_FAILED", error.Message, StringComparison.Ordinal);
        }

        Assert.Empty(goodFailures);
        Assert.True(good.IsListening && refused.IsListening);
    }

    private static async Task DrainAsync(TcpClient client)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            var stream = client.GetStream();
            while (await stream.ReadAsync(buffer) > 0)
            {
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
        {
            // Closed by the test or by the forward.
        }
    }
}
