using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// With no channel open, sshd's <c>ClientAliveInterval</c> probe is a global request
/// (<c>SSH_MSG_GLOBAL_REQUEST "keepalive@openssh.com"</c>, want reply) instead of a channel
/// request; RFC 4254 section 4 says the receiver must answer it. Replays sshnet/SSH.NET#709
/// ("respond to server check alive requests": sshd logged "Timeout, client not responding" and
/// dropped an idle SSH.NET client after interval x count). Our own probe
/// (<see cref="SshTunnelOptions.ServerAliveInterval"/>, 1 s by default) keeps sshd from ever
/// probing, so the case is a tunnel with it turned off, or set longer than the bastion's interval.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class ClientAliveWithoutChannelsTests(ClientAliveSshdFixture sshd, ITestOutputHelper output) : IClassFixture<ClientAliveSshdFixture>
{
    /// <summary>Twice what sshd allows an unanswering client (2 s x 2).</summary>
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(8);

    /// <summary>
    /// Checked with sshd at DEBUG3: it sends the global request (type 80) every 2 s and receives
    /// SSH_MSG_REQUEST_FAILURE (type 82) from SSH.NET for each ("Got 82/3 for keepalive").
    /// </summary>
    [Fact]
    public async Task A_session_with_our_probe_off_and_no_channel_open_answers_sshds_global_keepalive()
    {
        using var server = ReplyServer.Start();
        var logPosition = sshd.LogPosition();
        var options = sshd.Options(ClientKey.Ed25519);
        options.ServerAliveInterval = TimeSpan.Zero; // off
        await using var session = await SshTunnelSession.ConnectAsync(options);

        // No forward, no channel: sshd probes with global requests every 2 s.
        await Task.Delay(Idle);

        var log = sshd.LogSince(logPosition);
        output.WriteLine(log);
        Assert.DoesNotContain("Timeout, client not responding", log, StringComparison.Ordinal);
        Assert.True(session.IsConnected, $"sshd dropped the idle session.{sshd.LogTail()}");

        // And the session still carries a forward.
        using var req = Requests.NewRequestSocket();
        using var forward = req.ConnectThroughTunnel(server.Endpoint, session);
        Assert.Equal(server.ExpectedGreeting, Requests.Ask(req, "Hello", () => sshd.LogTail()));
    }
}
