using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>An sshd that re-keys (RFC 4253 section 9) after every 32 KiB it sends or receives.</summary>
public sealed class RekeyingSshdFixture() : SshdFixture(["RekeyLimit 32K"]);

/// <summary>
/// Held writes across re-keying: sshd sends its SSH_MSG_KEXINIT right after the data packet that
/// crossed its <c>RekeyLimit</c> (1 to 4 GB by default, so every long-lived busy tunnel meets
/// it), so one read of SSH.NET's ends with KEXINIT while data is held. Writing that data on the
/// receive thread then reopens the window there, and SSH.NET makes every message but the key
/// exchange's wait for the exchange to end, which only the receive thread can end: before the
/// fix the session hung until the server-alive probe dropped it (3 s), mid-stream.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class RekeyHeldWritesTests(RekeyingSshdFixture sshd, ITestOutputHelper output) : IClassFixture<RekeyingSshdFixture>
{
    private const int ChunkSize = 64 * 1024;
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(120);

    // Loopback streaming never pauses this long; a receive thread stuck until ConnectTimeout
    // (10 s here) or until the server-alive probe gives up (3 s) does.
    private static readonly TimeSpan StallBound = TimeSpan.FromSeconds(2.5);

    [Theory]
    [InlineData(64 * 1024, 4 * 1024 * 1024)] // the smallest window: every write reopens it
    [InlineData(SshTunnelOptions.DefaultChannelWindowSize, 48 * 1024 * 1024)] // the default one
    public async Task A_download_through_sshd_rekeying_every_32_KiB_arrives_whole_without_a_stall(int window, int total)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var options = sshd.Options(ClientKey.Ed25519, connectTimeout: TimeSpan.FromSeconds(10));
        options.ChannelWindowSize = window;
        await using var session = await SshTunnelSession.ConnectAsync(options);
        Assert.True(session.Mux?.HoldsData, "the session's channels do not hold data until the end of a read");
        var rekeys = 0;
        using var kexWatch = SessionMessageEvents.TrySubscribe(session.Mux!.SshNetSession, (_, e) =>
        {
            if (e.GetType() is { IsGenericType: true } type && type.GetGenericArguments()[0].Name == "KeyExchangeInitMessage")
            {
                Interlocked.Increment(ref rekeys);
            }
        });
        using var forward = session.OpenLocalForward(new TcpEndpoint("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port));

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, forward.LocalPort).WaitAsync(Functional);
        using var target = await listener.AcceptSocketAsync().WaitAsync(Functional);
        var sending = Task.Run(() =>
        {
            var chunk = new byte[ChunkSize];
            for (var offset = 0; offset < total; offset += ChunkSize)
            {
                Counted.Fill(chunk, offset);
                target.Send(chunk);
            }

            target.Shutdown(SocketShutdown.Send);
        });

        var watch = Stopwatch.StartNew();
        var (received, firstBad, longestGap) = await Counted.ReadToEndAsync(client).WaitAsync(Functional);
        var elapsed = watch.Elapsed;
        await sending.WaitAsync(Functional);

        output.WriteLine(
            $"window {window / 1024} KiB: {received} of {total} B in {elapsed.TotalSeconds:0.00} s through {Volatile.Read(ref rekeys)} re-keys; " +
            $"longest pause between two reads {longestGap.TotalMilliseconds:0} ms; session connected: {session.IsConnected}");
        Assert.Equal(-1, firstBad);
        Assert.Equal(total, received);
        Assert.True(Volatile.Read(ref rekeys) >= total / (256 * 1024), $"only {rekeys} re-keys: sshd did not re-key as configured");
        Assert.True(session.IsConnected, "the session was dropped while streaming through re-keys");
        Assert.True(longestGap < StallBound, $"the stream stalled for {longestGap.TotalSeconds:0.0} s");
    }
}

/// <summary>A stream whose every 4-byte word is its own index (big-endian): any loss, duplicate or reordering shows at the first wrong word.</summary>
internal static class Counted
{
    /// <summary>Fills <paramref name="chunk"/> with the words of the stream from byte <paramref name="offset"/> (a multiple of 4) on.</summary>
    public static void Fill(Span<byte> chunk, long offset)
    {
        for (var i = 0; i + 4 <= chunk.Length; i += 4)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(chunk[i..], (uint)((offset + i) / 4));
        }
    }

    /// <summary>Reads to the end of the stream, checking every byte: the length, the first wrong byte (-1: none), and the longest wait for a read.</summary>
    public static async Task<(long Received, long FirstBad, TimeSpan LongestGap)> ReadToEndAsync(Socket socket)
    {
        var buffer = new byte[256 * 1024];
        var word = new byte[4];
        long received = 0;
        long firstBad = -1;
        var longest = TimeSpan.Zero;
        var since = Stopwatch.StartNew();
        int n;
        while ((n = await socket.ReceiveAsync(buffer.AsMemory())) > 0)
        {
            longest = since.Elapsed > longest ? since.Elapsed : longest;
            since.Restart();
            for (var i = 0; i < n && firstBad < 0; i++)
            {
                var at = received + i;
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(word, (uint)(at / 4));
                if (buffer[i] != word[at % 4])
                {
                    firstBad = at;
                }
            }

            received += n;
        }

        return (received, firstBad, longest);
    }
}
