using System.Globalization;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>The jupyter_client case: five forwards over one SSH login, opened and closed together.</summary>
[Collection(SshdCollection.Name)]
public sealed class ForwardSetTests(SshdFixture sshd)
{
    [Fact]
    public async Task Five_forwards_share_one_login_and_all_answer()
    {
        const string login = "Accepted publickey for " + SshdFixture.User;
        var logPosition = sshd.LogPosition();
        var servers = Enumerable.Range(0, 5).Select(_ => ReplyServer.Start()).ToList();
        try
        {
            await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
            using var set = LocalForwardSet.Open(session, servers.Select(s => s.Endpoint));

            Assert.Equal(5, set.Forwards.Count);
            Assert.All(set.Forwards, f => Assert.True(f.IsListening));
            Assert.Equal(5, set.LocalEndpoints.Distinct().Count());
            for (var i = 0; i < servers.Count; i++)
            {
                using var req = Requests.NewRequestSocket();
                req.Connect(set.LocalEndpoints[i].ToString());
                Assert.Equal(servers[i].ExpectedGreeting, Requests.Ask(req, "Hello", () => sshd.LogTail()));
            }

            _ = await sshd.WaitForLogLinesAsync(logPosition, login, 1, TimeSpan.FromSeconds(10));
            var logins = SshdFixture.CountLines(sshd.LogSince(logPosition), login);
            Assert.True(logins == 1, string.Create(CultureInfo.InvariantCulture, $"sshd saw {logins} logins for 5 forwards:{sshd.LogTail()}"));
        }
        finally
        {
            servers.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task Disposing_the_set_closes_every_listener()
    {
        using var server = ReplyServer.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        var set = LocalForwardSet.Open(session, [server.Endpoint, server.Endpoint, server.Endpoint]);
        var ports = set.Forwards.Select(f => f.LocalPort).ToList();

        set.Dispose();

        Assert.Empty(session.Forwards);
        Assert.All(ports, port =>
        {
            var listening = ProcessRunner.Run("ss", ["-Hltn", $"( sport = :{port} )"]).StandardOutput.Trim();
            Assert.Equal(string.Empty, listening);
        });
    }

    [Fact]
    public async Task A_malformed_target_opens_nothing()
    {
        using var server = ReplyServer.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));

        var error = Assert.Throws<FormatException>(() => LocalForwardSet.Open(session, [server.Endpoint, "tcp://no-port", server.Endpoint]));

        Assert.Contains("tcp://no-port", error.Message, StringComparison.Ordinal);
        Assert.Empty(session.Forwards);
    }
}
