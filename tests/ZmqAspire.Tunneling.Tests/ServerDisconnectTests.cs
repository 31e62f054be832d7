using System.Collections.Concurrent;
using System.Diagnostics;
using Renci.SshNet.Common;
using Renci.SshNet.Messages.Connection;
using Renci.SshNet.Messages.Transport;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// A server's clean SSH_MSG_DISCONNECT (RFC 4253 section 11.1) is the session's loss, reported
/// at once with the server's reason. SSH.NET 2026.0.0 raises no error for it: it marks itself
/// disconnecting, so the end of the connection that follows is not reported either, and a plain
/// session looked alive until something touched it.
/// </summary>
/// <remarks>
/// OpenSSH 9.2p1's sshd sends SSH_MSG_DISCONNECT after login only on a protocol error
/// (<c>ssh_packet_disconnect</c>); its timeouts (<c>UnusedConnectionTimeout</c>, unanswered
/// <c>ClientAliveInterval</c> probes) and a killed session process close the TCP connection
/// without one (<c>ssh -v</c> says "Connection ... closed by remote host", not "Received
/// disconnect"). The protocol error used here is the one SSH.NET's users meet in the field
/// (sshnet/SSH.NET#609, "data packet referred to nonexistent channel", see ChannelCloseRaceTests):
/// a message about a channel sshd does not have (here SSH_MSG_CHANNEL_EOF for one it never
/// opened), which sshd 9.2 answers with SSH_DISCONNECT_PROTOCOL_ERROR, "ieof packet referred to
/// nonexistent channel N".
/// </remarks>
[Collection(SshdCollection.Name)]
public sealed class ServerDisconnectTests(SshdFixture sshd, ITestOutputHelper output)
{
    private const uint NoSuchChannel = 4242;
    private const string SshdReason = "ieof packet referred to nonexistent channel 4242";
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(30);

    /// <summary>The bound: the session reports its loss within a second or two of the server's disconnect.</summary>
    private static readonly TimeSpan ReportBound = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task A_session_reports_the_servers_disconnect_at_once_with_its_reason_code_and_description()
    {
        using var target = EchoServer.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var forward = session.OpenLocalForward(target.Endpoint);
        var failures = new ConcurrentQueue<SshForwardException>();
        forward.Failed += (_, e) => failures.Enqueue(e.Error);
        using var client = await LoopbackEcho.ConnectAsync(forward.LocalPort, Functional);
        await LoopbackEcho.RoundTripAsync(client, "before the disconnect", Functional);
        var errors = new ConcurrentQueue<Exception>();
        var lost = new TaskCompletionSource<(Exception Error, bool ConnectedInHandler)>(TaskCreationOptions.RunContinuationsAsynchronously);
        session.ErrorOccurred += (_, e) =>
        {
            errors.Enqueue(e.Exception);
            lost.TrySetResult((e.Exception, session.IsConnected));
        };
        var silences = 0;
        session.ServerAliveTimedOut += (_, _) => Interlocked.Increment(ref silences);
        var log = sshd.LogPosition();

        var watch = Stopwatch.StartNew();
        Assert.True(session.Mux!.TrySend(new ChannelEofMessage(NoSuchChannel)));
        var reported = await Task.WhenAny(lost.Task, Task.Delay(Functional));
        var after = watch.Elapsed;
        var sshdSaid = await sshd.WaitForLogLinesAsync(log, SshdReason, 1, Functional);
        Assert.True(sshdSaid == 1, $"sshd did not log the protocol error it disconnects for.{sshd.LogTail()}");
        Assert.True(
            reported == lost.Task,
            $"no ErrorOccurred {Functional.TotalSeconds:0} s after sshd disconnected (IsConnected {session.IsConnected}).{sshd.LogTail()}");
        var (error, connectedInHandler) = await lost.Task;
        output.WriteLine($"ErrorOccurred {after.TotalMilliseconds:0} ms after the message sshd disconnects for: {error.GetType().Name}: {error.Message}");

        Assert.True(after < ReportBound, $"the disconnect was reported after {after.TotalSeconds:0.00} s");
        var connectionError = Assert.IsType<SshConnectionException>(error);
        Assert.Equal(DisconnectReason.ProtocolError, connectionError.DisconnectReason);
        Assert.Contains("SSH_DISCONNECT_PROTOCOL_ERROR", error.Message, StringComparison.Ordinal);
        Assert.Contains(SshdReason, error.Message, StringComparison.Ordinal);
        Assert.False(connectedInHandler, "IsConnected was still true in the ErrorOccurred handler");
        Assert.False(session.IsConnected);

        // The session's loss is the session's news (SessionLossEventTests), once, not each
        // forward's, and not again as a keep-alive probe the closed session left unanswered.
        var options = sshd.Options(ClientKey.Ed25519);
        await Task.Delay((options.ServerAliveInterval * options.ServerAliveCountMax) + TimeSpan.FromSeconds(1));
        Assert.Single(errors);
        Assert.Empty(failures);
        Assert.Equal(0, Volatile.Read(ref silences));
    }

    [Fact]
    public async Task A_self_healing_forward_logs_in_again_at_once_after_the_servers_disconnect_not_after_its_liveness_poll()
    {
        using var target = EchoServer.Start();
        // A poll far longer than the bound: only the disconnect itself can end the session in time.
        var healing = new SelfHealingForwardOptions
        {
            LivenessPoll = TimeSpan.FromSeconds(60),
            ReconnectDelay = TimeSpan.FromMilliseconds(200),
            MaxReconnectDelay = TimeSpan.FromSeconds(2),
        };
        await using var forward = SelfHealingForward.Start(sshd.Options(ClientKey.Ed25519), target.Endpoint, healing);
        var reasons = new ConcurrentQueue<string>();
        var disconnected = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        forward.Disconnected += (_, e) =>
        {
            reasons.Enqueue(e.Reason);
            disconnected.TrySetResult(e.Reason);
        };
        var first = await forward.WaitUntilUpAsync(Functional);

        var watch = Stopwatch.StartNew();
        Assert.True(first.Mux!.TrySend(new ChannelEofMessage(NoSuchChannel)));
        var reported = await Task.WhenAny(disconnected.Task, Task.Delay(Functional));
        var after = watch.Elapsed;
        Assert.True(reported == disconnected.Task, $"no Disconnected {Functional.TotalSeconds:0} s after sshd disconnected.{sshd.LogTail()}");
        while (!(forward.SessionCount == 2 && forward.IsUp) && watch.Elapsed < Functional)
        {
            await Task.Delay(20);
        }

        var relogin = watch.Elapsed;
        var reason = await disconnected.Task;
        output.WriteLine($"Disconnected {after.TotalMilliseconds:0} ms after, up again {relogin.TotalMilliseconds:0} ms after: {reason}");
        Assert.True(after < ReportBound, $"Disconnected came {after.TotalSeconds:0.00} s after the server's disconnect");
        Assert.Contains(SshdReason, reason, StringComparison.Ordinal);
        Assert.Contains("SSH_DISCONNECT_PROTOCOL_ERROR", reason, StringComparison.Ordinal);
        Assert.Equal(2, forward.SessionCount);
        Assert.True(forward.IsUp);
        using var client = await LoopbackEcho.ConnectAsync(forward.LocalPort, Functional);
        await LoopbackEcho.RoundTripAsync(client, "through the new session", Functional);
        Assert.Single(reasons);
    }
}
