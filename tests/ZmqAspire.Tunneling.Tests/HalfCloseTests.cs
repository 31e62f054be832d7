using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// Half-close through a tunnel (RFC 4254 section 5.3): a client that shuts down its sending
/// side (SSH_MSG_CHANNEL_EOF) still receives everything the target sends back, then the end of
/// the stream, as through <c>ssh -L</c> and <c>ssh -R</c>.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class HalfCloseTests(SshdFixture sshd)
{
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_local_forward_client_that_half_closes_gets_the_whole_reply()
    {
        using var echo = EchoServer.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var forward = session.OpenLocalForward(echo.Endpoint);

        await AssertHalfCloseEchoAsync(forward.LocalPort);
    }

    [Fact]
    public async Task A_remote_forward_peer_that_half_closes_gets_the_whole_reply()
    {
        using var echo = EchoServer.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var remote = session.OpenRemoteForward(new TcpEndpoint(SshdFixture.Loopback, 0), echo.Endpoint);

        await AssertHalfCloseEchoAsync(remote.ServerEndpoint.Port);
    }

    /// <summary>Sends 1 MiB, shuts down sending, and reads until the end of the stream: all of it must come back.</summary>
    private static async Task AssertHalfCloseEchoAsync(int port)
    {
        var payload = RandomNumberGenerator.GetBytes(1024 * 1024);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(Functional);
        var reading = ReadToEndAsync(client);
        await client.SendAsync(payload).WaitAsync(Functional);
        client.Shutdown(SocketShutdown.Send);

        var back = await reading.WaitAsync(Functional);
        Assert.Equal(payload.Length, back.Length);
        Assert.True(payload.AsSpan().SequenceEqual(back), "Other bytes came back.");
    }

    private static async Task<byte[]> ReadToEndAsync(Socket socket)
    {
        using var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int n;
        while ((n = await socket.ReceiveAsync(buffer)) > 0)
        {
            received.Write(buffer, 0, n);
        }

        return received.ToArray();
    }
}
