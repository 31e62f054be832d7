using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// A local client that resets its connection (SO_LINGER 0, as Jedis does against port exhaustion)
/// ends the target's connection too, even when the target is silent and never writes. Replays
/// apache/mina-sshd#879 ("Local port forwarding not propagating RST packet to server, orphaning the
/// server-side connection": the forwarder dropped the channel without SSH_MSG_CHANNEL_CLOSE).
/// A reset is no half-close: the relay must send CHANNEL_CLOSE (RFC 4254 section 5.3), so sshd
/// closes its socket to the target completely, which the target sees as a reset on its next writes.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class ClientResetTests(SshdFixture sshd, ITestOutputHelper output)
{
    private const int Clients = 10;
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_client_reset_closes_the_channel_and_the_silent_targets_connection()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var target = new TcpEndpoint("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port);
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        var mux = session.Mux;
        Assert.NotNull(mux);
        using var forward = session.OpenLocalForward(target);

        for (var i = 0; i < Clients; i++)
        {
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(IPAddress.Loopback, forward.LocalPort).WaitAsync(Functional);
            using var accepted = await listener.AcceptSocketAsync().WaitAsync(Functional);
            await client.SendAsync("GET\n"u8.ToArray()).WaitAsync(Functional);
            var request = new byte[4];
            Assert.Equal(4, await accepted.ReceiveAsync(request.AsMemory()).AsTask().WaitAsync(Functional));

            // The reset: linger 0, then close.
            client.LingerState = new LingerOption(true, 0);
            var watch = Stopwatch.StartNew();
            client.Close();

            // The silent target sees its connection end...
            var end = await accepted.ReceiveAsync(new byte[16].AsMemory()).AsTask().WaitAsync(Functional);
            var ended = watch.Elapsed;
            Assert.Equal(0, end);
            // ...and the channel is gone, not left waiting for the target's EOF.
            while (mux.ChannelCount > 0 && watch.Elapsed < Functional)
            {
                await Task.Delay(20);
            }

            Assert.Equal(0, mux.ChannelCount);

            // A closed socket, not a half-closed one: sshd's kernel answers the target's writes with a reset.
            var refused = await WriteUntilRefusedAsync(accepted);
            output.WriteLine($"client {i}: reset; the target saw the end after {ended.TotalSeconds:0.000} s, the channel closed after {watch.Elapsed.TotalSeconds:0.000} s, the target's writes were then refused with {refused}");
            Assert.Contains(refused, new[] { SocketError.ConnectionReset, SocketError.Shutdown, SocketError.ConnectionAborted });
        }

        Assert.True(session.IsConnected);
    }

    /// <summary>Writes a byte every 50 ms (up to 2 s) until the kernel refuses, and returns the refusal.</summary>
    private static async Task<SocketError> WriteUntilRefusedAsync(Socket socket)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(2))
        {
            try
            {
                await socket.SendAsync("x"u8.ToArray());
            }
            catch (SocketException ex)
            {
                return ex.SocketErrorCode;
            }

            await Task.Delay(50);
        }

        return SocketError.Success;
    }
}
