using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// A target hangs while the SSH session carrying its forward is also lost (sshd's session process
/// killed) and logged in anew; then the target comes back. Replays the autossh reconnect reports
/// (Autossh/autossh#8: the tunnel needed a manual restart after the far side and the link both
/// dropped; yurt-page/sshtunnel#9: reconnect after the link drops) against the unanswered-open
/// change: opens left on the dead session must neither mark a target on the new session nor keep
/// the returned target marked unreachable; a connection held across the re-login relays, and
/// <see cref="SelfHealingForward.ForwardRecovered"/> clears <see cref="SelfHealingForward.IsRefused"/>.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class HangingTargetSessionLossTests(SshdFixture sshd, ITestOutputHelper output)
{
    private static readonly TimeSpan OpenTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_hanging_target_across_a_lost_session_recovers_on_the_new_session()
    {
        using var echo = EchoServer.Start();
        using var hanging = HangingTarget.Start();
        var healing = new SelfHealingForwardOptions { ReconnectDelay = TimeSpan.FromMilliseconds(500), MaxReconnectDelay = TimeSpan.FromSeconds(2) };
        await using var forward = SelfHealingForward.Start(sshd.Options(ClientKey.Ed25519, connectTimeout: OpenTimeout), [echo.Endpoint, hanging.Endpoint], healing);
        var failures = new System.Collections.Concurrent.ConcurrentQueue<SshForwardException>();
        var recovered = new TaskCompletionSource<TcpEndpoint>(TaskCreationOptions.RunContinuationsAsynchronously);
        var secondSession = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        forward.ForwardFailed += (_, e) => failures.Enqueue(e.Error);
        forward.ForwardRecovered += (_, e) => recovered.TrySetResult(e.Remote);
        forward.Connected += (_, e) =>
        {
            if (e.SessionNumber >= 2)
            {
                secondSession.TrySetResult();
            }
        };
        await forward.WaitUntilUpAsync(Functional);

        // One open to the hanging target times out (marked unreachable); a second is in flight
        // (held, then opened at the backoff) when the session dies under it.
        using var first = await ConnectAsync(forward.LocalEndpoints[1].Port);
        await WaitForAsync(() => forward.IsRefused(1));
        using var inFlight = await ConnectAsync(forward.LocalEndpoints[1].Port);
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var watch = Stopwatch.StartNew();
        sshd.KillSessions();
        await secondSession.Task.WaitAsync(Functional);
        var relogin = watch.Elapsed;
        await forward.WaitUntilUpAsync(Functional);

        // Past the dead session's open timeout: nothing from it may count on the new session.
        await Task.Delay(OpenTimeout + TimeSpan.FromSeconds(1));
        Assert.False(forward.IsRefused(0), "the working target was marked unreachable");
        using (var working = await ConnectAsync(forward.LocalEndpoints[0].Port))
        {
            await EchoAsync(working, "new session");
        }

        // A client held for the still-marked target, then the target returns.
        using var held = await ConnectAsync(forward.LocalEndpoints[1].Port);
        hanging.ComeBack();
        watch.Restart();
        await EchoAsync(held, "held");
        var heldThrough = watch.Elapsed;
        var recoveredRemote = await recovered.Task.WaitAsync(Functional);
        output.WriteLine(
            $"re-login {relogin.TotalSeconds:0.0} s after the kill; held connection relayed {heldThrough.TotalSeconds:0.00} s after the target came back; " +
            $"sessions {forward.SessionCount}; ForwardFailed {failures.Count}x: {string.Join(" | ", failures.Select(f => $"{f.Remote}: {f.Message}"))}");

        Assert.Equal(hanging.Endpoint, recoveredRemote);
        Assert.False(forward.IsRefused(1), "the returned target is still marked unreachable");
        Assert.False(forward.IsRefused(0), "the working target was marked unreachable");
        // The session's loss is Disconnected's news, not a failure of the working target (SSH.NET
        // hands the session's error to every forwarded port: SessionLossEventTests).
        Assert.DoesNotContain(failures, f => f.Remote == echo.Endpoint);
        Assert.Equal(2, forward.SessionCount);
        using var fresh = await ConnectAsync(forward.LocalEndpoints[1].Port);
        await EchoAsync(fresh, "fresh");
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(watch.Elapsed < Functional, "timed out waiting");
            await Task.Delay(50);
        }
    }

    private static Task<Socket> ConnectAsync(int port) => LoopbackEcho.ConnectAsync(port, Functional);

    private static Task EchoAsync(Socket socket, string text) => LoopbackEcho.RoundTripAsync(socket, text, Functional);
}
