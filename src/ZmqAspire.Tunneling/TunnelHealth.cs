using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ZmqAspire.Tunneling;

/// <summary>
/// A health check (ASP.NET Core's <see cref="IHealthCheck"/>) that says what is true of a
/// <see cref="SelfHealingForward"/> now: <b>Unhealthy</b> while there is no usable SSH session
/// (none, or one whose server stopped answering keep-alive probes), <b>Degraded</b> only while
/// something fails now (the last request got no reply and none has been answered since, or the
/// SSH server refuses channels to a target now: <see cref="SelfHealingForward.IsRefused"/>), <b>Healthy</b>
/// otherwise. Past failures never set the status: they are reported as data with their time
/// (<c>*.failures</c> counts, <c>*.last_failure_at</c> in ISO 8601 UTC, <c>*.last_failure</c>).
/// </summary>
/// <remarks>
/// Call <see cref="Attach"/> with the forward, and <see cref="RequestSucceeded"/> /
/// <see cref="RequestFailed"/> with the outcome of each request sent through it (a request that
/// failed on one replica and was answered by another is a success, optionally counted with
/// <see cref="RequestMoved"/>). Thread-safe; <see cref="Check"/> never blocks.
/// </remarks>
public sealed class TunnelHealth : IHealthCheck
{
    private readonly TimeProvider _time;
    private volatile Snapshot _current = new(null, null, "not connected yet", default);
    private volatile Failure? _lastRequestFailure;
    private volatile Failure? _lastForwardFailure;
    private volatile Failure? _lastDisconnect;
    private volatile bool _requestsFailing;
    private long _requestFailures;
    private long _requestsMoved;
    private long _forwardFailures;
    private long _lastSuccessTicks;

    /// <summary>Creates the check.</summary>
    /// <param name="time">The clock for the times reported; default the system clock.</param>
    public TunnelHealth(TimeProvider? time = null) => _time = time ?? TimeProvider.System;

    /// <summary>Gets a value indicating whether a session is connected and every local port relays through it.</summary>
    public bool IsUp => _current is { Session.IsConnected: true, Forward.IsUp: true };

    /// <summary>Follows <paramref name="forward"/>'s events: sessions up and lost, logins retried, targets refused and back, giving up.</summary>
    /// <param name="forward">The forward to report on.</param>
    public void Attach(SelfHealingForward forward)
    {
        ArgumentNullException.ThrowIfNull(forward);
        forward.Connected += (_, e) => Connected(e.Session, forward);
        forward.Disconnected += (_, e) => Down(e.ReconnectRequested ? "reconnecting, as asked" : e.Reason, disconnect: true);
        forward.ConnectRetry += (_, e) => Down(e.Error.Message, disconnect: false);
        forward.Faulted += (_, e) => Down(e.Error.Message, disconnect: true);
        forward.ForwardFailed += (_, e) => ForwardFailed(e.Error);
    }

    /// <summary>Records that a request was answered: requests are no longer failing.</summary>
    public void RequestSucceeded()
    {
        Interlocked.Exchange(ref _lastSuccessTicks, _time.GetUtcNow().UtcTicks);
        _requestsFailing = false;
    }

    /// <summary>Records that a request got no reply after all its attempts: Degraded until one is answered.</summary>
    /// <param name="reason">Why, in words.</param>
    public void RequestFailed(string reason)
    {
        Interlocked.Increment(ref _requestFailures);
        _lastRequestFailure = new(_time.GetUtcNow(), reason);
        _requestsFailing = true;
    }

    /// <summary>Records that a request was moved to another target after one did not answer (data only).</summary>
    public void RequestMoved() => Interlocked.Increment(ref _requestsMoved);

    /// <summary>Records a failure on the forward (done by <see cref="Attach"/>): data only; whether a target is refused now is asked of the forward (<see cref="SelfHealingForward.IsRefused"/>).</summary>
    /// <param name="error">The failure, as <see cref="SelfHealingForward.ForwardFailed"/> gives it.</param>
    public void ForwardFailed(SshForwardException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        Interlocked.Increment(ref _forwardFailures);
        _lastForwardFailure = new(_time.GetUtcNow(), error.Message);
    }

    /// <summary>Reports the state now.</summary>
    /// <returns>The result, with its data (all values strings or numbers).</returns>
    public HealthCheckResult Check()
    {
        var s = _current;
        var data = new Dictionary<string, object>
        {
            ["requests.failures"] = Interlocked.Read(ref _requestFailures),
            ["requests.moved"] = Interlocked.Read(ref _requestsMoved),
            ["forward.failures"] = Interlocked.Read(ref _forwardFailures),
        };
        AddFailure(data, "requests", _lastRequestFailure);
        AddFailure(data, "forward", _lastForwardFailure);
        AddFailure(data, "ssh.disconnect", _lastDisconnect);
        if (Interlocked.Read(ref _lastSuccessTicks) is > 0 and var ticks)
        {
            data["requests.last_success_at"] = Stamp(new DateTimeOffset(ticks, TimeSpan.Zero));
        }

        if (s.Session is null || s.Forward is null)
        {
            return HealthCheckResult.Unhealthy($"SSH tunnel down: {s.Reason}", data: data);
        }

        data["ssh.server"] = s.Session.Server.ToString();
        data["ssh.host_key"] = s.Session.HostKeyFingerprint;
        data["ssh.connected_since"] = Stamp(s.Since);
        data["forward.local"] = string.Join(", ", s.Forward.LocalEndpoints);
        data["forward.remote"] = string.Join(", ", s.Forward.Remotes);
        if (!s.Session.IsConnected)
        {
            return HealthCheckResult.Unhealthy("SSH session to the bastion is disconnected or not answering", data: data);
        }

        if (!s.Forward.IsUp)
        {
            return HealthCheckResult.Unhealthy("the forward's ports are not relaying through the session", data: data);
        }

        if (_requestsFailing && _lastRequestFailure is { } failing)
        {
            return HealthCheckResult.Degraded($"tunnel up, but requests are failing: {failing.Reason}", data: data);
        }

        var refused = Enumerable.Range(0, s.Forward.Remotes.Count).Where(s.Forward.IsRefused).Select(i => s.Forward.Remotes[i].ToString()).ToList();
        if (refused.Count > 0)
        {
            var targets = string.Join(", ", refused);
            data["forward.refused"] = targets;
            return HealthCheckResult.Degraded(
                $"the bastion refuses channels to {targets} now ({refused.Count} of {s.Forward.Remotes.Count} targets){(_lastForwardFailure is { } last ? $": {last.Reason}" : string.Empty)}", data: data);
        }

        return HealthCheckResult.Healthy($"forwarding {data["forward.local"]} to {data["forward.remote"]} via {s.Session.Server}", data);
    }

    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) => Task.FromResult(Check());

    /// <summary>Records the live session and its forward (done by <see cref="Attach"/>).</summary>
    /// <param name="session">The session.</param>
    /// <param name="forward">The forward it carries.</param>
    public void Connected(SshTunnelSession session, SelfHealingForward forward) => _current = new(session, forward, null, _time.GetUtcNow());

    /// <summary>Records that there is no usable session, and why (done by <see cref="Attach"/>).</summary>
    /// <param name="reason">Why, in words.</param>
    /// <param name="disconnect">Whether a session was lost (recorded as <c>ssh.disconnect.last_failure</c>), rather than a login that failed again.</param>
    public void Down(string reason, bool disconnect = true)
    {
        if (disconnect && _current.Session is not null)
        {
            _lastDisconnect = new(_time.GetUtcNow(), reason);
        }

        _current = new(null, null, reason, default);
    }

    private static void AddFailure(Dictionary<string, object> data, string prefix, Failure? failure)
    {
        if (failure is { } f)
        {
            data[$"{prefix}.last_failure_at"] = Stamp(f.At);
            data[$"{prefix}.last_failure"] = f.Reason;
        }
    }

    private static string Stamp(DateTimeOffset at) => at.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);

    private sealed record Failure(DateTimeOffset At, string Reason);

    private sealed record Snapshot(SshTunnelSession? Session, SelfHealingForward? Forward, string? Reason, DateTimeOffset Since);
}
