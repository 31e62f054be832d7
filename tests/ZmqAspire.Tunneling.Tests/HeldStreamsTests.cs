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

        var ends = new List<Task<string?>>();
        var sockets = new List<Socket>();
        var watch = Stopwatch.StartNew();
        for (var c = 0; c < Channels; c++)
        {
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await client.ConnectAsync(IPAddress.Loopback, forward.LocalPort).WaitAsync(Functional);
            var target = await listener.AcceptSocketAsync().WaitAsync(Functional);
            target.NoDelay = true;
            sockets.Add(client);
            sockets.Add(target);

            // Each side sends its own numbered frames and checks the other's: which target
            // socket belongs to which client does not matter, every stream is checked alone.
            ends.Add(SendFramesAsync(client, $"client {c}"));
            ends.Add(SendFramesAsync(target, $"target {c}"));
            ends.Add(CheckFramesAsync(client, $"down {c}"));
            ends.Add(CheckFramesAsync(target, $"up {c}"));
        }

        try
        {
            var results = await Task.WhenAll(ends).WaitAsync(Functional);
            output.WriteLine($"{Channels} channels x 2 directions x {Frames} frames of {FrameSize} B in {watch.Elapsed.TotalSeconds:0.00} s");
            Assert.All(results, Assert.Null);
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
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

    private static async Task<string?> SendFramesAsync(Socket socket, string name)
    {
        var frame = new byte[FrameSize];
        try
        {
            for (var i = 0; i < Frames; i++)
            {
                Counted.Fill(frame, (long)i * FrameSize);
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

    private static async Task<string?> CheckFramesAsync(Socket socket, string name)
    {
        var (received, firstBad, _) = await Counted.ReadToEndAsync(socket);
        return received == (long)Frames * FrameSize && firstBad < 0 ? null : $"{name}: {received} B, first wrong byte at {firstBad}";
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
