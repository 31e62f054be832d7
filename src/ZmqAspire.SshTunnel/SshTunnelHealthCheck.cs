using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Reports what is true of the tunnel now: Unhealthy while there is no SSH session (logging in,
/// the session lost, or given up), Degraded while the bastion refuses channels to a remote
/// endpoint (until one opens again), Healthy otherwise. Past forward failures are data
/// (<c>forward.last_failure_at</c>), not a status. Never reports a secret.
/// </summary>
internal sealed class SshTunnelHealthCheck(SshTunnel tunnel) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var state = tunnel.State;
        var data = new Dictionary<string, object>
        {
            ["ssh.server"] = tunnel.Server.ToString(),
            ["ssh.status"] = state.Status.ToString(),
            ["ssh.sessions"] = state.SessionCount,
            ["forward.local"] = string.Join(", ", tunnel.LocalEndpoints),
            ["forward.remote"] = string.Join(", ", tunnel.RemoteEndpoints),
            ["forward.failures"] = state.ForwardFailures,
        };
        if (state.HostKeyFingerprint is { } hostKey)
        {
            data["ssh.host_key"] = hostKey;
            data["ssh.connected_since"] = state.Since.ToString("O", CultureInfo.InvariantCulture);
        }

        if (state.RefusedTargets.Count > 0)
        {
            data["forward.refused"] = string.Join(", ", state.RefusedTargets);
        }

        if (state.LastForwardFailureAt is { } at)
        {
            data["forward.last_failure_at"] = at.ToString("O", CultureInfo.InvariantCulture);
            data["forward.last_failure"] = state.LastForwardFailure ?? string.Empty;
        }

        HealthCheckResult result;
        if (state.Status != SshTunnelStatus.Up)
        {
            result = HealthCheckResult.Unhealthy($"SSH tunnel {tunnel.Name} {state.Status.ToString().ToLowerInvariant()}: {state.Description}", state.Error, data);
        }
        else if (!tunnel.IsUp)
        {
            // Between the session's death and the forward noticing it (its liveness poll).
            result = HealthCheckResult.Unhealthy($"SSH tunnel {tunnel.Name}: the session to {tunnel.Server} is disconnected; logging in again", data: data);
        }
        else if (state.RefusedTargets.Count > 0)
        {
            result = HealthCheckResult.Degraded($"SSH tunnel {tunnel.Name} up, but {tunnel.Server} refuses channels to {data["forward.refused"]} now", data: data);
        }
        else
        {
            result = HealthCheckResult.Healthy($"SSH tunnel {tunnel.Name}: {state.Description}", data);
        }

        return Task.FromResult(result);
    }
}
