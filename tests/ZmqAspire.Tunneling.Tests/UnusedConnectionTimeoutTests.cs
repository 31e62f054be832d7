using System.Diagnostics;
using Renci.SshNet.Common;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>An sshd that drops a connection with no channel open for 2 s (OpenSSH 9.2's <c>UnusedConnectionTimeout</c>).</summary>
public sealed class UnusedConnectionTimeoutSshdFixture() : SshdFixture([$"UnusedConnectionTimeout {UnusedConnectionTimeoutTests.TimeoutSeconds}"]);

/// <summary>
/// sshd's idle cut, met in the field on bastions that set <c>UnusedConnectionTimeout</c>: a
/// session with no forwarded connection (our keep-alive probes are global requests, which do
/// not count as use) is dropped, and the session reports it at once. sshd 9.2p1 sends no
/// SSH_MSG_DISCONNECT for it (it logs "terminating inactive connection" and exits), so there is
/// no reason code to give: the loss is SSH.NET's "aborted by the server" (<see cref="ServerDisconnectTests"/>
/// covers a disconnect with a reason).
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class UnusedConnectionTimeoutTests(UnusedConnectionTimeoutSshdFixture sshd, ITestOutputHelper output) : IClassFixture<UnusedConnectionTimeoutSshdFixture>
{
    public const int TimeoutSeconds = 2;
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task An_idle_session_sshd_drops_for_disuse_reports_its_loss_promptly()
    {
        var log = sshd.LogPosition();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        var lost = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        session.ErrorOccurred += (_, e) => lost.TrySetResult(e.Exception);
        var watch = Stopwatch.StartNew();

        var reported = await Task.WhenAny(lost.Task, Task.Delay(Functional));
        var after = watch.Elapsed;
        Assert.True(reported == lost.Task, $"no ErrorOccurred {Functional.TotalSeconds:0} s after login (IsConnected {session.IsConnected}).{sshd.LogTail()}");
        Assert.Equal(1, await sshd.WaitForLogLinesAsync(log, "terminating inactive connection", 1, Functional));
        var error = await lost.Task;
        output.WriteLine($"ErrorOccurred {after.TotalSeconds:0.00} s after login (UnusedConnectionTimeout {TimeoutSeconds} s): {error.GetType().Name}: {error.Message}");
        Assert.IsType<SshConnectionException>(error);
        // sshd counts the timeout in whole seconds from the end of login (a little before ours
        // returns) and cuts once it has passed: up to a second late, and the report follows at once.
        Assert.InRange(after, TimeSpan.FromSeconds(TimeoutSeconds - 0.5), TimeSpan.FromSeconds(TimeoutSeconds + 2));
        Assert.False(session.IsConnected);
    }
}
