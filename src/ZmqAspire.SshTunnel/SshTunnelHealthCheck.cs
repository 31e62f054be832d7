using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Reports the tunnel's <see cref="SshTunnel.Health"/> (the library's <see cref="TunnelHealth"/>):
/// Unhealthy while there is no usable SSH session (logging in, the session lost or not answering
/// keep-alive probes, or given up), Degraded only while something fails now (requests the service
/// reported failing, or the bastion refusing channels to a remote endpoint), Healthy otherwise.
/// Past failures are data with their time (<c>*.last_failure_at</c>), not a status. Adds the
/// tunnel's status and session count. Never reports a secret.
/// </summary>
internal sealed class SshTunnelHealthCheck(SshTunnel tunnel) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var result = tunnel.Health.Check();
        var state = tunnel.State;
        var data = new Dictionary<string, object>(result.Data)
        {
            ["ssh.status"] = state.Status.ToString(),
            ["ssh.sessions"] = state.SessionCount,
        };
        return Task.FromResult(new HealthCheckResult(result.Status, result.Description, result.Exception ?? (state.Status == SshTunnelStatus.Up ? null : state.Error), data));
    }
}
