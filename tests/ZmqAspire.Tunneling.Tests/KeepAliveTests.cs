using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>An sshd that probes idle clients every 2 s and drops them after 2 unanswered probes.</summary>
public sealed class ClientAliveSshdFixture() : SshdFixture(["ClientAliveInterval 2", "ClientAliveCountMax 2"]);

/// <summary>
/// sshd's <c>ClientAliveInterval</c> probe is a channel request (keepalive@openssh.com, want
/// reply) on an open channel; RFC 4254 section 5.4 says every request that wants a reply gets
/// SSH_MSG_CHANNEL_SUCCESS or SSH_MSG_CHANNEL_FAILURE. Unanswered, sshd logs "Timeout, client not
/// responding" and drops the session after interval x count.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class KeepAliveTests(ClientAliveSshdFixture sshd, ITestOutputHelper output) : IClassFixture<ClientAliveSshdFixture>
{
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(16);

    [Fact]
    public async Task An_idle_forward_answers_sshd_keepalive_probes_and_keeps_its_session()
    {
        using var server = ReplyServer.Start();
        var logPosition = sshd.LogPosition();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var req = Requests.NewRequestSocket();
        using var forward = req.ConnectThroughTunnel(server.Endpoint, session);
        Assert.Equal(server.ExpectedGreeting, Requests.Ask(req, "Hello", () => sshd.LogTail()));

        // Idle with the channel open: sshd probes on it every 2 s and gives up after 2 unanswered.
        await Task.Delay(Idle);

        var log = sshd.LogSince(logPosition);
        output.WriteLine(log);
        Assert.DoesNotContain("Timeout, client not responding", log, StringComparison.Ordinal);
        Assert.True(session.IsConnected, $"The session was dropped while idle.{sshd.LogTail()}");
        Assert.Equal(server.ExpectedGreeting, Requests.Ask(req, "Hello", () => sshd.LogTail()));
    }
}
