
namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// What the self-healing forward's loop meets besides an unreachable server: a configuration
/// that cannot work (it must stop the forward with <see cref="SelfHealingForward.Faulted"/>, not
/// end the loop unseen), a bastion name that does not resolve (retried, and said plainly), and
/// handlers that dispose what raised them.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class SupervisorFaultTests(SshdFixture sshd)
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);
    private static readonly SelfHealingForwardOptions FastHealing = new() { ReconnectDelay = TimeSpan.FromMilliseconds(200), MaxReconnectDelay = TimeSpan.FromSeconds(1) };

    [Fact]
    public async Task With_no_credential_at_all_the_forward_faults_and_says_which_setting()
    {
        using var home = new HomeDirectory();
        var forward = SelfHealingForward.Start(sshd.Options(privateKeyPath: null), new TcpEndpoint("127.0.0.1", 1), FastHealing);
        var faulted = new TaskCompletionSource<SshTunnelException>(TaskCreationOptions.RunContinuationsAsynchronously);
        forward.Faulted += (_, e) => faulted.TrySetResult(e);

        var thrown = await Assert.ThrowsAsync<SshTunnelConfigurationException>(() => forward.WaitUntilUpAsync().WaitAsync(Generous));
        var raised = await faulted.Task.WaitAsync(Generous);

        Assert.Same(thrown, raised);
        Assert.Same(thrown, forward.Fault);
        Assert.Equal(nameof(SshTunnelOptions.PrivateKeyPath), thrown.Setting);
        Assert.Contains("No SSH credential", thrown.Message, StringComparison.Ordinal);
        forward.Dispose();
    }
}
