using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// One of two targets of a self-healing forward hangs (its connects go unanswered), then comes
/// back while a client's connection is held for it. Replays autossh's complaint in
/// Autossh/autossh#8 and jnovack/autossh#46 (a tunnel that stays "neither online nor offline"
/// and needs a manual restart once the far side is back) against the unanswered-open change:
/// the hanging target is marked unreachable without a new login, and when it answers again the
/// held connection gets through, <see cref="SelfHealingForward.ForwardRecovered"/> is raised for
/// it and <see cref="SelfHealingForward.IsRefused"/> is cleared, on the same session.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class HangingTargetComesBackTests(SshdFixture sshd, ITestOutputHelper output)
{
    private static readonly TimeSpan OpenTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_target_that_hung_and_comes_back_is_recovered_on_the_same_session_and_its_held_connection_relays()
    {
        using var echo = EchoServer.Start();
        using var hanging = HangingTarget.Start();
        var healing = new SelfHealingForwardOptions { ReconnectDelay = TimeSpan.FromMilliseconds(500), MaxReconnectDelay = TimeSpan.FromSeconds(2) };
        await using var forward = SelfHealingForward.Start(sshd.Options(ClientKey.Ed25519, connectTimeout: OpenTimeout), [echo.Endpoint, hanging.Endpoint], healing);
        var failed = new TaskCompletionSource<SshForwardException>(TaskCreationOptions.RunContinuationsAsynchronously);
        var recovered = new TaskCompletionSource<TcpEndpoint>(TaskCreationOptions.RunContinuationsAsynchronously);
        var failures = 0;
        forward.ForwardFailed += (_, e) =>
        {
            Interlocked.Increment(ref failures);
            failed.TrySetResult(e.Error);
        };
        forward.ForwardRecovered += (_, e) => recovered.TrySetResult(e.Remote);
        await forward.WaitUntilUpAsync(Functional);

        using var working = await ConnectAsync(forward.LocalEndpoints[0].Port);
        await EchoAsync(working, "before");

        // The first connection to the hanging target: its open goes unanswered.
        var watch = Stopwatch.StartNew();
        using var first = await ConnectAsync(forward.LocalEndpoints[1].Port);
        var error = await failed.Task.WaitAsync(Functional);
        var markedAfter = watch.Elapsed;
        Assert.Equal(hanging.Endpoint, error.Remote);
        Assert.Contains($"did not answer the channel open within {OpenTimeout.TotalSeconds:0} s", error.Message, StringComparison.Ordinal);
        Assert.True(forward.IsRefused(1), "the hanging target is not marked unreachable");
        Assert.False(forward.IsRefused(0), "the working target was marked unreachable");

        // A client connects while the target is still down: held for the backoff. Then the target returns.
        using var held = await ConnectAsync(forward.LocalEndpoints[1].Port);
        hanging.ComeBack();
        var cameBack = watch.Elapsed;
        await EchoAsync(held, "held");
        var heldThrough = watch.Elapsed;
        var recoveredRemote = await recovered.Task.WaitAsync(Functional);
        output.WriteLine(
            $"marked unreachable {markedAfter.TotalSeconds:0.0} s after the first connect (open timeout {OpenTimeout.TotalSeconds:0} s); " +
            $"held connection relayed {(heldThrough - cameBack).TotalSeconds:0.00} s after the target came back; " +
            $"ForwardFailed raised {Volatile.Read(ref failures)}x; sessions {forward.SessionCount}; target accepted {hanging.Accepted}");

        Assert.Equal(hanging.Endpoint, recoveredRemote);
        Assert.False(forward.IsRefused(1), "the target that came back is still marked unreachable");
        Assert.False(forward.IsRefused(0), "the working target was marked unreachable");
        Assert.Equal(1, forward.SessionCount);
        Assert.True(forward.IsUp, "the session is not up");
        await EchoAsync(working, "after");

        // A fresh connection to the returned target relays at once.
        using var fresh = await ConnectAsync(forward.LocalEndpoints[1].Port);
        await EchoAsync(fresh, "fresh");
    }

    /// <summary>
    /// A target slow to accept, but answering within the open timeout: replays
    /// int128/gradle-ssh-plugin#250 (a host that takes long to open a channel must not fail
    /// before the configured timeout). sshd's connect hangs (its SYN is dropped) until the target
    /// accepts again 2 s later, well within the 5 s open timeout: the connection relays and the
    /// target is not marked unreachable.
    /// </summary>
    [Fact]
    public async Task A_target_that_answers_slowly_within_the_open_timeout_relays_and_is_not_marked_unreachable()
    {
        var slowTimeout = TimeSpan.FromSeconds(5);
        using var echo = EchoServer.Start();
        using var slow = HangingTarget.Start();
        await using var forward = SelfHealingForward.Start(sshd.Options(ClientKey.Ed25519, connectTimeout: slowTimeout), [echo.Endpoint, slow.Endpoint]);
        var failures = 0;
        forward.ForwardFailed += (_, _) => Interlocked.Increment(ref failures);
        await forward.WaitUntilUpAsync(Functional);

        var watch = Stopwatch.StartNew();
        using var client = await ConnectAsync(forward.LocalEndpoints[1].Port);
        await Task.Delay(TimeSpan.FromSeconds(2));
        slow.ComeBack();
        await EchoAsync(client, "slow");
        var answered = watch.Elapsed;
        output.WriteLine($"relayed {answered.TotalSeconds:0.0} s after the connect (open timeout {slowTimeout.TotalSeconds:0} s); ForwardFailed {Volatile.Read(ref failures)}x; sessions {forward.SessionCount}");

        Assert.True(answered > TimeSpan.FromSeconds(2), $"relayed after {answered.TotalSeconds:0.0} s: the target was not slow");
        Assert.Equal(0, Volatile.Read(ref failures));
        Assert.False(forward.IsRefused(1), "the slow target was marked unreachable");
        Assert.Equal(1, forward.SessionCount);
    }

    private static Task<Socket> ConnectAsync(int port) => LoopbackEcho.ConnectAsync(port, Functional);

    private static Task EchoAsync(Socket socket, string text) => LoopbackEcho.RoundTripAsync(socket, text, Functional);
}
