using System.Diagnostics;
using Xunit.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using NetMQ;
using ZmqAspire.Tunneling;
using Tunnel = ZmqAspire.Tunneling.SshTunnel;

namespace ZmqAspire.SshTunnel.Tests;

/// <summary>The tunnel's health check reports the SSH session and forward as they are now.</summary>
[Collection(TunnelSshdCollection.Name)]
public sealed class HealthTests(TunnelSshd sshd, ITestOutputHelper output)
{
    private const string CheckName = "ZmqAspire.SshTunnel_server";

    [Fact]
    public async Task HealthyWhileUpUnhealthyWhileTheBastionIsDownHealthyAgainAfter()
    {
        using var server = ReplyServer.Start();
        var builder = TunnelHost.Builder(
            ("ConnectionStrings:server", sshd.ConnectionString(server.Endpoint)),
            // Short backoff, so the test sees the return soon after the bastion's.
            ("ZmqAspire:SshTunnel:server:MaxReconnectDelay", "00:00:01"));
        builder.AddSshTunnel("server");
        using var host = builder.Build();
        await host.StartAsync();
        var tunnel = host.Services.GetRequiredService<Tunnel>();
        var health = host.Services.GetRequiredService<HealthCheckService>();
        Assert.Equal(CheckName, tunnel.HealthCheckName);
        await tunnel.WaitUntilUpAsync(TunnelHost.Patience);

        var up = await CheckAsync(health);
        Assert.Equal(HealthStatus.Healthy, up.Status);
        Assert.Equal(tunnel.LocalEndpoint.ToString(), up.Data["forward.local"]);
        Assert.Equal(server.Endpoint, up.Data["forward.remote"]);
        Assert.Equal(sshd.HostKeyFingerprint, up.Data["ssh.host_key"]);
        Assert.Equal(sshd.SshServer, up.Data["ssh.server"]);

        var clock = Stopwatch.StartNew();
        var down = TimeSpan.FromSeconds(6);
        var restart = Task.Run(() => sshd.Restart(down));
        var unhealthy = await WaitForAsync(health, HealthStatus.Unhealthy, down);
        output.WriteLine($"Unhealthy {clock.Elapsed.TotalSeconds:0.00} s after sshd was stopped: {unhealthy.Description}");
        // The health check polls the session itself; the state follows with the forward's event.
        await TunnelHost.WaitUntilAsync(() => tunnel.State.Status == SshTunnelStatus.Connecting, down);
        await restart;

        var healthy = await WaitForAsync(health, HealthStatus.Healthy, TunnelHost.Patience);
        output.WriteLine($"Healthy again {clock.Elapsed.TotalSeconds:0.00} s after sshd was stopped ({down.TotalSeconds} s down): {healthy.Description}");
        Assert.Equal(up.Data["forward.local"], healthy.Data["forward.local"]);
        Assert.Equal(2, healthy.Data["ssh.sessions"]);
        Assert.Equal(server.ExpectedGreeting, await TunnelHost.RequestAsync(tunnel.LocalEndpoint));
        await host.StopAsync();
    }

    [Fact]
    public async Task DegradedWhileTheBastionRefusesATargetAndHealthyOnceItOpens()
    {
        // A port nothing listens on yet: sshd refuses the channel (connect refused), then the server starts there.
        var port = LoopbackPort.Free();
        var target = $"tcp://127.0.0.1:{port}";
        var builder = TunnelHost.Builder(
            ("ConnectionStrings:server", sshd.ConnectionString(target)),
            ("ZmqAspire:SshTunnel:server:MaxReconnectDelay", "00:00:01"));
        builder.AddSshTunnel("server");
        using var host = builder.Build();
        await host.StartAsync();
        var tunnel = host.Services.GetRequiredService<Tunnel>();
        var health = host.Services.GetRequiredService<HealthCheckService>();
        await tunnel.WaitUntilUpAsync(TunnelHost.Patience);

        using var probe = new NetMQ.Sockets.RequestSocket();
        probe.Options.Linger = TimeSpan.Zero;
        probe.Connect(tunnel.LocalEndpoint.ToString());
        probe.SendFrame("Hello");
        var degraded = await WaitForAsync(health, HealthStatus.Degraded, TunnelHost.Patience);
        Assert.Equal(target, degraded.Data["forward.refused"]);
        Assert.Contains("refuses channels to " + target, degraded.Description, StringComparison.Ordinal);
        Assert.True(degraded.Data.ContainsKey("forward.last_failure_at"));

        using var server = ReplyServerAt.Start(port);
        var healthy = await WaitForAsync(health, HealthStatus.Healthy, TunnelHost.Patience);
        Assert.False(healthy.Data.ContainsKey("forward.refused"));
        // History stays as data, not as a status.
        Assert.True((long)healthy.Data["forward.failures"] >= 1);
        Assert.True(healthy.Data.ContainsKey("forward.last_failure_at"));
        Assert.Equal("World", await TunnelHost.RequestAsync(tunnel.LocalEndpoint));
        await host.StopAsync();
    }

    private static async Task<HealthReportEntry> CheckAsync(HealthCheckService health) =>
        (await health.CheckHealthAsync(r => r.Name == CheckName)).Entries[CheckName];

    /// <summary>
    /// Polls the check until it reports <paramref name="status"/> (and, for Degraded, the failure's
    /// time: the refusal and the failure event that records it reach the health a moment apart).
    /// </summary>
    private static async Task<HealthReportEntry> WaitForAsync(HealthCheckService health, HealthStatus status, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var entry = await CheckAsync(health);
            if (entry.Status == status && (status != HealthStatus.Degraded || entry.Data.ContainsKey("forward.last_failure_at")))
            {
                return entry;
            }

            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"{CheckName} was not {status} within {timeout.TotalSeconds} s; last: {entry.Status} {entry.Description}");
            }

            await Task.Delay(50);
        }
    }
}
