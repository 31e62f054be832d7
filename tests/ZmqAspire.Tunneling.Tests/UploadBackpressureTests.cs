using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// A local client that writes faster than the target reads is held back by the server's window
/// (RFC 4254 section 5.2), not buffered in our process, and nothing is lost. Replays
/// net-ssh/net-ssh#1002 ("Port forwarding buffers entire stream in memory (no backpressure) on
/// slow consumer": the socket-to-channel direction kept reading the local socket while the remote
/// window was exhausted, so memory grew to the size of the transfer). The channel-to-socket
/// direction is HeadOfLineTests' concern.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class UploadBackpressureTests(SshdFixture sshd, ITestOutputHelper output)
{
    /// <summary>
    /// What a stalled path can hold, in bytes: sshd's 2 MiB window plus the kernel buffers of
    /// three loopback sockets (a few MiB each at most); an unbounded relay takes hundreds of MiB
    /// in the same time on loopback.
    /// </summary>
    private const long Bound = 48L * 1024 * 1024;

    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_target_that_stops_reading_holds_the_local_writer_back_and_gets_every_byte_later()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var forward = session.OpenLocalForward(new TcpEndpoint("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port));

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, forward.LocalPort).WaitAsync(Functional);
        using var target = await listener.AcceptSocketAsync().WaitAsync(Functional);

        // The client writes a counting pattern as fast as the kernel takes it; the target reads nothing.
        long sent = 0;
        var stop = 0;
        var writer = Task.Run(async () =>
        {
            var chunk = new byte[64 * 1024];
            while (Volatile.Read(ref stop) == 0)
            {
                Pattern(chunk, Interlocked.Read(ref sent));
                // Not cancelled: a cancelled send may have handed part of the chunk to the kernel.
                var n = await client.SendAsync(chunk, SocketFlags.None);
                Interlocked.Add(ref sent, n);
                if (n < chunk.Length)
                {
                    throw new InvalidOperationException("short send on a blocking socket");
                }
            }
        });

        // Wait until the writer stalls: no progress for a second.
        var watch = Stopwatch.StartNew();
        long before;
        do
        {
            before = Interlocked.Read(ref sent);
            await Task.Delay(1000);
        }
        while (Interlocked.Read(ref sent) != before && watch.Elapsed < TimeSpan.FromSeconds(20));
        var stalledAt = Interlocked.Read(ref sent);
        output.WriteLine($"the writer stalled after {stalledAt / 1024.0 / 1024.0:0.0} MiB ({watch.Elapsed.TotalSeconds:0.0} s)");
        Assert.True(stalledAt < Bound, $"the client wrote {stalledAt} bytes into a target that reads nothing: nothing holds it back (bound {Bound}).");

        // The target reads again: every byte the client wrote arrives, in order. The writer's
        // pending send completes as the target reads; then the client ends its stream.
        Volatile.Write(ref stop, 1);
        var ended = writer.ContinueWith(_ => client.Shutdown(SocketShutdown.Send), TaskScheduler.Default);
        var received = 0L;
        var buffer = new byte[64 * 1024];
        var expected = new byte[buffer.Length];
        int n;
        while ((n = await target.ReceiveAsync(buffer).WaitAsync(Functional)) > 0)
        {
            Pattern(expected.AsSpan(0, n), received);
            Assert.True(buffer.AsSpan(0, n).SequenceEqual(expected.AsSpan(0, n)), $"corrupt data at offset {received}");
            received += n;
        }

        await ended.WaitAsync(Functional);
        await writer.WaitAsync(Functional);
        var total = Interlocked.Read(ref sent);
        output.WriteLine($"the target read {received} of {total} bytes");
        Assert.Equal(total, received);
        Assert.True(session.IsConnected);
    }

    /// <summary>Fills <paramref name="span"/> with the stream's bytes from <paramref name="offset"/> on (offset mod 251).</summary>
    private static void Pattern(Span<byte> span, long offset)
    {
        for (var i = 0; i < span.Length; i++)
        {
            span[i] = (byte)((offset + i) % 251);
        }
    }
}
