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

        // The client writes as fast as the kernel takes it; the target reads nothing, then everything.
        await StalledReader.StallThenDrainAsync(client, target, Bound, "the client", output);
        Assert.True(session.IsConnected);
    }
}
