using System.Diagnostics;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// The back-pressure check shared by the forwards' directions: a writer streams a counting
/// pattern as fast as its kernel takes it into a connection whose reader reads nothing, until
/// the writer stalls (no progress for a second, or 20 s); the bytes it got out must stay under
/// a bound (something held it back). Then the reader reads again, and every byte must arrive,
/// in order, before the writer's end of stream.
/// </summary>
internal static class StalledReader
{
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(30);

    /// <param name="writerSocket">The writing side (a blocking, connected socket).</param>
    /// <param name="readerSocket">The reading side, at the far end of the tunnel.</param>
    /// <param name="bound">What the stalled path may hold, in bytes.</param>
    /// <param name="writerName">Who writes, for the messages ("the client").</param>
    /// <param name="output">The test's output.</param>
    public static async Task StallThenDrainAsync(Socket writerSocket, Socket readerSocket, long bound, string writerName, ITestOutputHelper output)
    {
        long sent = 0;
        var stop = 0;
        var writer = Task.Run(async () =>
        {
            var chunk = new byte[64 * 1024];
            while (Volatile.Read(ref stop) == 0)
            {
                Pattern(chunk, Interlocked.Read(ref sent));
                // Not cancelled: a cancelled send may have handed part of the chunk to the kernel.
                var n = await writerSocket.SendAsync(chunk, SocketFlags.None);
                Interlocked.Add(ref sent, n);
                if (n < chunk.Length)
                {
                    throw new InvalidOperationException("short send on a blocking socket");
                }
            }
        });

        var watch = Stopwatch.StartNew();
        long before;
        do
        {
            before = Interlocked.Read(ref sent);
            await Task.Delay(1000);
        }
        while (Interlocked.Read(ref sent) != before && watch.Elapsed < TimeSpan.FromSeconds(20));
        var stalledAt = Interlocked.Read(ref sent);
        output.WriteLine($"{writerName} stalled after {stalledAt / 1024.0 / 1024.0:0.0} MiB ({watch.Elapsed.TotalSeconds:0.0} s)");
        Assert.True(stalledAt < bound, $"{writerName} wrote {stalledAt} bytes into a reader that reads nothing: nothing holds it back (bound {bound}).");

        // The reader reads again: the writer's pending send completes as it does; then the
        // writer ends its stream.
        Volatile.Write(ref stop, 1);
        var ended = writer.ContinueWith(_ => writerSocket.Shutdown(SocketShutdown.Send), TaskScheduler.Default);
        var received = 0L;
        var buffer = new byte[64 * 1024];
        var expected = new byte[buffer.Length];
        int read;
        while ((read = await readerSocket.ReceiveAsync(buffer).WaitAsync(Functional)) > 0)
        {
            Pattern(expected.AsSpan(0, read), received);
            Assert.True(buffer.AsSpan(0, read).SequenceEqual(expected.AsSpan(0, read)), $"corrupt data at offset {received}");
            received += read;
        }

        await ended.WaitAsync(Functional);
        await writer.WaitAsync(Functional);
        var total = Interlocked.Read(ref sent);
        output.WriteLine($"the reader got {received} of {total} bytes");
        Assert.Equal(total, received);
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
