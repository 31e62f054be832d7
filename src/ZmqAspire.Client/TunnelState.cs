using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using ZmqAspire.Tunneling;

namespace ZmqAspire.Client;

/// <summary>The client's view of its SSH session, forward and last request, read by the health check.</summary>
/// <param name="time">The clock (for when the session came up and when a forward last failed).</param>
public sealed class TunnelState(TimeProvider time)
{
    /// <summary>How long a forward failure keeps the client Degraded.</summary>
    public static readonly TimeSpan ForwardFailureWindow = TimeSpan.FromSeconds(30);

    private volatile Snapshot _current = new(null, null, "not connected yet", default);
    private volatile string? _lastRequestError;
    private long _forwardFailures;
    private volatile ForwardFailure? _lastForwardFailure;
    private volatile bool _forwardDown;

    /// <summary>Creates the state on the system clock.</summary>
    public TunnelState()
        : this(TimeProvider.System)
    {
    }

    /// <summary>Records the live session and its forwards.</summary>
    /// <param name="session">The SSH session.</param>
    /// <param name="forward">The forward the REQ sockets use, one local port per server replica (the ports outlive sessions).</param>
    public void Connected(SshTunnelSession session, SelfHealingForward forward) => _current = new(session, forward, null, time.GetUtcNow());

    /// <summary>Records that there is no usable tunnel, and why.</summary>
    /// <param name="reason">Why, in words for the dashboard.</param>
    public void Down(string reason) => _current = new(null, null, reason, default);

    /// <summary>Records a failure reported on the forward (a target the bastion cannot reach: once per outage).</summary>
    /// <param name="reason">What failed.</param>
    public void ForwardFailed(string reason)
    {
        Interlocked.Increment(ref _forwardFailures);
        _lastForwardFailure = new(time.GetUtcNow(), reason);
        _forwardDown = true;
    }

    /// <summary>Records that a target that was refused is reachable again.</summary>
    public void ForwardRecovered() => _forwardDown = false;

    /// <summary>Records that a request was answered.</summary>
    public void RequestSucceeded() => _lastRequestError = null;

    /// <summary>Records that the last request got no answer.</summary>
    /// <param name="reason">Why.</param>
    public void RequestFailed(string reason) => _lastRequestError = reason;

    /// <summary>Gets a value indicating whether the session is connected and every forward listens.</summary>
    public bool IsUp => _current is { Session.IsConnected: true, Forward.IsUp: true };

    /// <summary>Reports the state as a health result.</summary>
    /// <returns>
    /// Unhealthy while there is no SSH session or a forward does not listen; Degraded while the
    /// last request went unanswered, while a target stays refused (failure reported, no recovery
    /// since) or for <see cref="ForwardFailureWindow"/> after a forward failed; Healthy otherwise.
    /// </returns>
    public HealthCheckResult ToHealth()
    {
        var s = _current;
        var data = new Dictionary<string, object>
        {
            ["forward.failures"] = Interlocked.Read(ref _forwardFailures),
        };
        var lastFailure = _lastForwardFailure;
        if (lastFailure is { } f)
        {
            data["forward.last_failure"] = $"{f.At.ToString("O", CultureInfo.InvariantCulture)} {f.Reason}";
        }

        if (s.Session is null || s.Forward is null)
        {
            return HealthCheckResult.Unhealthy($"SSH tunnel down: {s.Reason}", data: data);
        }

        data["ssh.server"] = s.Session.Server.ToString();
        data["ssh.host_key"] = s.Session.HostKeyFingerprint;
        data["ssh.connected_since"] = s.Since.ToString("O", CultureInfo.InvariantCulture);
        data["forward.local"] = string.Join(", ", s.Forward.LocalEndpoints);
        data["forward.remote"] = string.Join(", ", s.Forward.Remotes);
        if (!s.Session.IsConnected)
        {
            return HealthCheckResult.Unhealthy("SSH session to the bastion is disconnected", data: data);
        }

        if (!s.Forward.IsUp)
        {
            return HealthCheckResult.Unhealthy("the forward's ports are not relaying through the session", data: data);
        }

        if (_lastRequestError is { } error)
        {
            return HealthCheckResult.Degraded($"tunnel up, but the last request failed: {error}", data: data);
        }

        return lastFailure is { } recent && (_forwardDown || time.GetUtcNow() - recent.At < ForwardFailureWindow)
            ? HealthCheckResult.Degraded($"forward failed recently: {recent.Reason}", data: data)
            : HealthCheckResult.Healthy($"forwarding {data["forward.local"]} to {data["forward.remote"]} via {s.Session.Server}", data);
    }

    private sealed record ForwardFailure(DateTimeOffset At, string Reason);

    private sealed record Snapshot(SshTunnelSession? Session, SelfHealingForward? Forward, string? Reason, DateTimeOffset Since);
}

/// <summary>Reports <see cref="TunnelState"/> to the health endpoint.</summary>
public sealed class TunnelHealthCheck(TunnelState state) : IHealthCheck
{
    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(state.ToHealth());
}
