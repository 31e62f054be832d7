using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// Bursts of connections to one target of a self-healing forward that hangs (sshd's connects to
/// it go unanswered). Replays sshnet/SSH.NET#1670 (how many channels a forward opens, what
/// bounds pending connections) and hierynomus/sshj#175 (a forward to an unavailable destination
/// locks its client forever) against the unanswered-open change: every local client is closed
/// in bounded time, the session and the other target are untouched, and when the target comes
/// back every abandoned channel is closed (no channel, target connection or thread left over).
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class HangingTargetBurstTests(SshdFixture sshd, ITestOutputHelper output)
{
    private const int Burst = 40;
    private const int SecondBurst = 100;
    private static readonly TimeSpan OpenTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Bursts_to_a_hanging_target_close_every_client_in_bounded_time_and_leave_nothing_behind_when_it_returns()
    {
        using var echo = EchoServer.Start();
        using var hanging = HangingTarget.Start();
        var healing = new SelfHealingForwardOptions { ReconnectDelay = TimeSpan.FromMilliseconds(500), MaxReconnectDelay = TimeSpan.FromSeconds(2) };
        await using var forward = SelfHealingForward.Start(sshd.Options(ClientKey.Ed25519, connectTimeout: OpenTimeout), [echo.Endpoint, hanging.Endpoint], healing);
        var session = await forward.WaitUntilUpAsync(Functional);
        var mux = session.Mux;
        Assert.NotNull(mux);
        var serverProcesses = sshd.SessionProcesses().Count;
        var threadsBefore = Process.GetCurrentProcess().Threads.Count;
        using var working = await ConnectAsync(forward.LocalEndpoints[0].Port);
        await EchoAsync(working, "before");
        // The working connection's own channel: the baseline the abandoned ones must come back to.
        var baseline = mux.ChannelCount;

        // First burst: every connection opens a channel that sshd leaves unanswered.
        var peakChannels = 0;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peakChannels = Math.Max(peakChannels, mux.ChannelCount);
                await Task.Delay(20);
            }
        });
        var watch = Stopwatch.StartNew();
        var first = await Task.WhenAll(Enumerable.Range(0, Burst).Select(_ => ConnectAndTimeCloseAsync(forward.LocalEndpoints[1].Port)));
        var firstDone = watch.Elapsed;
        Assert.True(forward.IsRefused(1), "the hanging target is not marked unreachable");

        // Second burst while it is marked unreachable: at most MaxWaitingPerTarget wait, the rest close at once.
        watch.Restart();
        var second = await Task.WhenAll(Enumerable.Range(0, SecondBurst).Select(_ => ConnectAndTimeCloseAsync(forward.LocalEndpoints[1].Port)));
        var secondDone = watch.Elapsed;
        // A held client waits at least for its open (3 s): 1 s tells the two apart with room for a busy machine.
        var closedAtOnce = second.Count(t => t < TimeSpan.FromSeconds(1));
        await EchoAsync(working, "during");
        var abandoned = mux.ChannelCount;
        var threadsDuring = Process.GetCurrentProcess().Threads.Count;

        // The target returns: sshd's connects complete, the late channels are confirmed and must be closed.
        hanging.ComeBack();
        var drain = Stopwatch.StartNew();
        while ((mux.ChannelCount > baseline || hanging.Open > 0) && drain.Elapsed < TimeSpan.FromSeconds(90))
        {
            await Task.Delay(100);
        }

        sampling.Cancel();
        await sampler;
        await Task.Delay(TimeSpan.FromSeconds(2));
        var threadsAfter = Process.GetCurrentProcess().Threads.Count;
        output.WriteLine(
            $"burst 1: {Burst} clients closed after {first.Min().TotalSeconds:0.0}-{first.Max().TotalSeconds:0.0} s (all in {firstDone.TotalSeconds:0.0} s, open timeout {OpenTimeout.TotalSeconds:0} s); " +
            $"burst 2: {SecondBurst} clients, {closedAtOnce} closed within 1 s, the rest after up to {second.Max().TotalSeconds:0.0} s (all in {secondDone.TotalSeconds:0.0} s); " +
            $"peak channels {peakChannels}, abandoned channels before the target returned {abandoned}; {drain.Elapsed.TotalSeconds:0.0} s after it returned: channels {mux.ChannelCount} (baseline {baseline}), " +
            $"target accepted {hanging.Accepted} and holds {hanging.Open} open; sshd session processes {serverProcesses} -> {sshd.SessionProcesses().Count}; " +
            $"threads {threadsBefore} -> {threadsDuring} -> {threadsAfter}; sessions {forward.SessionCount}");

        Assert.All(first, t => Assert.InRange(t, OpenTimeout - TimeSpan.FromMilliseconds(500), OpenTimeout + TimeSpan.FromSeconds(10)));
        Assert.True(closedAtOnce >= SecondBurst - ConnectionGate.MaxWaitingPerTarget, $"only {closedAtOnce} of {SecondBurst} closed at once past the {ConnectionGate.MaxWaitingPerTarget} waiting allowed");
        Assert.All(second, t => Assert.True(t < TimeSpan.FromSeconds(20), $"a client waited {t.TotalSeconds:0.0} s"));
        Assert.Equal(baseline, mux.ChannelCount);
        Assert.Equal(0, hanging.Open);
        Assert.Equal(serverProcesses, sshd.SessionProcesses().Count);
        Assert.Equal(1, forward.SessionCount);
        Assert.True(threadsAfter <= threadsBefore + 20, $"threads {threadsBefore} -> {threadsAfter}");
        await EchoAsync(working, "after");
    }

    private static async Task<TimeSpan> ConnectAndTimeCloseAsync(int port)
    {
        // From before the connect: on a busy machine a burst's connects complete late, after the
        // forward has already accepted them and started their opens' timeouts.
        var watch = Stopwatch.StartNew();
        using var socket = await ConnectAsync(port);
        try
        {
            var n = await socket.ReceiveAsync(new byte[16].AsMemory()).AsTask().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(0, n);
        }
        catch (SocketException)
        {
            // Reset: closed all the same.
        }

        return watch.Elapsed;
    }

    private static Task<Socket> ConnectAsync(int port) => LoopbackEcho.ConnectAsync(port, Functional);

    private static Task EchoAsync(Socket socket, string text) => LoopbackEcho.RoundTripAsync(socket, text, Functional);
}
