using System.Runtime.CompilerServices;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// Sessions that were used and disposed are garbage: nothing static (event subscriptions, channel
/// registries, timers) keeps them, so a tunnel that logs in again and again over days does not
/// grow. Replays sshnet/SSH.NET#775 ("ForwardedPortLocal: memory issue": a client with a local
/// forward, connected and disposed every 5 s, grew all night; without the forward it did not).
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class SessionLeakTests(SshdFixture sshd, ITestOutputHelper output)
{
    private const int Cycles = 12;

    [Fact]
    public async Task Disposed_sessions_with_used_forwards_are_collected()
    {
        using var server = ReplyServer.Start();
        var sessions = new List<WeakReference>();
        for (var i = 0; i < Cycles; i++)
        {
            sessions.Add(await UseOnceAsync(server));
        }

        var alive = await CountAliveAsync(sessions);
        output.WriteLine($"{alive} of {Cycles} disposed sessions still reachable");
        Assert.Equal(0, alive);
    }

    /// <summary>
    /// The long-running case: a self-healing forward that logs in again and again keeps only its
    /// current session; the ones it replaced are collected while it lives on.
    /// </summary>
    [Fact]
    public async Task A_self_healing_forward_does_not_keep_the_sessions_it_replaced()
    {
        using var server = ReplyServer.Start();
        await using var forward = SelfHealingForward.Start(sshd.Options(ClientKey.Ed25519), TcpEndpoint.Parse(server.Endpoint));
        var replaced = new List<WeakReference>();
        for (var i = 0; i < Cycles; i++)
        {
            replaced.Add(await UseAndReplaceAsync(forward, server));
        }

        var alive = await CountAliveAsync(replaced);
        output.WriteLine($"{alive} of {Cycles} replaced sessions still reachable; the forward is on session {forward.SessionCount}");
        Assert.Equal(0, alive);
    }

    private static async Task<int> CountAliveAsync(List<WeakReference> references)
    {
        var alive = 0;
        for (var attempt = 0; attempt < 20; attempt++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            alive = references.Count(s => s.IsAlive);
            if (alive == 0)
            {
                break;
            }

            await Task.Delay(250); // background disposal or a receive thread still ending
        }

        return alive;
    }

    /// <summary>One round trip on the forward's current session, then a new login; returns a weak reference to the old session.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task<WeakReference> UseAndReplaceAsync(SelfHealingForward forward, ReplyServer server)
    {
        var session = await forward.WaitUntilUpAsync(TimeSpan.FromSeconds(20));
        var weak = new WeakReference(session);
        using (var req = Requests.NewRequestSocket())
        {
            req.Connect(forward.LocalEndpoint.ToString());
            Assert.Equal(server.ExpectedGreeting, Requests.Ask(req, "Hello", () => string.Empty));
        }

        forward.Reconnect();
        await WaitUntilReplacedAsync(forward, session);
        return weak;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task WaitUntilReplacedAsync(SelfHealingForward forward, SshTunnelSession old)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (ReferenceEquals(await forward.WaitUntilUpAsync(TimeSpan.FromSeconds(20)), old))
        {
            Assert.True(DateTime.UtcNow < deadline, "the forward did not log in again");
            await Task.Delay(50);
        }
    }

    /// <summary>Connects, forwards one round trip, disposes; returns a weak reference to the session.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private async Task<WeakReference> UseOnceAsync(ReplyServer server)
    {
        var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        var weak = new WeakReference(session);
        using (var req = Requests.NewRequestSocket())
        using (req.ConnectThroughTunnel(server.Endpoint, session))
        {
            Assert.Equal(server.ExpectedGreeting, Requests.Ask(req, "Hello", () => sshd.LogTail()));
        }

        await session.DisposeAsync();
        return weak;
    }
}
