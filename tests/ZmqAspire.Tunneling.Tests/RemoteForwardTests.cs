namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// Reverse tunnels (ssh -R): the socket that binds lives behind the SSH server's side, and
/// peers on the server's side reach it through a listener the server opens.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class RemoteForwardTests(SshdFixture sshd)
{
    [Fact]
    public async Task A_peer_on_the_server_side_reaches_a_socket_bound_here()
    {
        using var server = ReplyServer.Start(); // binds here, on this process's loopback
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));

        using var remote = session.OpenRemoteForward(new TcpEndpoint(SshdFixture.Loopback, 0), TcpEndpoint.Parse(server.Endpoint));

        Assert.True(remote.IsListening);
        Assert.InRange(remote.ServerEndpoint.Port, 1, 65535); // the server picked a port
        Assert.NotEqual(server.Port, remote.ServerEndpoint.Port);
        using var req = Requests.NewRequestSocket();
        req.Connect(remote.ServerEndpoint.ToString()); // what a peer on the SSH server's side does
        Assert.Equal(server.ExpectedGreeting, Requests.Ask(req, "Hello", () => sshd.LogTail()));
    }

    [Fact]
    public async Task Disposing_the_remote_forward_makes_the_server_stop_listening()
    {
        using var server = ReplyServer.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        var remote = session.OpenRemoteForward(new TcpEndpoint(SshdFixture.Loopback, 0), TcpEndpoint.Parse(server.Endpoint));
        var port = remote.ServerEndpoint.Port;
        Assert.NotEqual(string.Empty, Listeners(port));

        remote.Dispose();

        // cancel-tcpip-forward is answered once sshd has closed the listener.
        Assert.Equal(string.Empty, Listeners(port));
        Assert.True(session.IsConnected);
    }

    [Fact]
    public async Task A_listen_address_the_server_does_not_permit_is_refused()
    {
        using var server = ReplyServer.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));

        // PermitListen allows 127.0.0.1 only; 127.0.0.2 is loopback too, but not permitted.
        var error = Assert.Throws<SshForwardException>(
            () => session.OpenRemoteForward(new TcpEndpoint("127.0.0.2", 0), TcpEndpoint.Parse(server.Endpoint)));

        Assert.Contains("refused", error.Message, StringComparison.Ordinal);
        Assert.True(session.IsConnected, "a refused remote forward must not end the session");
    }

    [Fact]
    public async Task The_XML_docs_listen_endpoint_parses_and_a_wildcard_target_is_refused()
    {
        using var server = ReplyServer.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));

        // OpenRemoteForward's documentation suggests tcp://127.0.0.1:0: "let the server pick".
        using var remote = session.OpenRemoteForward(TcpEndpoint.Parse("tcp://127.0.0.1:0"), TcpEndpoint.Parse(server.Endpoint));
        Assert.InRange(remote.ServerEndpoint.Port, 1, 65535);

        // A target is connected to: no "*", no port 0 (ssh -R refuses them too).
        var error = Assert.Throws<ArgumentException>(
            () => session.OpenRemoteForward(TcpEndpoint.Parse("tcp://127.0.0.1:0"), TcpEndpoint.Parse("tcp://*:5556")));
        Assert.Contains("'tcp://*:5556' cannot be a target", error.Message, StringComparison.Ordinal);
        Assert.True(session.IsConnected);
    }

    private static string Listeners(int port) =>
        ProcessRunner.Run("ss", ["-Hltn", $"( sport = :{port} )"]).StandardOutput.Trim();
}
