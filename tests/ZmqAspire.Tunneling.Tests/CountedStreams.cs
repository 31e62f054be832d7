using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>A stream whose every 4-byte word is its own index (big-endian): any loss, duplicate or reordering shows at the first wrong word.</summary>
internal static class Counted
{
    /// <summary>Fills <paramref name="chunk"/> with the words of the stream from byte <paramref name="offset"/> (a multiple of 4) on.</summary>
    public static void Fill(Span<byte> chunk, long offset)
    {
        for (var i = 0; i + 4 <= chunk.Length; i += 4)
        {
            BinaryPrimitives.WriteUInt32BigEndian(chunk[i..], (uint)((offset + i) / 4));
        }
    }

    /// <summary>
    /// Connects a client to <paramref name="localPort"/> (a forward to <paramref name="listener"/>),
    /// whose accepted target sends <paramref name="frames"/> frames of <paramref name="frameSize"/>
    /// bytes of the stream, one send each, as a ZeroMQ peer's small messages leave it (sshd packs
    /// what it finds into SSH messages, several of which reach the tunnel in one read), then ends
    /// it; returns what the client read (<see cref="ReadToEndAsync"/>) and by how much the relay
    /// counters (<see cref="RelayCounters"/>, process-wide: call it in their test collection) grew meanwhile.
    /// </summary>
    public static async Task<CountedDownload> SendFramesDownAsync(
        TcpListener listener, int localPort, int frames, int frameSize, TimeSpan timeout)
    {
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, localPort).WaitAsync(timeout);
        using var target = await listener.AcceptSocketAsync().WaitAsync(timeout);
        target.NoDelay = true;
        RelayCounters.Enabled = true;
        var before = RelayCounters.Snapshot();
        try
        {
            var sending = Task.Run(() =>
            {
                var frame = new byte[frameSize];
                for (var i = 0; i < frames; i++)
                {
                    Fill(frame, (long)i * frameSize);
                    target.Send(frame);
                }

                target.Shutdown(SocketShutdown.Send);
            });

            var (received, firstBad, _) = await ReadToEndAsync(client).WaitAsync(timeout);
            await sending.WaitAsync(timeout);
            return new CountedDownload(received, firstBad, [.. RelayCounters.Snapshot().Select((c, i) => c - before[i])]);
        }
        finally
        {
            RelayCounters.Enabled = false;
        }
    }

    /// <summary>
    /// Reads to the end of the stream, checking every byte: the length, the first wrong byte (-1:
    /// none), and the longest wait for a read. A reset ends it too when <paramref name="resetEnds"/>.
    /// </summary>
    public static async Task<(long Received, long FirstBad, TimeSpan LongestGap)> ReadToEndAsync(Socket socket, bool resetEnds = false)
    {
        // Kept whole and checked at the end: a reader that checks as it goes is slower than the
        // tunnel, and a slow reader changes how the relay writes (queued, not written at once).
        using var all = new MemoryStream();
        var buffer = new byte[256 * 1024];
        var longest = TimeSpan.Zero;
        var since = Stopwatch.StartNew();
        while (true)
        {
            int n;
            try
            {
                n = await socket.ReceiveAsync(buffer.AsMemory());
            }
            catch (SocketException) when (resetEnds)
            {
                break;
            }

            if (n == 0)
            {
                break;
            }

            longest = since.Elapsed > longest ? since.Elapsed : longest;
            since.Restart();
            all.Write(buffer, 0, n);
        }

        var received = all.Length;
        var bytes = all.GetBuffer();
        var word = new byte[4];
        long firstBad = -1;
        for (long at = 0; at < received && firstBad < 0; at += 4)
        {
            BinaryPrimitives.WriteUInt32BigEndian(word, (uint)(at / 4));
            var length = (int)Math.Min(4, received - at);
            if (!bytes.AsSpan((int)at, length).SequenceEqual(word.AsSpan(0, length)))
            {
                firstBad = at;
            }
        }

        return (received, firstBad, longest);
    }
}

/// <summary>What <see cref="Counted.SendFramesDownAsync"/> saw: the client's stream (its length, the first wrong byte or -1) and the relay counters' growth.</summary>
internal sealed record CountedDownload(long Received, long FirstBad, long[] Counters)
{
    /// <summary>Gets how much <paramref name="counter"/> grew during the download.</summary>
    public long this[RelayCounter counter] => Counters[(int)counter];
}

/// <summary>Several connections through one forward, each streaming small numbered frames both ways at once, every stream checked byte for byte.</summary>
internal static class CountedFrames
{
    /// <summary>
    /// Connects <paramref name="channels"/> clients to <paramref name="localPort"/> (a forward to
    /// <paramref name="listener"/>); each client and each accepted target sends <paramref name="frames"/>
    /// frames of <paramref name="frameSize"/> bytes, one send each, then ends its stream; returns
    /// what went wrong (empty: every stream arrived whole and in order) and the time taken.
    /// </summary>
    public static async Task<(List<string> Failures, TimeSpan Elapsed)> ExchangeAsync(
        TcpListener listener, int localPort, int channels, int frames, int frameSize, TimeSpan timeout)
    {
        var ends = new List<Task<string?>>();
        var sockets = new List<Socket>();
        var watch = Stopwatch.StartNew();
        try
        {
            for (var c = 0; c < channels; c++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                sockets.Add(client);
                await client.ConnectAsync(IPAddress.Loopback, localPort).WaitAsync(timeout);
                var target = await listener.AcceptSocketAsync().WaitAsync(timeout);
                sockets.Add(target);
                target.NoDelay = true;

                // Which target belongs to which client does not matter: every stream is checked alone.
                ends.Add(SendAsync(client, frames, frameSize, $"client {c}"));
                ends.Add(SendAsync(target, frames, frameSize, $"target {c}"));
                ends.Add(CheckAsync(client, frames, frameSize, $"down {c}"));
                ends.Add(CheckAsync(target, frames, frameSize, $"up {c}"));
            }

            var results = await Task.WhenAll(ends).WaitAsync(timeout);
            return ([.. results.OfType<string>()], watch.Elapsed);
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
    }

    private static async Task<string?> SendAsync(Socket socket, int frames, int frameSize, string name)
    {
        var frame = new byte[frameSize];
        try
        {
            for (var i = 0; i < frames; i++)
            {
                Counted.Fill(frame, (long)i * frameSize);
                await socket.SendAsync(frame);
            }

            socket.Shutdown(SocketShutdown.Send);
            return null;
        }
        catch (SocketException ex)
        {
            return $"{name}: send failed: {ex.SocketErrorCode}";
        }
    }

    private static async Task<string?> CheckAsync(Socket socket, int frames, int frameSize, string name)
    {
        try
        {
            var (received, firstBad, _) = await Counted.ReadToEndAsync(socket);
            return received == (long)frames * frameSize && firstBad < 0 ? null : $"{name}: {received} of {(long)frames * frameSize} B, first wrong byte at {firstBad}";
        }
        catch (SocketException ex)
        {
            return $"{name}: receive failed: {ex.SocketErrorCode}";
        }
    }
}
