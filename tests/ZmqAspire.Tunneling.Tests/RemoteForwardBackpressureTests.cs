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

        await StalledReader.StallThenDrainAsync(writerSocket, target, Bound, "the server-side writer", output);
        Assert.True(session.IsConnected);
    }
}
