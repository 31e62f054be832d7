using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// A remote forward (ssh -R) whose local target stops reading: the peer on the server's side
/// that writes into it is held back by our channel window (RFC 4254 section 5.2) instead of our
/// process buffering what sshd sends, and every byte arrives once the target reads again.
/// Replays hierynomus/sshj#658 ("Remote port forwarding buffers can grow without limits": the
/// forwarded channel's input buffer doubled whenever it filled, and nothing slowed the server).
/// UploadBackpressureTests and HeadOfLineTests cover the local forward's two directions.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class RemoteForwardBackpressureTests(SshdFixture sshd, ITestOutputHelper output)
{
    /// <summary>
    /// Our window (8 MiB) plus the kernel buffers of the loopback connections on the way, as in
    /// HeadOfLineTests; an unbounded relay passes it within a second on loopback.
    /// </summary>
    private const long Bound = SshTunnelOptions.DefaultChannelWindowSize + (24L * 1024 * 1024);

    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_local_target_that_stops_reading_holds_the_server_side_writer_back_and_gets_every_byte_later()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var remote = session.OpenRemoteForward(
            new TcpEndpoint(SshdFixture.Loopback, 0), new TcpEndpoint("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port));

        // The peer on the server's side (here: this machine's loopback, where sshd listens).
        using var writerSocket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await writerSocket.ConnectAsync(IPAddress.Loopback, remote.ServerEndpoint.Port).WaitAsync(Functional);
        using var target = await listener.AcceptSocketAsync().WaitAsync(Functional);

        long sent = 0;
        var stop = 0;
        var writer = Task.Run(async () =>
        {
            var chunk = new byte[64 * 1024];
            while (Volatile.Read(ref stop) == 0)
            {
                Pattern(chunk, Interlocked.Read(ref sent));
                var n = await writerSocket.SendAsync(chunk, SocketFlags.None);
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
        output.WriteLine($"the server-side writer stalled after {stalledAt / 1024.0 / 1024.0:0.0} MiB ({watch.Elapsed.TotalSeconds:0.0} s)");
        Assert.True(stalledAt < Bound, $"the writer pushed {stalledAt} bytes into a local target that reads nothing: nothing holds it back (bound {Bound}).");

        Volatile.Write(ref stop, 1);
        var ended = writer.ContinueWith(_ => writerSocket.Shutdown(SocketShutdown.Send), TaskScheduler.Default);
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
        output.WriteLine($"the local target read {received} of {total} bytes");
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
