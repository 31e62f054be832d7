using System.Diagnostics;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// What the self-healing forward's loop meets besides an unreachable server: a configuration
/// that cannot work (it must stop the forward with <see cref="SelfHealingForward.Faulted"/>, not
/// end the loop unseen), a bastion name that does not resolve (retried, and said plainly), and
/// handlers that dispose what raised them.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class SupervisorFaultTests(SshdFixture sshd, ITestOutputHelper output)
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);
    private static readonly SelfHealingForwardOptions FastHealing = new() { ReconnectDelay = TimeSpan.FromMilliseconds(200), MaxReconnectDelay = TimeSpan.FromSeconds(1) };

    [Fact]
    public async Task With_no_credential_at_all_the_forward_faults_and_says_which_setting()
    {
        using var home = new HomeDirectory();
        var forward = SelfHealingForward.Start(sshd.Options(privateKeyPath: null), new TcpEndpoint("127.0.0.1", 1), FastHealing);
        var faulted = new TaskCompletionSource<SshTunnelException>(TaskCreationOptions.RunContinuationsAsynchronously);
        forward.Faulted += (_, e) => faulted.TrySetResult(e.Error);

        var thrown = await Assert.ThrowsAsync<SshTunnelConfigurationException>(() => forward.WaitUntilUpAsync(Generous));
        var raised = await faulted.Task.WaitAsync(Generous);

        Assert.Same(thrown, raised);
        Assert.Same(thrown, forward.Fault);
        Assert.Equal(nameof(SshTunnelOptions.PrivateKeyPath), thrown.Setting);
        Assert.Contains("No SSH credential", thrown.Message, StringComparison.Ordinal);
        forward.Dispose();
    }

    [Fact]
    public void Reconnect_timings_out_of_range_are_refused_at_start()
    {
        // Before, Start returned and the loop died building its retry pipeline: no Faulted,
        // WaitUntilUpAsync waiting for ever, Dispose throwing AggregateException.
        var healing = new SelfHealingForwardOptions { ReconnectDelay = TimeSpan.FromSeconds(-1) };

        var ex = Assert.Throws<ArgumentException>(() => SelfHealingForward.Start(sshd.Options(ClientKey.Ed25519), new TcpEndpoint("127.0.0.1", 1), healing));

        Assert.Equal(nameof(SelfHealingForwardOptions.ReconnectDelay), ex.ParamName);
    }

    [Fact]
    public async Task A_bastion_name_that_does_not_resolve_is_retried_and_said_plainly()
    {
        var options = sshd.Options(ClientKey.Ed25519);
        options.Server = new SshServerAddress(SshdFixture.User, "bastion.zmqaspire.invalid", 22);
        await using var forward = SelfHealingForward.Start(options, new TcpEndpoint("127.0.0.1", 1), FastHealing);
        var retries = 0;
        var retried = new TaskCompletionSource<SshServerUnreachableException>(TaskCreationOptions.RunContinuationsAsynchronously);
        forward.ConnectRetry += (_, e) =>
        {
            Interlocked.Increment(ref retries);
            retried.TrySetResult(e.Error);
        };

        var timeout = await Assert.ThrowsAsync<TimeoutException>(() => forward.WaitUntilUpAsync(TimeSpan.FromSeconds(3)));
        var error = await retried.Task.WaitAsync(Generous);

        output.WriteLine(timeout.Message);
        Assert.Contains("name not resolved", timeout.Message, StringComparison.Ordinal);
        Assert.Contains("bastion.zmqaspire.invalid", timeout.Message, StringComparison.Ordinal);
        Assert.IsType<SshServerUnreachableException>(timeout.InnerException);
        Assert.True(error.NameNotResolved);
        Assert.Contains("name not resolved", error.Message, StringComparison.Ordinal);
        Assert.Null(forward.Fault);
        Assert.True(Volatile.Read(ref retries) >= 1);
    }

    [Fact]
    public async Task Disposing_a_session_from_its_error_handler_returns()
    {
        var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        var disposed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        session.ErrorOccurred += (_, _) =>
        {
            session.Dispose();
            disposed.TrySetResult();
        };

        sshd.KillSessions();

        // Raised on SSH.NET's receive thread, Dispose waited for that very thread: it never returned.
        await disposed.Task.WaitAsync(Generous);
        Assert.False(session.IsConnected);
    }

    [Fact]
    public async Task Disposing_the_forward_from_its_Disconnected_handler_does_not_wait_for_itself()
    {
        using var server = ReplyServer.Start();
        var forward = SelfHealingForward.Start(sshd.Options(ClientKey.Ed25519), TcpEndpoint.Parse(server.Endpoint), FastHealing);
        await forward.WaitUntilUpAsync(Generous);
        var disposed = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        forward.Disconnected += (_, _) =>
        {
            var watch = Stopwatch.StartNew();
            forward.Dispose();
            disposed.TrySetResult(watch.Elapsed);
        };

        sshd.KillSessions();
        var took = await disposed.Task.WaitAsync(Generous);

        output.WriteLine($"Dispose from the Disconnected handler took {took.TotalSeconds:0.00} s");
        // Not a speed bound: Dispose waits up to 5 s for the forward's loop, and a handler run on
        // that loop made it wait out the whole 5 s for itself.
        Assert.True(took < TimeSpan.FromSeconds(4.5), $"Dispose waited {took.TotalSeconds:0.0} s: it waited out its 5 s wait for the loop it was called from");
        await Assert.ThrowsAsync<ObjectDisposedException>(() => forward.WaitUntilUpAsync(Generous));
    }
}
