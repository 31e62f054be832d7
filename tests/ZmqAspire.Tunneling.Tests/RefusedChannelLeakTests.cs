using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// Hundreds of refused channel opens on one session leave nothing behind. Replays
/// mscdex/ssh2#329 ("Client.forwardOut which fails will open a new session and not close it":
/// polling a target that is not listening yet grew the server to 5000 sessions over one
/// connection). A refused direct-tcpip open (RFC 4254 section 5.1, SSH_OPEN_CONNECT_FAILED) must
/// free our channel number and the local connection, and cost the server nothing that lasts.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class RefusedChannelLeakTests(SshdFixture sshd, ITestOutputHelper output)
{
    private const int Attempts = 300;
    private const int Batch = 20;
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Polling_a_target_that_refuses_leaks_no_channel_connection_or_server_process()
    {
        var closedPort = TestNet.FreePort();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        var mux = session.Mux;
        Assert.NotNull(mux);
        var serverProcesses = sshd.SessionProcesses().Count;
        using var forward = session.OpenLocalForward(new TcpEndpoint("127.0.0.1", closedPort));
        var refusals = 0;
        forward.Failed += (_, _) => Interlocked.Increment(ref refusals);

        var watch = Stopwatch.StartNew();
        for (var done = 0; done < Attempts; done += Batch)
        {
            // A poller that retries in bursts, as a client waiting for its server to come up does.
            await Task.WhenAll(Enumerable.Range(0, Batch).Select(_ => ConnectAndSeeClosedAsync(forward.LocalPort)));
        }

        var elapsed = watch.Elapsed;
        var drained = Stopwatch.StartNew();
        while ((mux.ChannelCount > 0 || Volatile.Read(ref refusals) < Attempts) && drained.Elapsed < Functional)
        {
            await Task.Delay(50);
        }

        var afterProcesses = sshd.SessionProcesses().Count;
        output.WriteLine($"{Attempts} refused opens in {elapsed.TotalSeconds:0.0} s; {Volatile.Read(ref refusals)} refusals reported; {mux.ChannelCount} channels left; sshd processes for the session {serverProcesses} -> {afterProcesses}");
        Assert.Equal(0, mux.ChannelCount);
        Assert.Equal(Attempts, Volatile.Read(ref refusals));
        Assert.Equal(serverProcesses, afterProcesses);
        Assert.True(session.IsConnected);

        // The session is as good as new: a target that listens is reached.
        using var echo = EchoServer.Start();
        using var good = session.OpenLocalForward(echo.Endpoint);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, good.LocalPort).WaitAsync(Functional);
        await client.SendAsync("ping"u8.ToArray()).WaitAsync(Functional);
        var back = new byte[4];
        var got = 0;
        while (got < back.Length)
        {
            var n = await client.ReceiveAsync(back.AsMemory(got)).AsTask().WaitAsync(Functional);
            Assert.True(n > 0, "the relay closed before echoing");
            got += n;
        }

        Assert.Equal("ping"u8.ToArray(), back);
    }

    /// <summary>Connects to the forward and waits until it closes the connection (end of stream or reset).</summary>
    private static async Task ConnectAndSeeClosedAsync(int port)
    {
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(Functional);
        var buffer = new byte[16];
        try
        {
            var n = await client.ReceiveAsync(buffer.AsMemory()).AsTask().WaitAsync(Functional);
            Assert.Equal(0, n);
        }
        catch (SocketException)
        {
            // Reset: closed all the same.
        }
    }
}
