using System.Globalization;
using NetMQ;
using NetMQ.Sockets;
using ZmqAspire.Testing.Sshd;

namespace ZmqAspire.AppHost.Tests;

/// <summary>
/// The one session the bastion allows: <c>sleep &lt;seconds&gt;</c>, which pyzmq's OpenSSH
/// tunnels run to hold their forward open; and everything else a session could ask for, refused
/// with a clear message to the client and a line in the bastion's log. Probed with OpenSSH's own
/// client, run as a fresh local user that trusts the bastion's host key and has the client key.
/// </summary>
[Collection(AppHostCollection.Name)]
public sealed class BastionSessionTests(AppHostFixture fixture)
{
    [Fact]
    public async Task Sleep_holds_the_session_open_and_its_forward_carries_replies()
    {
        using var peer = SeedPeers.For(fixture);
        var localPort = LoopbackPort.Free();
        var output = new System.Text.StringBuilder();
        var ssh = peer.StartSsh(["-o", "BatchMode=yes", "-L", $"127.0.0.1:{localPort}:server:5556"], "sleep 30", output);
        try
        {
            await LoopbackPort.WaitListeningAsync(localPort, TimeSpan.FromSeconds(30), () => output.ToString());
            using var socket = new RequestSocket();
            socket.Options.Linger = TimeSpan.Zero;
            socket.Connect($"tcp://127.0.0.1:{localPort.ToString(CultureInfo.InvariantCulture)}");
            socket.SendFrame("Hello");
            Assert.True(socket.TryReceiveFrameString(TimeSpan.FromSeconds(30), out var reply), "no reply through the forward:\n" + output);
            Assert.Equal("World from 5556", reply);
            Assert.False(ssh.HasExited, "the sleep session ended early:\n" + output);
        }
        finally
        {
            ProcessRunner.Stop(ssh);
        }

        await AssertBastionLogsAsync("tunnel-shell: sleep 30: holding the session open for its forwards");
    }

    [Theory]
    [InlineData("id")]
    [InlineData("sh")]
    [InlineData("sleep 5; id")]
    [InlineData("sleep 5 && id")]
    [InlineData("$(id)")]
    [InlineData("sleep 0")]
    [InlineData("sleep 86401")]
    public async Task Any_other_command_is_refused_and_not_run(string command)
    {
        using var peer = SeedPeers.For(fixture);
        var result = peer.RunSsh(["-o", "BatchMode=yes"], command);
        Assert.True(result.ExitCode == 126, SeedPeer.Describe(result)); // tunnel-shell's "refused"
        Assert.Contains($"bastion: the command '{command}'", result.StandardError, StringComparison.Ordinal);
        Assert.Contains("refused: this bastion only forwards TCP", result.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("uid=", result.StandardOutput, StringComparison.Ordinal); // id never ran
        await AssertBastionLogsAsync($"tunnel-shell: refused the command '{command}'");
    }

    [Fact]
    public async Task A_login_shell_is_refused()
    {
        using var peer = SeedPeers.For(fixture);
        var result = peer.RunSsh(["-o", "BatchMode=yes", "-T"], command: null);
        Assert.True(result.ExitCode == 126, SeedPeer.Describe(result));
        Assert.Contains("bastion: a login shell refused", result.StandardError, StringComparison.Ordinal);
        await AssertBastionLogsAsync("tunnel-shell: refused a login shell");
    }

    [Fact]
    public void A_pty_is_refused()
    {
        using var peer = SeedPeers.For(fixture);
        var result = peer.RunSsh(["-o", "BatchMode=yes", "-tt"], "sleep 1");
        Assert.Contains("PTY allocation request failed", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_sftp_subsystem_is_refused()
    {
        using var peer = SeedPeers.For(fixture);
        var result = peer.RunSsh(["-o", "BatchMode=yes", "-s"], "sftp");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("subsystem request failed", result.StandardError, StringComparison.Ordinal);
        await AssertBastionLogsAsync("subsystem request for sftp by user tunnel failed, subsystem not found");
    }

    private async Task AssertBastionLogsAsync(string line)
    {
        var log = await fixture.WatchLogsAsync("bastion", l => l.Any(x => x.Contains(line, StringComparison.Ordinal)), TimeSpan.FromSeconds(20));
        Assert.True(log.Any(x => x.Contains(line, StringComparison.Ordinal)), $"the bastion did not log '{line}':\n" + string.Join('\n', log.TakeLast(20)));
    }
}
