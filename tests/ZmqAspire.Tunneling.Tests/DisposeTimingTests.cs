using System.Diagnostics;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// How long disposing a connected session or forward takes, and how much of it blocks the caller
/// of <c>DisposeAsync</c>: the SSH.NET calls under it (<c>ForwardedPort.Stop</c>,
/// <c>BaseClient.Disconnect</c>) are synchronous and wait for the server. The figures are
/// printed; only generous bounds are asserted (a figure, not a speed target).
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class DisposeTimingTests(SshdFixture sshd, ITestOutputHelper output)
{
    /// <summary>Far above what a disposal or a login takes here (tens to hundreds of milliseconds), even on a loaded machine.</summary>
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    /// <summary>The caller's share of <c>DisposeAsync</c>: the call returns before the SSH work is done.</summary>
    private static readonly TimeSpan CallerShare = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task Disposing_a_connected_session_asynchronously_awaits_the_work_off_the_callers_thread()
    {
        using var server = ReplyServer.Start();
        var blocking = await TimeSessionAsync(server, async session =>
        {
            session.Dispose();
            await Task.CompletedTask;
        });
        var (returned, done) = await TimeSessionDisposeAsync(server);
        output.WriteLine($"connected session with a forward and a relayed connection: Dispose() blocks {Ms(blocking)}; DisposeAsync() returns after {Ms(returned)}, done after {Ms(done)}");
        Assert.True(done < Generous, $"DisposeAsync took {Ms(done)}");
        Assert.True(returned < CallerShare, $"DisposeAsync blocked its caller {Ms(returned)}");
    }

    [Fact]
    public async Task Disposing_a_session_whose_server_is_frozen_does_not_block_the_caller()
    {
        using var server = ReplyServer.Start();
        var before = sshd.SessionProcesses();
        var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var req = Requests.NewRequestSocket();
        using var forward = req.ConnectThroughTunnel(server.Endpoint, session);
        Assert.Equal(server.ExpectedGreeting, Requests.Ask(req, "Hello", () => sshd.LogTail()));
        // Its close is a global request (cancel-tcpip-forward, RFC 4254 section 7.1) that waits for the server's answer.
        session.OpenRemoteForward(new TcpEndpoint("127.0.0.1", 0), TcpEndpoint.Parse(server.Endpoint));
        // The session's sshd processes stop answering, as a paused bastion's.
        var pids = sshd.SessionProcesses().Except(before).SelectMany(ProcFs.Tree).ToList();
        Assert.NotEmpty(pids);
        using (FrozenProcesses.Freeze(pids))
        {
            var watch = Stopwatch.StartNew();
            var pending = session.DisposeAsync();
            var returned = watch.Elapsed;
            await pending.AsTask().WaitAsync(Generous);
            var done = watch.Elapsed;
            output.WriteLine($"session of a frozen server, a local and a remote forward: DisposeAsync() returns after {Ms(returned)}, done after {Ms(done)}");
            Assert.True(returned < CallerShare, $"DisposeAsync blocked its caller {Ms(returned)}");
            Assert.False(session.IsConnected);
        }
    }

    [Fact]
    public async Task Disposing_a_self_healing_forward_asynchronously_awaits_its_loop_and_session()
    {
        using var server = ReplyServer.Start();
        var blocking = await TimeForwardAsync(server, forward =>
        {
            var watch = Stopwatch.StartNew();
            forward.Dispose();
            return Task.FromResult((watch.Elapsed, watch.Elapsed));
        });
        var (returned, done) = await TimeForwardAsync(server, async forward =>
        {
            var watch = Stopwatch.StartNew();
            var pending = forward.DisposeAsync();
            var returned = watch.Elapsed;
            await pending;
            return (returned, watch.Elapsed);
        });
        output.WriteLine($"self-healing forward, session up, a relayed connection: Dispose() blocks {Ms(blocking.Returned)}; DisposeAsync() returns after {Ms(returned)}, done after {Ms(done)}");
        Assert.True(done < Generous, $"DisposeAsync took {Ms(done)}");
        Assert.True(returned < CallerShare, $"DisposeAsync blocked its caller {Ms(returned)}");
    }

    private static string Ms(TimeSpan t) => $"{t.TotalMilliseconds:0.0} ms";

    private async Task<TimeSpan> TimeSessionAsync(ReplyServer server, Func<SshTunnelSession, Task> dispose)
    {
        var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var req = Requests.NewRequestSocket();
        using var forward = req.ConnectThroughTunnel(server.Endpoint, session);
        Assert.Equal(server.ExpectedGreeting, Requests.Ask(req, "Hello", () => sshd.LogTail()));
        var watch = Stopwatch.StartNew();
        await dispose(session);
        return watch.Elapsed;
    }

    private async Task<(TimeSpan Returned, TimeSpan Done)> TimeSessionDisposeAsync(ReplyServer server)
    {
        var returned = TimeSpan.Zero;
        var done = await TimeSessionAsync(server, async session =>
        {
            var watch = Stopwatch.StartNew();
            var pending = session.DisposeAsync();
            returned = watch.Elapsed;
            await pending;
        });
        return (returned, done);
    }

    private async Task<(TimeSpan Returned, TimeSpan Done)> TimeForwardAsync(ReplyServer server, Func<SelfHealingForward, Task<(TimeSpan, TimeSpan)>> dispose)
    {
        var forward = SelfHealingForward.Start(sshd.Options(ClientKey.Ed25519), TcpEndpoint.Parse(server.Endpoint));
        await forward.WaitUntilUpAsync(Generous);
        using var req = Requests.NewRequestSocket();
        req.Connect(forward.LocalEndpoint.ToString());
        Assert.Equal(server.ExpectedGreeting, Requests.Ask(req, "Hello", () => sshd.LogTail()));
        return await dispose(forward);
    }
}
