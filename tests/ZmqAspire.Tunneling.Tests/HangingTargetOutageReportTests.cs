using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// A target whose channel opens go unanswered is reported as a refusing one is: once when its
/// outage starts, not once per open that times out while it stays down, and again only after
/// <see cref="SelfHealingForward.ForwardRecovered"/>. Before, every timed-out open raised
/// <see cref="SelfHealingForward.ForwardFailed"/> (each a warning in the client's log and a
/// count in <c>zmqaspire.ssh.forward.failures</c>) while refusals raised it once per outage.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class HangingTargetOutageReportTests(SshdFixture sshd, ITestOutputHelper output)
{
    private const int TimedOutOpens = 4;
    private static readonly TimeSpan OpenTimeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_hanging_target_is_reported_once_per_outage_however_many_opens_time_out()
    {
        using var echo = EchoServer.Start();
        using var hanging = HangingTarget.Start();
        var target = hanging.Endpoint;
        var healing = new SelfHealingForwardOptions { ReconnectDelay = TimeSpan.FromMilliseconds(300), MaxReconnectDelay = TimeSpan.FromMilliseconds(600) };
        await using var forward = SelfHealingForward.Start(sshd.Options(ClientKey.Ed25519, connectTimeout: OpenTimeout), [echo.Endpoint, target], healing);
        var failures = new ConcurrentQueue<SshForwardException>();
        var recoveries = 0;
        forward.ForwardFailed += (_, e) => failures.Enqueue(e.Error);
        forward.ForwardRecovered += (_, _) => Interlocked.Increment(ref recoveries);
        await forward.WaitUntilUpAsync(Functional);

        // One client after another, each closed by the forward when its open times out (the
        // first at once, the later ones after the backoff they are held for).
        var closedAfter = new List<double>();
        for (var i = 0; i < TimedOutOpens; i++)
        {
            using var client = await LoopbackEcho.ConnectAsync(forward.LocalEndpoints[1].Port, Functional);
            var watch = Stopwatch.StartNew();
            await WaitForCloseAsync(client);
            closedAfter.Add(watch.Elapsed.TotalSeconds);
        }

        await Task.Delay(TimeSpan.FromMilliseconds(300)); // events trail the close
        var duringOutage = failures.Count;
        var refusedDuring = forward.IsRefused(1);

        // The target comes back (recovered), then refuses: a new outage, reported again.
        hanging.ComeBack();
        using (var back = await LoopbackEcho.ConnectAsync(forward.LocalEndpoints[1].Port, Functional))
        {
            await LoopbackEcho.RoundTripAsync(back, "back", Functional);
        }

        await WaitForAsync(() => Volatile.Read(ref recoveries) == 1 && !forward.IsRefused(1), "no ForwardRecovered after the target came back");
        hanging.Dispose();
        using (var refused = await LoopbackEcho.ConnectAsync(forward.LocalEndpoints[1].Port, Functional))
        {
            await WaitForCloseAsync(refused);
        }

        await WaitForAsync(() => failures.Count > duringOutage, "the second outage (a refusal) was not reported");
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        output.WriteLine(
            $"{TimedOutOpens} opens timed out (clients closed after {string.Join(", ", closedAfter.Select(s => s.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture)))} s; open timeout {OpenTimeout.TotalSeconds:0} s): " +
            $"ForwardFailed {duringOutage}x during that outage, {failures.Count}x in all with the refusal after the recovery; ForwardRecovered {Volatile.Read(ref recoveries)}x; sessions {forward.SessionCount}");
        output.WriteLine(string.Join(" | ", failures.Select(f => $"{f.Remote}: {f.Message}")));

        Assert.All(closedAfter, s => Assert.True(s >= OpenTimeout.TotalSeconds * 0.9, $"a client was closed after {s:0.00} s, before its open could time out"));
        Assert.True(refusedDuring, "the hanging target was not marked unreachable");
        Assert.Equal(1, duringOutage);
        Assert.Contains($"did not answer the channel open within {OpenTimeout.TotalSeconds:0} s", failures.First().Message, StringComparison.Ordinal);
        Assert.Equal(2, failures.Count);
        Assert.Contains("SSH_OPEN_CONNECT_FAILED", failures.Last().Message, StringComparison.Ordinal);
        Assert.All(failures, f => Assert.Equal(target, f.Remote));
        Assert.Equal(1, forward.SessionCount);
    }

    private static async Task WaitForCloseAsync(Socket client)
    {
        try
        {
            Assert.Equal(0, await client.ReceiveAsync(new byte[16].AsMemory()).AsTask().WaitAsync(Functional));
        }
        catch (SocketException)
        {
            // Reset: closed all the same.
        }
    }

    private static async Task WaitForAsync(Func<bool> condition, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(watch.Elapsed < Functional, what);
            await Task.Delay(50);
        }
    }
}
