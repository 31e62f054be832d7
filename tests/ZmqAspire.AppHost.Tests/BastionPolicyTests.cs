using System.Net.Sockets;
using NetMQ;
using NetMQ.Sockets;
using Renci.SshNet;
using Renci.SshNet.Common;
using ZmqAspire.Tunneling;

namespace ZmqAspire.AppHost.Tests;

/// <summary>What the running bastion container allows and refuses, probed with real SSH logins.</summary>
[Collection(AppHostCollection.Name)]
public sealed class BastionPolicyTests(AppHostFixture fixture)
{
    [Fact]
    public async Task Forward_to_the_server_is_allowed()
    {
        // The positive control for the refusals below: the same login and code path reaches the server.
        await using var session = await SshTunnelSession.ConnectAsync(fixture.BastionOptions());
        using var socket = new RequestSocket();
        socket.Options.Linger = TimeSpan.Zero;
        using var forward = socket.ConnectThroughTunnel("tcp://server:5556", session);
        socket.SendFrame("Hello");
        Assert.True(socket.TryReceiveFrameString(TimeSpan.FromSeconds(30), out var reply), "no reply through the bastion");
        Assert.Equal("World from 5556", reply);
    }

    [Theory]
    [InlineData("tcp://bastion:22", "bastion", 22)]          // the bastion's own sshd
    [InlineData("tcp://127.0.0.1:22", "127.0.0.1", 22)]      // the bastion's loopback
    [InlineData("tcp://localhost:5556", "localhost", 5556)]  // the server's port, named differently from PermitOpen
    [InlineData("tcp://server:5557", "server", 5557)]        // the server, another port
    public async Task Forward_to_any_other_target_is_refused(string target, string host, int port)
    {
        await using var session = await SshTunnelSession.ConnectAsync(fixture.BastionOptions());
        using var forward = session.OpenLocalForward(TcpEndpoint.Parse(target));

        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", forward.LocalPort);
        var stream = tcp.GetStream();
        await stream.WriteAsync("probe"u8.ToArray());
        var buffer = new byte[16];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var read = await ReadOrResetAsync(stream, buffer, cts.Token);
        Assert.Equal(0, read); // the channel was not opened, so the local connection is closed

        // ... because sshd's PermitOpen denied it (not, say, because the target was down).
        var denial = $"to connect to host {host} port {port}, but the request was denied";
        var log = await fixture.WatchLogsAsync("bastion", l => l.Any(x => x.Contains(denial, StringComparison.Ordinal)), TimeSpan.FromSeconds(20));
        Assert.Contains(log, l => l.Contains(denial, StringComparison.Ordinal));
        Assert.True(session.IsConnected, "a refused forward must not end the SSH session");
    }

    [Fact]
    public async Task Remote_forwards_are_refused_unless_the_AppHost_asks_for_them()
    {
        // The default AppHost does not call WithRemoteForwarding: sshd refuses tcpip-forward
        // (PatternDemoTests shows the same request accepted when it does).
        await using var session = await SshTunnelSession.ConnectAsync(fixture.BastionOptions());
        var error = Assert.Throws<SshForwardException>(
            () => session.OpenRemoteForward(new TcpEndpoint("0.0.0.0", 7000), new TcpEndpoint("127.0.0.1", 9)));
        Assert.Contains("refused", error.Message, StringComparison.Ordinal);
        Assert.True(session.IsConnected, "a refused remote forward must not end the SSH session");
    }

    [Fact]
    public async Task Root_login_is_refused()
    {
        await Assert.ThrowsAsync<SshTunnelAuthenticationException>(() => SshTunnelSession.ConnectAsync(fixture.BastionOptions(user: "root")));
    }

    [Fact]
    public async Task Password_login_is_refused_by_default()
    {
        var options = fixture.BastionOptions();
        options.PrivateKeyPath = null;
        options.Password = "not-a-password";
        var error = await Assert.ThrowsAsync<SshTunnelAuthenticationException>(() => SshTunnelSession.ConnectAsync(options));
        Assert.Contains("password", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_host_key_pin_is_refused_before_login()
    {
        var options = fixture.BastionOptions();
        options.HostKey = HostKeyPolicy.Pinned("SHA256:" + new string('A', 43));
        var error = await Assert.ThrowsAsync<SshHostKeyRejectedException>(() => SshTunnelSession.ConnectAsync(options));
        Assert.Equal(fixture.Keys.HostKeyFingerprint, error.SeenFingerprint);
        Assert.Contains(fixture.Keys.HostKeyFingerprint, error.Message, StringComparison.Ordinal);
    }

    private static async Task<int> ReadOrResetAsync(NetworkStream stream, byte[] buffer, CancellationToken cancellationToken)
    {
        try
        {
            return await stream.ReadAsync(buffer, cancellationToken);
        }
        catch (IOException ex) when (ex.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset })
        {
            return 0; // a reset is a refusal too
        }
    }
}
