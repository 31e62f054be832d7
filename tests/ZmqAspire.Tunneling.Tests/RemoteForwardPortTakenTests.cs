using System.Net;
using System.Net.Sockets;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// A remote forward whose port is already taken on the server fails at once and says so, as
/// <c>ssh -o ExitOnForwardFailure=yes -R</c> does, instead of a forward that looks open and never
/// relays (strandnerd/tunn#6 and OpenSSH's "Warning: remote port forwarding failed for listen
/// port": without ExitOnForwardFailure, ssh stays up with the forward missing). The session and
/// the process already listening there are unharmed, and a free port still works.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class RemoteForwardPortTakenTests(SshdFixture sshd)
{
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_server_port_already_in_use_is_refused_and_the_holder_and_session_are_unharmed()
    {
        using var echo = EchoServer.Start();
        // What already listens on the server's side: the server here is this machine.
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var taken = ((IPEndPoint)holder.LocalEndpoint).Port;
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));

        var error = Assert.Throws<SshForwardException>(
            () => session.OpenRemoteForward(new TcpEndpoint(SshdFixture.Loopback, taken), echo.Endpoint));
        Assert.Contains("refused to listen", error.Message, StringComparison.Ordinal);
        Assert.Equal(taken, error.Remote?.Port);

        // The holder still gets its own connections, not relayed ones.
        using (var peer = new TcpClient())
        {
            await peer.ConnectAsync(IPAddress.Loopback, taken).WaitAsync(Functional);
            using var accepted = await holder.AcceptSocketAsync().WaitAsync(Functional);
        }

        Assert.Equal(0, echo.Accepted);

        // The session goes on: a forward on a free port relays.
        using var remote = session.OpenRemoteForward(new TcpEndpoint(SshdFixture.Loopback, 0), echo.Endpoint);
        Assert.True(remote.IsListening);
        Assert.NotEqual(taken, remote.ServerEndpoint.Port);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, remote.ServerEndpoint.Port).WaitAsync(Functional);
        var payload = "through -R"u8.ToArray();
        await client.SendAsync(payload).WaitAsync(Functional);
        var back = new byte[payload.Length];
        var got = 0;
        while (got < back.Length)
        {
            var n = await client.ReceiveAsync(back.AsMemory(got)).AsTask().WaitAsync(Functional);
            Assert.True(n > 0, "the relay closed before echoing");
            got += n;
        }

        Assert.Equal(payload, back);
        Assert.True(session.IsConnected);
    }
}
