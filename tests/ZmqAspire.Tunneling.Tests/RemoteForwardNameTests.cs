namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// Host names in a remote forward that do not resolve here are refused as forward errors that
/// name the host, like every other refusal of <see cref="SshTunnelSession.OpenRemoteForward"/>,
/// and leave the session as it was. Replays sshnet/SSH.NET#1234 and #525 (ForwardedPortRemote
/// resolves the bind host on the client with <c>GetHostAddresses(boundHost)[0]</c>, so a name
/// fails or turns into an address the user did not ask for).
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class RemoteForwardNameTests(SshdFixture sshd)
{
    private const string Unresolvable = "no-such-host.invalid";

    [Fact]
    public async Task A_target_name_that_does_not_resolve_is_a_forward_error_naming_it()
    {
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        var target = new TcpEndpoint(Unresolvable, 5556);

        var error = Assert.Throws<SshForwardException>(() => session.OpenRemoteForward(new TcpEndpoint(SshdFixture.Loopback, 0), target));

        Assert.Equal(target, error.Remote);
        Assert.Contains(Unresolvable, error.Message, StringComparison.Ordinal);
        Assert.Contains(SshServerUnreachableException.NameNotResolvedText, error.Message, StringComparison.Ordinal);
        Assert.True(session.IsConnected);
    }

    [Fact]
    public async Task A_listen_name_that_does_not_resolve_is_a_forward_error_naming_it()
    {
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        var listen = new TcpEndpoint(Unresolvable, 0);

        var error = Assert.Throws<SshForwardException>(() => session.OpenRemoteForward(listen, new TcpEndpoint("127.0.0.1", 5556)));

        Assert.Equal(listen, error.Remote);
        Assert.Contains(Unresolvable, error.Message, StringComparison.Ordinal);
        Assert.Contains(SshServerUnreachableException.NameNotResolvedText, error.Message, StringComparison.Ordinal);
        Assert.True(session.IsConnected);
    }
}
