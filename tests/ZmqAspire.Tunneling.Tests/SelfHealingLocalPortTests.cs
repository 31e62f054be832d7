using System.Globalization;
using System.Net;
using NetMQ.Sockets;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// <see cref="SelfHealingForwardOptions.LocalPorts"/> and <see cref="SelfHealingForwardOptions.LocalAddress"/>:
/// a fixed local port (the seed's client connects to a port it was not told) and the bind address.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class SelfHealingLocalPortTests(SshdFixture sshd)
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_fixed_local_port_is_listened_on_and_relays()
    {
        using var server = ReplyServer.Start();
        var port = TestNet.FreePort();
        await using var forward = SelfHealingForward.Start(
            sshd.Options(ClientKey.Ed25519), [TcpEndpoint.Parse(server.Endpoint)], new SelfHealingForwardOptions { LocalPorts = [port] });
        await forward.WaitUntilUpAsync(Generous);
        Assert.Equal(new TcpEndpoint("127.0.0.1", port), forward.LocalEndpoint);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{port} "), Assert.Single(TestNet.ListeningSockets(port)), StringComparison.Ordinal);
        using var req = new RequestSocket();
        req.Options.Linger = TimeSpan.Zero;
        req.Connect(forward.LocalEndpoint.ToString());
        Assert.Equal(server.ExpectedGreeting, Requests.Ask(req, "Hello", () => sshd.LogTail()));
    }

    [Fact]
    public async Task A_wildcard_bind_listens_on_every_address_and_reports_loopback_to_connect_to()
    {
        using var server = ReplyServer.Start();
        await using var forward = SelfHealingForward.Start(
            sshd.Options(ClientKey.Ed25519), [TcpEndpoint.Parse(server.Endpoint)], new SelfHealingForwardOptions { LocalAddress = IPAddress.Any });
        Assert.Equal("127.0.0.1", forward.LocalEndpoint.Host);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"0.0.0.0:{forward.LocalPort} "), Assert.Single(TestNet.ListeningSockets(forward.LocalPort)), StringComparison.Ordinal);
        await forward.WaitUntilUpAsync(Generous);
    }

    [Fact]
    public void Local_ports_must_give_one_port_per_target()
    {
        var error = Assert.Throws<ArgumentException>(() => SelfHealingForward.Start(
            sshd.Options(ClientKey.Ed25519), [new TcpEndpoint("127.0.0.1", 1), new TcpEndpoint("127.0.0.1", 2)], new SelfHealingForwardOptions { LocalPorts = [0] }));
        Assert.Contains("one local port (0-65535) per target", error.Message, StringComparison.Ordinal);
    }
}
