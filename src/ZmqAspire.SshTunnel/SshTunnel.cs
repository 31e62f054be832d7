using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace ZmqAspire.Tunneling;

/// <summary>
/// One SSH tunnel that <c>AddSshTunnel(name)</c> keeps up for the service: a
/// <see cref="SelfHealingForward"/> with one local endpoint per remote endpoint over one SSH
/// session to the bastion, logged in again with backoff whenever the session dies, on the same
/// local ports. Connect NetMQ sockets to <see cref="LocalEndpoints"/>; they reconnect by
/// themselves across SSH reconnects.
/// </summary>
/// <remarks>
/// Resolve it from DI (<c>GetRequiredService&lt;SshTunnel&gt;()</c>, or
/// <c>[FromKeyedServices("name")]</c> after <c>AddKeyedSshTunnel</c>). Its local ports open, and
/// logging in starts, when it is first resolved (at the latest when the host starts); it closes
/// when the host stops. Thread-safe.
/// </remarks>
public sealed partial class SshTunnel : IAsyncDisposable
{
    private readonly SelfHealingForward _forward;
    private readonly SshTunnelInstruments _instruments;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly object _lock = new();
    private SshTunnelState _state;
    private string? _lastRetryReason;
    private int _disposed;

    internal SshTunnel(SshTunnelPlan plan, string? healthCheckName, SshTunnelInstruments instruments, ILogger logger, TimeProvider time)
    {
        Name = plan.Name;
        HealthCheckName = healthCheckName;
        Server = plan.Options.Server;
        _instruments = instruments;
        _logger = logger;
        _time = time;
        _state = new(SshTunnelStatus.Connecting, $"logging in to {Server}", time.GetUtcNow());
        plan.Healing.Login = ct => ConnectOnceAsync(plan.Options, ct);
        _forward = SelfHealingForward.Start(plan.Options, plan.Remotes, plan.Healing);
        Health = new TunnelHealth(time);
        Health.Attach(_forward);
        LogStarted(Name, string.Join(", ", LocalEndpoints), string.Join(", ", RemoteEndpoints), Server.ToString());
        _forward.Connected += (_, e) => OnConnected(e.Session);
        _forward.Disconnected += (_, e) => OnDisconnected(e.Reason, e.ReconnectRequested);
        _forward.ConnectRetry += (_, e) => OnConnectRetry(e.Error, e.RetryDelay);
        _forward.ForwardFailed += (_, e) => OnForwardFailed(e.Error);
        _forward.ForwardRecovered += (_, e) => OnForwardRecovered(e.Remote);
        _forward.Faulted += (_, e) => OnFaulted(e.Error);
        // The forward logs in from the moment it starts: an event raised before the handlers
        // above were attached is caught up on here (the handlers ignore a repeat).
        if (_forward.Fault is { } fault)
        {
            OnFaulted(fault);
            Health.Down(fault.Message);
        }
        else if (_forward.Session is { } session && _forward.IsUp)
        {
            OnConnected(session);
            Health.Connected(session, _forward);
        }
    }

    /// <summary>
    /// Gets what the tunnel's health check reports (<see cref="HealthCheckName"/>): the session and
    /// the forward now, and the requests sent through the tunnel as the service reports them with
    /// <see cref="TunnelHealth.RequestSucceeded"/> / <see cref="TunnelHealth.RequestFailed"/> /
    /// <see cref="TunnelHealth.RequestMoved"/> (Degraded only while requests fail now).
    /// </summary>
    public TunnelHealth Health { get; }

    /// <summary>Gets how many SSH sessions have been up so far, polled from the forward (1 after the first login; each reconnect adds one).</summary>
    public int SessionCount => _forward.SessionCount;

    /// <summary>Gets the error that stopped the tunnel for good, if any (<see cref="SshTunnelStatus.Faulted"/>).</summary>
    public SshTunnelException? Fault => _forward.Fault;

    /// <summary>
    /// Tells whether the bastion refuses channels to the remote endpoint at <paramref name="index"/>
    /// in <see cref="RemoteEndpoints"/> now (SSH_MSG_CHANNEL_OPEN_FAILURE, RFC 4254 section 5.1),
    /// asked of the forward itself rather than of the last <see cref="StateChanged"/>.
    /// </summary>
    /// <param name="index">The index in <see cref="RemoteEndpoints"/>.</param>
    /// <returns><see langword="true"/> while the target is refused.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not an index of <see cref="RemoteEndpoints"/>.</exception>
    public bool IsRefused(int index) => _forward.IsRefused(index);

    /// <summary>
    /// Raised with the new state whenever <see cref="State"/> changes: on the forward's event
    /// thread (a thread-pool thread), or on the thread of a <see cref="WaitUntilUpAsync"/> that
    /// saw the change first. Each change is raised once; two may be raised at the same time on
    /// different threads, so compare <see cref="SshTunnelState.Since"/> and
    /// <see cref="SshTunnelState.SessionCount"/> rather than rely on the order of calls.
    /// </summary>
    public event EventHandler<SshTunnelStateChangedEventArgs>? StateChanged;

    /// <summary>Gets the connection name given to <c>AddSshTunnel</c> (the key of <c>ConnectionStrings:{name}</c>).</summary>
    public string Name { get; }

    /// <summary>Gets the name of the tunnel's health check, <c>ZmqAspire.SshTunnel_{name}</c>; <see langword="null"/> when <see cref="SshTunnelSettings.DisableHealthChecks"/> is set.</summary>
    public string? HealthCheckName { get; }

    /// <summary>Gets the bastion, <c>user@host:port</c>.</summary>
    public SshServerAddress Server { get; }

    /// <summary>Gets the remote endpoints as the bastion sees them, in the order configured.</summary>
    public IReadOnlyList<TcpEndpoint> RemoteEndpoints => _forward.Remotes;

    /// <summary>
    /// Gets the endpoints to connect sockets to, <c>tcp://127.0.0.1:port</c>, one per
    /// <see cref="RemoteEndpoints"/> entry in the same order; fixed for the tunnel's life (the
    /// same ports across reconnects).
    /// </summary>
    public IReadOnlyList<TcpEndpoint> LocalEndpoints => _forward.LocalEndpoints;

    /// <summary>Gets the first of <see cref="LocalEndpoints"/>: the one to use when there is one remote endpoint.</summary>
    public TcpEndpoint LocalEndpoint => _forward.LocalEndpoint;

    /// <summary>Gets the current state.</summary>
    public SshTunnelState State => Volatile.Read(ref _state);

    /// <summary>Gets a value indicating whether a session is up and every local endpoint relays through it, now (polled from the session, not from the last event).</summary>
    public bool IsUp => _forward.IsUp;

    /// <summary>Waits until the tunnel is up, at most <paramref name="timeout"/>.</summary>
    /// <param name="timeout">How long to wait; positive, or <see cref="Timeout.InfiniteTimeSpan"/>.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when a session is up.</returns>
    /// <exception cref="TimeoutException">No session was up in time; the message says why the last
    /// login failed (for example that the bastion is unreachable), and the tunnel keeps trying.</exception>
    /// <exception cref="SshTunnelException">The tunnel gave up (<see cref="SshTunnelStatus.Faulted"/>): for
    /// example an <see cref="SshHostKeyRejectedException"/> saying why the host key was refused, or an
    /// <see cref="SshTunnelAuthenticationException"/>.</exception>
    /// <exception cref="ObjectDisposedException">The tunnel was stopped.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task WaitUntilUpAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        SshTunnelSession session;
        try
        {
            session = await _forward.WaitUntilUpAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (SshTunnelException) when (_forward.Fault is { } fault)
        {
            OnFaulted(fault);
            throw;
        }

        // The forward's events come on their own thread, maybe after this returns: the state the
        // caller reads next must say what this method just saw.
        OnConnected(session);
        if (!Health.IsUp)
        {
            Health.Connected(session, _forward);
        }
    }

    /// <summary>Drops the current SSH session and logs in again; the local endpoints stay.</summary>
    public void Reconnect() => _forward.Reconnect();

    /// <summary>Closes the local endpoints and the session; the host does this when it stops.</summary>
    /// <returns>A task that completes when they are closed.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _forward.DisposeAsync().ConfigureAwait(false);
        Health.Down("stopped");
        Update(s => s with { Status = SshTunnelStatus.Stopped, Description = "stopped", Since = _time.GetUtcNow(), HostKeyFingerprint = null, Error = null });
        LogStopped(Name);
    }

    private async Task<SshTunnelSession> ConnectOnceAsync(SshTunnelOptions options, CancellationToken cancellationToken)
    {
        using var activity = _instruments.StartConnect();
        try
        {
            var session = await SshTunnelSession.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
            activity?.SetTag(SshTunnelTelemetry.HostKey, session.HostKeyFingerprint);
            _instruments.Connected();
            return session;
        }
        catch (SshTunnelException ex)
        {
            var errorType = ex.GetType().FullName!;
            activity?.SetTag("error.type", errorType);
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            activity?.AddException(ex);
            _instruments.ConnectFailed(errorType);
            throw;
        }
    }

    private void OnConnected(SshTunnelSession session)
    {
        var count = _forward.SessionCount;
        var description = $"forwarding {Describe()} via {session.Server}";
        // Recorded once per session: from the forward's event, or first by a catch-up.
        if (!Update(s => s.Status == SshTunnelStatus.Up && s.SessionCount >= count ? null : s with
        {
            Status = SshTunnelStatus.Up,
            Description = description,
            Since = _time.GetUtcNow(),
            HostKeyFingerprint = session.HostKeyFingerprint,
            SessionCount = count,
            Error = null,
        }))
        {
            return;
        }

        _lastRetryReason = null;
        LogUp(Name, session.ToString(), Describe());
    }

    private void OnDisconnected(string reason, bool asked)
    {
        _instruments.Disconnected(asked ? "reconnect" : "error");
        Update(s => s with
        {
            Status = SshTunnelStatus.Connecting,
            Description = asked ? "logging in again, as asked" : $"session lost ({reason}); logging in again",
            Since = _time.GetUtcNow(),
            HostKeyFingerprint = null,
        });
        LogLost(Name, asked ? "reconnect asked for" : reason);
    }

    private void OnConnectRetry(SshServerUnreachableException error, TimeSpan delay)
    {
        Update(s => s with { Status = SshTunnelStatus.Connecting, Description = $"cannot log in: {error.Message}; retrying", Error = error });
        // One warning per outage (and per new reason); the same failure again on the backoff is not news.
        if (error.Message == _lastRetryReason)
        {
            LogRetryAgain(Name, delay.TotalSeconds, error.Message);
        }
        else
        {
            _lastRetryReason = error.Message;
            LogRetry(Name, delay.TotalSeconds, error.Message);
        }
    }

    private void OnForwardFailed(SshForwardException error)
    {
        _instruments.ForwardFailed(error.InnerException?.GetType().FullName ?? error.GetType().FullName!);
        // Whether a target is refused is the forward's to say (its gate counted the refusal before
        // raising this); a relay error on a target that opens is not a refusal.
        Update(s => s with
        {
            RefusedTargets = Refused(),
            ForwardFailures = s.ForwardFailures + 1,
            LastForwardFailureAt = _time.GetUtcNow(),
            LastForwardFailure = error.Message,
        });
        LogForwardFailed(Name, error.Message);
    }

    private void OnForwardRecovered(TcpEndpoint target)
    {
        Update(s => s with { RefusedTargets = Refused() });
        LogForwardRecovered(Name, target.ToString());
    }

    private void OnFaulted(SshTunnelException error)
    {
        // Host key, credential and key-file errors are not retried: they need a person.
        // Recorded once: from the forward's event, or first by a catch-up.
        if (!Update(s => s.Status == SshTunnelStatus.Faulted ? null : s with
        {
            Status = SshTunnelStatus.Faulted,
            Description = $"gave up: {error.Message}",
            Since = _time.GetUtcNow(),
            HostKeyFingerprint = null,
            Error = error,
        }))
        {
            return;
        }

        LogFaulted(error, Name, error.Message);
    }

    private IReadOnlyList<TcpEndpoint> Refused() =>
        [.. RemoteEndpoints.Where((_, index) => _forward.IsRefused(index))];

    private string Describe() =>
        string.Join(", ", LocalEndpoints.Zip(RemoteEndpoints, (local, remote) => $"{local} -> {remote}"));

    /// <summary>Applies a change to the state and raises <see cref="StateChanged"/>; a change that returns null (nothing new) is skipped.</summary>
    /// <returns>Whether the state changed.</returns>
    private bool Update(Func<SshTunnelState, SshTunnelState?> change)
    {
        SshTunnelState? next;
        lock (_lock)
        {
            // After the stop, nothing changes (an event that raced it).
            next = _state.Status == SshTunnelStatus.Stopped ? null : change(_state);
            if (next is null)
            {
                return false;
            }

            Volatile.Write(ref _state, next);
        }

        StateChanged?.Invoke(this, new SshTunnelStateChangedEventArgs(next));
        return true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "SSH tunnel {Tunnel}: local endpoints {Local} open for {Remote} via {Server}; logging in")]
    private partial void LogStarted(string tunnel, string local, string remote, string server);

    // The session names the server, its host key and the fast path in use (the trimmed images' test reads that).
    [LoggerMessage(Level = LogLevel.Information, Message = "SSH tunnel {Tunnel} up: {Session}, {Forwards}")]
    private partial void LogUp(string tunnel, string session, string forwards);

    [LoggerMessage(Level = LogLevel.Warning, Message = "SSH tunnel {Tunnel}: session closed ({Reason}); logging in again")]
    private partial void LogLost(string tunnel, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "SSH tunnel {Tunnel}: login failed: {Reason}; retrying with backoff (next in {DelaySeconds:0.0} s; further attempts failing the same way are logged at Debug)")]
    private partial void LogRetry(string tunnel, double delaySeconds, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "SSH tunnel {Tunnel}: login failed again, retrying in {DelaySeconds:0.0} s: {Reason}")]
    private partial void LogRetryAgain(string tunnel, double delaySeconds, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "SSH tunnel {Tunnel}: forward failed: {Reason}; new connections are held and retried with backoff")]
    private partial void LogForwardFailed(string tunnel, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "SSH tunnel {Tunnel}: forward to {Target} relays again")]
    private partial void LogForwardRecovered(string tunnel, string target);

    [LoggerMessage(Level = LogLevel.Critical, Message = "SSH tunnel {Tunnel} cannot be established, not retrying: {Reason}")]
    private partial void LogFaulted(Exception exception, string tunnel, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "SSH tunnel {Tunnel} stopped")]
    private partial void LogStopped(string tunnel);
}
