using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using ZmqAspire.Tunneling;
using Tunnel = ZmqAspire.Tunneling.SshTunnel;

namespace ZmqAspire.SshTunnel.Tests;

/// <summary>A bastion whose host key is not the pinned one is refused, and the tunnel says why.</summary>
[Collection(TunnelSshdCollection.Name)]
public sealed class HostKeyTests(TunnelSshd sshd)
{
    [Fact]
    public async Task AnUnpinnedHostKeyIsRefusedWithTheReasonAndNotRetried()
    {
        var builder = TunnelHost.Builder(("ConnectionStrings:server", sshd.ConnectionString("tcp://127.0.0.1:5556", hostKeyFingerprint: sshd.OtherHostKeyFingerprint)));
        builder.AddSshTunnel("server");
        using var host = builder.Build();
        await host.StartAsync();
        var tunnel = host.Services.GetRequiredService<Tunnel>();

        var refused = await Assert.ThrowsAsync<SshHostKeyRejectedException>(() => tunnel.WaitUntilUpAsync(TunnelHost.Patience));

        Assert.Equal(HostKeyRejectionReason.Changed, refused.Reason);
        Assert.Equal(sshd.HostKeyFingerprint, refused.SeenFingerprint);
        Assert.Equal([sshd.OtherHostKeyFingerprint], refused.ExpectedFingerprints);
        Assert.Contains("does not match", refused.Message, StringComparison.Ordinal);
        Assert.Equal(SshTunnelStatus.Faulted, tunnel.State.Status);
        Assert.Same(refused, tunnel.State.Error);
        Assert.Equal(0, tunnel.State.SessionCount);

        var health = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        var entry = health.Entries["ZmqAspire.SshTunnel_server"];
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Contains("does not match", entry.Description, StringComparison.Ordinal);
        Assert.Same(refused, entry.Exception);
        await host.StopAsync();
    }
}
