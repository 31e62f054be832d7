using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>The tests that read process-wide instruments or threads: xunit runs them alone, so no other test's traffic or relays are counted.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MeterCollection : ICollectionFixture<SshdFixture>
{
    public const string Name = "process-wide meters";
}

/// <summary>
/// <c>zmqaspire.tunnel.io</c> (<see cref="TunnelMeter"/>) counts the payload a local forward
/// relays, each direction on its own, as a real MeterListener sees it.
/// </summary>
[Collection(MeterCollection.Name)]
public sealed class TunnelMeterTests(SshdFixture sshd)
{
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Relayed_bytes_are_counted_by_direction()
    {
        using var echo = EchoServer.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var forward = session.OpenLocalForward(echo.Endpoint);
        using var io = IoListener.Start();

        // 1 MiB up and the same 1 MiB back; then 3 bytes more each way on a second connection.
        await EchoAsync(forward.LocalPort, RandomNumberGenerator.GetBytes(1024 * 1024));
        await EchoAsync(forward.LocalPort, "abc"u8.ToArray());

        var expected = (1024 * 1024) + 3;
        // The last window's bytes reach the counter as the socket accepts them: give it a moment.
        for (var i = 0; i < 50 && io.Received < expected; i++)
        {
            await Task.Delay(100);
        }

        Assert.Equal(expected, io.Transmitted);
        Assert.Equal(expected, io.Received);
    }

    private static async Task EchoAsync(int port, byte[] payload)
    {
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(Functional);
        await client.SendAsync(payload).WaitAsync(Functional);
        client.Shutdown(SocketShutdown.Send);
        var buffer = new byte[64 * 1024];
        var total = 0;
        int n;
        while ((n = await client.ReceiveAsync(buffer).WaitAsync(Functional)) > 0)
        {
            total += n;
        }

        Assert.Equal(payload.Length, total);
    }

    /// <summary>Sums <c>zmqaspire.tunnel.io</c> by its <c>network.io.direction</c> attribute.</summary>
    private sealed class IoListener : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _transmitted;
        private long _received;

        public long Transmitted => Interlocked.Read(ref _transmitted);

        public long Received => Interlocked.Read(ref _received);

        public static IoListener Start()
        {
            var io = new IoListener();
            io._listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == TunnelMeter.Name && instrument.Name == "zmqaspire.tunnel.io")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            io._listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "network.io.direction")
                    {
                        if ((string?)tag.Value == "transmit")
                        {
                            Interlocked.Add(ref io._transmitted, value);
                        }
                        else
                        {
                            Interlocked.Add(ref io._received, value);
                        }
                    }
                }
            });
            io._listener.Start();
            return io;
        }

        public void Dispose() => _listener.Dispose();
    }
}
