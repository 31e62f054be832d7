using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// Disposing a self-healing forward while its connections stream in both directions, every
/// buffer and window full, returns in bounded time and leaves no listener, connection or sshd
/// session process. Replays sshnet/SSH.NET#741 ("Disconnect freeze ... Forward Port": Disconnect
/// hung in the forwarded channel's socket close while traffic was flowing) and
/// pahaz/sshtunnel#169 ("sshtunnel.stop() blocking if sshclient not close": stop waited for
/// every active connection to end).
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class DisposeWhileStreamingTests(SshdFixture sshd, ITestOutputHelper output)
{
    private const int Clients = 10;
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan DisposeBound = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Disposing_a_forward_with_streams_blocked_both_ways_is_bounded_and_leaves_nothing()
    {
        using var target = FloodServer.Start();
        var baselineProcesses = sshd.SessionProcesses().ToHashSet();
        var baselineThreads = Process.GetCurrentProcess().Threads.Count;
        var forward = SelfHealingForward.Start(sshd.Options(ClientKey.Ed25519), target.Endpoint);
        await forward.WaitUntilUpAsync(Functional);
        var port = forward.LocalPort;

        // Each client writes without reading, the target writes without reading: both ways block.
        long uploaded = 0;
        using var stopUploads = new CancellationTokenSource();
        var (clients, uploads) = await StreamingPeer.ConnectUploadersAsync(port, Clients, n => Interlocked.Add(ref uploaded, n), stopUploads.Token, Functional);

        var watch = Stopwatch.StartNew();
        while ((target.Written < Clients * 1024L * 1024 || Interlocked.Read(ref uploaded) < Clients * 1024L * 1024) && watch.Elapsed < Functional)
        {
            await Task.Delay(100);
        }

        // This forward's session: the sshd processes that came with it (an earlier test's may still be ending).
        var ours = sshd.SessionProcesses().Where(p => !baselineProcesses.Contains(p)).ToHashSet();
        var threadsDuring = Process.GetCurrentProcess().Threads.Count;
        Assert.True(target.Written >= Clients * 1024L * 1024, $"only {target.Written} B went down before the windows filled");

        watch.Restart();
        forward.Dispose();
        var disposed = watch.Elapsed;

        // Every client sees its connection end (after what was already buffered), every upload fails.
        var ends = await Task.WhenAll(clients.Select(StreamingPeer.DrainUntilEndAsync)).WaitAsync(Functional);
        var endedAt = watch.Elapsed;
        await stopUploads.CancelAsync();
        await Task.WhenAll(uploads).WaitAsync(Functional);
        var processesLeft = await WaitForCountAsync(() => sshd.SessionProcesses().Count(ours.Contains), 0, TimeSpan.FromSeconds(10));
        var listening = TcpTable.CountAt(port, "0A");
        await Task.Delay(500);
        var threadsAfter = Process.GetCurrentProcess().Threads.Count;
        output.WriteLine(
            $"{Clients} connections, {target.Written / 1048576.0:0.0} MiB down and {Interlocked.Read(ref uploaded) / 1048576.0:0.0} MiB up before the windows filled; " +
            $"Dispose returned after {disposed.TotalSeconds:0.000} s, every client saw its end after {endedAt.TotalSeconds:0.000} s ({ends.Count(e => e)} by end of stream, {ends.Count(e => !e)} by reset); " +
            $"sshd processes of the session {ours.Count} -> {processesLeft}; listeners on the port {listening}; threads {baselineThreads} -> {threadsDuring} -> {threadsAfter}");
        foreach (var client in clients)
        {
            client.Dispose();
        }

        Assert.True(disposed < DisposeBound, $"Dispose took {disposed.TotalSeconds:0.000} s");
        Assert.NotEmpty(ours);
        Assert.Equal(0, processesLeft);
        Assert.Equal(0, listening);
        using var again = new TcpListener(IPAddress.Loopback, port);
        again.Start();
    }

    private static async Task<int> WaitForCountAsync(Func<int> count, int expected, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        int now;
        while ((now = count()) != expected && watch.Elapsed < timeout)
        {
            await Task.Delay(100);
        }

        return now;
    }
}
