using Microsoft.Extensions.Diagnostics.HealthChecks;
using ZmqAspire.Tunneling;

namespace ZmqAspire.Client;

/// <summary>The client's view of its SSH session and forward, read by the health check.</summary>
public sealed class TunnelState
{
    private volatile Snapshot _current = new(null, null, "not connected yet");
    private volatile string? _finished;

    /// <summary>Records the live session and forward.</summary>
    /// <param name="session">The SSH session.</param>
    /// <param name="forward">The forward the REQ socket uses.</param>
    public void Connected(SshTunnelSession session, LocalForward forward) => _current = new(session, forward, null);

    /// <summary>Records that there is no usable tunnel, and why.</summary>
    /// <param name="reason">Why, in words for the dashboard.</param>
    public void Down(string reason) => _current = new(null, null, reason);

    /// <summary>Records that the client sent all its requests and closed the tunnel on purpose.</summary>
    /// <param name="summary">What was done, for the dashboard.</param>
    public void Finished(string summary) => _finished = summary;

    /// <summary>Reports the state as a health result.</summary>
    /// <returns>Healthy while the SSH session is up and the forward listens, or after the client finished its requests.</returns>
    public HealthCheckResult ToHealth()
    {
        if (_finished is { } summary)
        {
            return HealthCheckResult.Healthy(summary);
        }

        var s = _current;
        if (s.Session is null || s.Forward is null)
        {
            return HealthCheckResult.Unhealthy($"SSH tunnel down: {s.Reason}");
        }

        var data = new Dictionary<string, object>
        {
            ["ssh.server"] = s.Session.Server.ToString(),
            ["ssh.host_key"] = s.Session.HostKeyFingerprint,
            ["forward.local"] = s.Forward.LocalEndpoint.ToString(),
            ["forward.remote"] = s.Forward.Remote.ToString(),
        };
        if (!s.Session.IsConnected)
        {
            return HealthCheckResult.Unhealthy("SSH session to the bastion is disconnected", data: data);
        }

        return s.Forward.IsListening
            ? HealthCheckResult.Healthy($"forwarding {s.Forward.LocalEndpoint} to {s.Forward.Remote} via {s.Session.Server}", data)
            : HealthCheckResult.Unhealthy("local forward is not listening", data: data);
    }

    private sealed record Snapshot(SshTunnelSession? Session, LocalForward? Forward, string? Reason);
}

/// <summary>Reports <see cref="TunnelState"/> to the health endpoint.</summary>
public sealed class TunnelHealthCheck(TunnelState state) : IHealthCheck
{
    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(state.ToHealth());
}
