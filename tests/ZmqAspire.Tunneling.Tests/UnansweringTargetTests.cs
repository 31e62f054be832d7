using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// One target of a self-healing forward stops answering connects while the SSH server stays
/// alive (a server replica whose container is gone: sshd's SYNs go unanswered and it answers the
/// channel open only when they time out, minutes later). The other targets must not notice: the
/// session stays, their connections keep relaying, and the silent target is reported and marked
/// unreachable so that work can go elsewhere. Found by the replica fault tests under load: the
/// forward took the unanswered open for a dead server and logged in anew, cutting every
/// replica's requests, where `ssh -L` keeps its session and only that connection waits.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class UnansweringTargetTests(SshdFixture sshd, ITestOutputHelper output)
{
    private static readonly TimeSpan OpenTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_target_that_does_not_answer_is_marked_unreachable_and_the_other_targets_keep_their_session_and_connections()
    {
        using var echo = EchoServer.Start();
        using var silent = HangingTarget.Start();
        var silentEndpoint = silent.Endpoint;

        await using var forward = SelfHealingForward.Start(sshd.Options(ClientKey.Ed25519, connectTimeout: OpenTimeout), [echo.Endpoint, silentEndpoint]);
        var failed = new TaskCompletionSource<(SshForwardException Error, bool Refused)>(TaskCreationOptions.RunContinuationsAsynchronously);
        forward.ForwardFailed += (_, e) => failed.TrySetResult((e.Error, forward.IsRefused(1)));
        await forward.WaitUntilUpAsync(Functional);

        // A connection to the working target, open across the other's timeout.
        using var working = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await working.ConnectAsync(IPAddress.Loopback, forward.LocalEndpoints[0].Port).WaitAsync(Functional);
        await EchoAsync(working, "before");

        using var toSilent = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await toSilent.ConnectAsync(IPAddress.Loopback, forward.LocalEndpoints[1].Port).WaitAsync(Functional);
        // While that open waits, sshd answers a newer one to the working target first (out of order).
        using var working2 = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await working2.ConnectAsync(IPAddress.Loopback, forward.LocalEndpoints[0].Port).WaitAsync(Functional);
        await EchoAsync(working2, "meanwhile");
        var (error, refusedWhenHeard) = await failed.Task.WaitAsync(Functional);
        output.WriteLine($"reported: {error.Message}; sessions {forward.SessionCount}, up {forward.IsUp}");
        Assert.Equal(silentEndpoint, error.Remote);
        Assert.Contains($"did not answer the channel open within {OpenTimeout.TotalSeconds:0} s", error.Message, StringComparison.Ordinal);
        Assert.True(refusedWhenHeard, "the silent target was not marked unreachable when its failure was raised");
        Assert.False(forward.IsRefused(0), "the working target was marked unreachable");

        // Past the moment a lost session would have been noticed (liveness poll 1 s) and replaced.
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal(1, forward.SessionCount);
        Assert.True(forward.IsUp, "the session is not up");
        await EchoAsync(working, "after");

        // The silent target now refuses (its listener is gone): each answer counts for its own
        // target. Matched in order, the working target's answer above would have taken the silent
        // one's place, and this refusal would have marked the working target unreachable.
        silent.Dispose();
        using var refused = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await refused.ConnectAsync(IPAddress.Loopback, forward.LocalEndpoints[1].Port).WaitAsync(Functional);
        try
        {
            Assert.Equal(0, await refused.ReceiveAsync(new byte[16].AsMemory()).AsTask().WaitAsync(Functional));
        }
        catch (SocketException)
        {
            // Reset: closed all the same.
        }

        Assert.True(forward.IsRefused(1), "the refusing target is not marked unreachable");
        Assert.False(forward.IsRefused(0), "the working target was marked unreachable by the other target's refusal");
        await EchoAsync(working2, "still");
    }

    private static Task EchoAsync(Socket socket, string text) => LoopbackEcho.RoundTripAsync(socket, text, Functional);
}
