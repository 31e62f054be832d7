using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// Held writes (<c>ChannelMux.Holding</c>) with what one SSH read can mix: small messages of
/// several channels streaming both ways at once, and many short connections whose data, EOF and
/// CLOSE come in one burst. Every byte must arrive once, in order, and the end of each stream after it.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class HeldStreamsTests(SshdFixture sshd, ITestOutputHelper output)
{
    private const int Channels = 4;
    private const int Frames = 10_000;
    private const int FrameSize = 64;
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Small_frames_of_several_channels_both_ways_at_once_arrive_byte_exact()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        Assert.True(session.Mux?.HoldsData);
        using var forward = session.OpenLocalForward(new TcpEndpoint("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port));

        var (failures, elapsed) = await CountedFrames.ExchangeAsync(listener, forward.LocalPort, Channels, Frames, FrameSize, Functional);
        output.WriteLine($"{Channels} channels x 2 directions x {Frames} frames of {FrameSize} B in {elapsed.TotalSeconds:0.00} s; {failures.Count} streams wrong");
        Assert.Empty(failures);
    }

    [Fact]
    public async Task Small_frames_of_several_remote_forwarded_channels_both_ways_at_once_arrive_byte_exact()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var remote = session.OpenRemoteForward(new TcpEndpoint(SshdFixture.Loopback, 0), new TcpEndpoint("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port));

        // The clients connect to sshd's listener; sshd opens forwarded-tcpip channels to us.
        var (failures, elapsed) = await CountedFrames.ExchangeAsync(listener, remote.ServerEndpoint.Port, Channels, Frames, FrameSize, Functional);
        output.WriteLine($"remote forward: {Channels} channels x 2 directions x {Frames} frames of {FrameSize} B in {elapsed.TotalSeconds:0.00} s; {failures.Count} streams wrong");
        Assert.Empty(failures);
    }

    [Fact]
    public async Task Losing_the_session_while_small_frames_stream_ends_every_local_connection_and_releases_its_channels()
    {
        const int Streams = 4;
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var forward = session.OpenLocalForward(new TcpEndpoint("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port));
        var unobserved = 0;
        EventHandler<UnobservedTaskExceptionEventArgs> count = (_, _) => Interlocked.Increment(ref unobserved);
        TaskScheduler.UnobservedTaskException += count;
        var sockets = new List<Socket>();
        using var stop = new CancellationTokenSource();
        try
        {
            var reads = new List<Task<(long Received, long FirstBad, TimeSpan LongestGap)>>();
            for (var i = 0; i < Streams; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(client);
                await client.ConnectAsync(IPAddress.Loopback, forward.LocalPort).WaitAsync(Functional);
                var target = await listener.AcceptSocketAsync().WaitAsync(Functional);
                sockets.Add(target);
                target.NoDelay = true;
                _ = Task.Run(async () =>
                {
                    var frame = new byte[FrameSize];
                    try
                    {
                        for (long n = 0; !stop.IsCancellationRequested; n++)
                        {
                            Counted.Fill(frame, n * FrameSize);
                            await target.SendAsync(frame);
                        }
                    }
                    catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                    {
                        // The tunnel's side of the target connection went with the session.
                    }
                });
                reads.Add(Counted.ReadToEndAsync(client, resetEnds: true));
            }

            await Task.Delay(TimeSpan.FromSeconds(1));
            Assert.Equal(Streams, session.Mux!.ChannelCount);
            var watch = Stopwatch.StartNew();
            sshd.KillSessions();

            var results = await Task.WhenAll(reads).WaitAsync(Functional);
            var ended = watch.Elapsed;
            while (session.Mux.ChannelCount > 0 && watch.Elapsed < Functional)
            {
                await Task.Delay(50);
            }

            output.WriteLine($"session killed: {Streams} local connections ended after {ended.TotalMilliseconds:0} ms, having read {string.Join(", ", results.Select(r => r.Received))} B (all in order: {results.All(r => r.FirstBad < 0)}); channels left {session.Mux.ChannelCount}");
            Assert.All(results, r => Assert.Equal(-1, r.FirstBad));
            Assert.All(results, r => Assert.True(r.Received > 0));
            Assert.Equal(0, session.Mux.ChannelCount);
        }
        finally
        {
            stop.Cancel();
            sockets.ForEach(s => s.Dispose());
            GC.Collect();
            GC.WaitForPendingFinalizers();
            TaskScheduler.UnobservedTaskException -= count;
        }

        Assert.Equal(0, Volatile.Read(ref unobserved));
    }

    [Fact]
    public async Task Two_hundred_short_replies_each_closed_at_once_arrive_whole_before_their_end()
    {
        const int Connections = 200;
        const int Parallel = 8;
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start(Connections);
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var forward = session.OpenLocalForward(new TcpEndpoint("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port));

        // The target writes a reply of 1 to 100 KiB and closes at once: sshd sends the data,
        // the EOF and the CLOSE back to back, often in one read of ours.
        var serving = Task.Run(async () =>
        {
            for (var i = 0; i < Connections; i++)
            {
                var target = await listener.AcceptSocketAsync();
                _ = Task.Run(async () =>
                {
                    using var _ = target;
                    var header = new byte[4];
                    await target.ReceiveAsync(header.AsMemory());
                    var size = BitConverter.ToInt32(header);
                    await target.SendAsync(Reply(size));
                    target.Close();
                });
            }
        });

        var sizes = Enumerable.Range(0, Connections).Select(_ => RandomNumberGenerator.GetInt32(1024, 100 * 1024 + 1)).ToArray();
        var failures = new List<string>();
        var watch = Stopwatch.StartNew();
        using var gate = new SemaphoreSlim(Parallel);
        await Task.WhenAll(sizes.Select(async (size, i) =>
        {
            await gate.WaitAsync();
            try
            {
                using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await client.ConnectAsync(IPAddress.Loopback, forward.LocalPort);
                await client.SendAsync(BitConverter.GetBytes(size));
                var received = await ReadToEndAsync(client);
                if (!received.AsSpan().SequenceEqual(Reply(size)))
                {
                    lock (failures)
                    {
                        failures.Add($"connection {i}: {received.Length} of {size} B{(received.Length == size ? ", different bytes" : string.Empty)}");
                    }
                }
            }
            catch (SocketException ex)
            {
                lock (failures)
                {
                    failures.Add($"connection {i}: {ex.SocketErrorCode}");
                }
            }
            finally
            {
                gate.Release();
            }
        })).WaitAsync(Functional);
        await serving.WaitAsync(Functional);

        output.WriteLine($"{Connections} replies of 1-100 KiB ({sizes.Sum() / 1024} KiB), {Parallel} at a time, in {watch.Elapsed.TotalSeconds:0.00} s; {failures.Count} wrong");
        Assert.Empty(failures);
    }

    private static byte[] Reply(int size)
    {
        var reply = new byte[size];
        Counted.Fill(reply, size); // a pattern that depends on the size: a reply sent to the wrong connection shows
        return reply;
    }

    private static async Task<byte[]> ReadToEndAsync(Socket socket)
    {
        using var all = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = await socket.ReceiveAsync(buffer.AsMemory())) > 0)
        {
            all.Write(buffer, 0, read);
        }

        return all.ToArray();
    }
}
