using Polly;
using Polly.Retry;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace ZmqAspire.Tunneling;

/// <summary>
/// A local forward that survives its SSH session: what autossh adds to <c>ssh -L</c>. It keeps
/// one listener on <c>127.0.0.1</c> (a port the OS picks, fixed for the forward's life), logs in
/// to the SSH server, and when the session dies logs in again with exponential backoff and jitter
/// and carries on relaying on the SAME local port, so a NetMQ socket connected to
/// <see cref="LocalEndpoint"/> reconnects by itself.
/// </summary>
/// <remarks>
/// <para>
/// A session counts as dead when SSH.NET reports an error on it or the server ends it
/// (SSH_MSG_DISCONNECT, RFC 4253 section 11.1: <see cref="Disconnected"/> gives the server's
/// reason code and description), when it is no longer connected
/// (polled every <see cref="SelfHealingForwardOptions.LivenessPoll"/>), when the server leaves a
/// keep-alive probe unanswered (<see cref="SshTunnelOptions.ServerAliveInterval"/> ×
/// <see cref="SshTunnelOptions.ServerAliveCountMax"/>, also while idle), or, only with that
/// probe off, when opening a channel for a new connection times out (a bastion that stopped
/// answering; SSH.NET's own keep-alives get no reply and so reveal nothing). With the probe on, a
/// channel open left unanswered for <see cref="SshTunnelOptions.ConnectTimeout"/> marks its
/// target unreachable (as a refusal does), not the session dead: OpenSSH's sshd answers the open
/// only when its connect to the target ends, which to a host gone from the network takes minutes.
/// </para>
/// <para>
/// During an outage connections are held, not closed at once (which NetMQ takes for a
/// successful connect, resetting its reconnect backoff: a reconnect storm). Connections accepted
/// while there is no session are parked and relayed when a session is up again; while the
/// target refuses channels, new connections wait until the next try on a backoff from
/// <see cref="SelfHealingForwardOptions.ReconnectDelay"/> to
/// <see cref="SelfHealingForwardOptions.MaxReconnectDelay"/> (<see cref="ConnectionGate"/>).
/// </para>
/// <para>
/// Host key, credential, key-file and other configuration errors are not retried: the forward
/// stops and <see cref="Faulted"/> is raised. A target the SSH server cannot reach is reported
/// once through <see cref="ForwardFailed"/>, without dropping the session, and its recovery
/// through <see cref="ForwardRecovered"/>.
/// </para>
/// Thread-safe. Events are raised one at a time, in order, on a thread-pool thread (never on
/// SSH.NET's receive thread nor on the forward's own loop): a handler may block or dispose the
/// forward. An exception a handler throws is not caught: it is unhandled, as on any thread.
/// </remarks>
public sealed class SelfHealingForward : IDisposable, IAsyncDisposable
{
    /// <summary>The reason <see cref="Disconnected"/> gives after <see cref="Reconnect"/>.</summary>
    internal const string ReconnectAskedFor = "reconnect asked for";

    private readonly SshTunnelOptions _options;
    private readonly Func<CancellationToken, Task<SshTunnelSession>> _login;
    private readonly SelfHealingForwardOptions _healing;
    private readonly ForwardListener[] _listeners;
    private readonly CancellationTokenSource _stop = new();
    private readonly SerialEvents _events = new();
    private readonly ConnectionGate _gate;
    private readonly Task _supervisor;
    private volatile Current? _current;
    private volatile CancellationTokenSource _reconnect = new();
    private volatile TaskCompletionSource _up = NewSignal();
    private int _sessions;

    private SelfHealingForward(SshTunnelOptions options, IReadOnlyList<TcpEndpoint> remotes, SelfHealingForwardOptions healing)
    {
        _options = options;
        _login = healing.Login ?? (ct => SshTunnelSession.ConnectAsync(options, ct));
        _healing = healing;
        Remotes = remotes;
        _listeners = new ForwardListener[remotes.Count];
        _gate = new ConnectionGate(remotes.Count, healing);
        try
        {
            for (var i = 0; i < remotes.Count; i++)
            {
                var lane = i;
                _listeners[i] = ForwardListener.StartDetached(remotes[i], () => _gate.WaitForPort(lane), new System.Net.IPEndPoint(healing.LocalAddress, healing.LocalPorts?[i] ?? 0));
            }
        }
        catch
        {
            Array.ForEach(_listeners, l => l?.Dispose());
            throw;
        }

        // A wildcard bind is reached through loopback from this machine.
        var connectTo = healing.LocalAddress.Equals(System.Net.IPAddress.Any) || healing.LocalAddress.Equals(System.Net.IPAddress.IPv6Any)
            ? System.Net.IPAddress.Loopback : healing.LocalAddress;
        LocalEndpoints = [.. _listeners.Select(l => new TcpEndpoint(connectTo.ToString(), l.Port))];
        _supervisor = Task.Run(SuperviseAsync);
    }

    /// <summary>Raised when a session is up and relaying (the first one, and every one after a reconnect), with the session and its number. On a thread-pool thread.</summary>
    public event EventHandler<SshConnectedEventArgs>? Connected;

    /// <summary>
    /// Raised when the session is lost, with why in words (<see cref="SshDisconnectedEventArgs.Reason"/>)
    /// and whether <see cref="Reconnect"/> asked for it; a new login follows. Not raised when the
    /// forward is disposed. On a thread-pool thread.
    /// </summary>
    public event EventHandler<SshDisconnectedEventArgs>? Disconnected;

    /// <summary>
    /// Raised for each failed login attempt that will be retried (the server is unreachable, or
    /// its name does not resolve: <see cref="SshServerUnreachableException.NameNotResolved"/>),
    /// with the wait before the next; so at most once per backoff delay. On a thread-pool thread.
    /// </summary>
    public event EventHandler<SshConnectRetryEventArgs>? ConnectRetry;

    /// <summary>
    /// Raised when connections to a target cannot be relayed: once when the SSH server starts
    /// refusing its channels (the target is down or not permitted, RFC 4254 section 5.1) or
    /// leaves one unanswered for <see cref="SshTunnelOptions.ConnectTimeout"/> (the target hangs),
    /// not again for each refusal or timeout until <see cref="ForwardRecovered"/>; and whenever
    /// SSH.NET reports an error relaying a connection. Not raised for the session's loss, which cuts every
    /// target's connections at once: <see cref="Disconnected"/> reports it, once. On a thread-pool thread.
    /// </summary>
    public event EventHandler<ForwardFailedEventArgs>? ForwardFailed;

    /// <summary>Raised with the target when the SSH server opens a channel to it again after refusing. On a thread-pool thread.</summary>
    public event EventHandler<ForwardRecoveredEventArgs>? ForwardRecovered;

    /// <summary>
    /// Raised once when the forward gives up: the host key, credentials, key file or other
    /// configuration was refused (see <see cref="Fault"/>). Its local ports are closed then, so
    /// connecting sockets are refused and back off. On a thread-pool thread.
    /// </summary>
    public event EventHandler<SshTunnelFaultedEventArgs>? Faulted;

    /// <summary>Gets the targets as the SSH server sees them, one per local port (all carried by one session).</summary>
    public IReadOnlyList<TcpEndpoint> Remotes { get; }

    /// <summary>Gets the endpoints to connect sockets to, <c>tcp://127.0.0.1:port</c>, one per target in <see cref="Remotes"/>' order; fixed for the forward's life.</summary>
    public IReadOnlyList<TcpEndpoint> LocalEndpoints { get; }

    /// <summary>Gets the (first) target as the SSH server sees it.</summary>
    public TcpEndpoint Remote => Remotes[0];

    /// <summary>Gets the (first) local TCP port, fixed for the forward's life, 1-65535.</summary>
    public int LocalPort => LocalEndpoints[0].Port;

    /// <summary>Gets the (first) endpoint to connect a socket to: <c>tcp://127.0.0.1:LocalPort</c>.</summary>
    public TcpEndpoint LocalEndpoint => LocalEndpoints[0];

    /// <summary>Gets the current session, or <see langword="null"/> while logging in again.</summary>
    public SshTunnelSession? Session => _current?.Session;

    /// <summary>Gets a value indicating whether a session is up and connections are relayed.</summary>
    public bool IsUp => _current is { Session.IsConnected: true } current && current.Ports.All(p => p.Port.IsStarted);

    /// <summary>
    /// Tells whether the SSH server refuses channels to the target at <paramref name="index"/> in
    /// <see cref="Remotes"/> now: it refused the last one opened, or did not answer it within
    /// <see cref="SshTunnelOptions.ConnectTimeout"/> (<see cref="ForwardFailed"/> was raised for
    /// the outage), and has opened none since (<see cref="ForwardRecovered"/> not yet).
    /// </summary>
    /// <param name="index">The target's index in <see cref="Remotes"/>.</param>
    /// <returns><see langword="true"/> while the target is refused.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not an index of <see cref="Remotes"/>.</exception>
    public bool IsRefused(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Remotes.Count);
        return _gate.IsRefused(index);
    }

    /// <summary>Gets the error that stopped the forward for good, if any.</summary>
    public SshTunnelException? Fault { get; private set; }

    /// <summary>
    /// Gets why the last login attempt failed (for example an
    /// <see cref="SshServerUnreachableException"/> saying "name not resolved"), or
    /// <see langword="null"/> while a session is up or before the first attempt ended.
    /// </summary>
    public SshTunnelException? LastError { get; private set; }

    /// <summary>Gets how many sessions have been up so far (1 after the first login; each reconnect adds one).</summary>
    public int SessionCount => Volatile.Read(ref _sessions);

    /// <summary>
    /// Gets how many connections the forward relays now: the current session's open (or closing)
    /// SSH channels (RFC 4254 section 5), half-closed ones included, and the connections accepted
    /// that have no channel yet (their relay thread is starting, or they are parked while there is
    /// no session). SSH.NET's own forward (when our channel multiplexer could not attach to the
    /// session) does not count its channels. Lets an owner wait, as <c>ssh</c> does ("Waiting for
    /// forwarded connections to terminate"), until what its clients wrote just before closing has
    /// been relayed, before disposing.
    /// </summary>
    public int RelayedConnections => (_current?.Session.Mux?.ChannelCount ?? 0) + _listeners.Sum(l => l.HandingOver);

    /// <summary>
    /// Opens the local listener at once and starts logging in in the background, with the
    /// default <see cref="SelfHealingForwardOptions"/>; connections made before the first login
    /// are parked and relayed once it is up.
    /// </summary>
    /// <param name="options">How to reach and log in to the SSH server.</param>
    /// <param name="remote">The target as the SSH server sees it, for example <c>tcp://server:5556</c>.</param>
    /// <returns>The forward; dispose it to close the listener and the session.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> or <paramref name="remote"/> is null.</exception>
    /// <exception cref="ArgumentException">The options are incomplete, or <paramref name="remote"/> is a wildcard (<c>*</c> or port 0).</exception>
    /// <exception cref="NotSupportedException">This SSH.NET version lacks what keeping the port needs.</exception>
    public static SelfHealingForward Start(SshTunnelOptions options, TcpEndpoint remote) => Start(options, remote, new SelfHealingForwardOptions());

    /// <summary>
    /// Opens the local listener at once and starts logging in in the background; connections
    /// made before the first login are parked and relayed once it is up.
    /// </summary>
    /// <param name="options">How to reach and log in to the SSH server.</param>
    /// <param name="remote">The target as the SSH server sees it, for example <c>tcp://server:5556</c>.</param>
    /// <param name="healing">Reconnect timings, the local address and port, and the login hook (<see cref="SelfHealingForwardOptions.Login"/>).</param>
    /// <returns>The forward; dispose it to close the listener and the session.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/>, <paramref name="remote"/> or <paramref name="healing"/> is null.</exception>
    /// <exception cref="ArgumentException">The options are incomplete, <paramref name="remote"/> is a wildcard (<c>*</c> or port 0), a timing in <paramref name="healing"/> is out of range,
    /// or <see cref="SelfHealingForwardOptions.LocalPorts"/> does not give one port.</exception>
    /// <exception cref="NotSupportedException">This SSH.NET version lacks what keeping the port needs.</exception>
    /// <exception cref="System.Net.Sockets.SocketException">The local port cannot be opened (a fixed one is in use, say).</exception>
    public static SelfHealingForward Start(SshTunnelOptions options, TcpEndpoint remote, SelfHealingForwardOptions healing)
    {
        ArgumentNullException.ThrowIfNull(remote);
        return Start(options, [remote], healing);
    }

    /// <summary>
    /// The same for several targets (server replicas, say) over one SSH session, with the
    /// default <see cref="SelfHealingForwardOptions"/>: one local port per target, all replaced
    /// together when the session dies.
    /// </summary>
    /// <param name="options">How to reach and log in to the SSH server.</param>
    /// <param name="remotes">The targets as the SSH server sees them; at least one.</param>
    /// <returns>The forward; dispose it to close the listeners and the session.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> or <paramref name="remotes"/> is null.</exception>
    /// <exception cref="ArgumentException">The options are incomplete, no target is given, or a target is a wildcard (<c>*</c> or port 0).</exception>
    /// <exception cref="NotSupportedException">This SSH.NET version lacks what keeping the ports needs.</exception>
    public static SelfHealingForward Start(SshTunnelOptions options, IReadOnlyList<TcpEndpoint> remotes) => Start(options, remotes, new SelfHealingForwardOptions());

    /// <summary>
    /// The same for several targets (server replicas, say) over one SSH session: one local port
    /// per target, all replaced together when the session dies.
    /// </summary>
    /// <param name="options">How to reach and log in to the SSH server.</param>
    /// <param name="remotes">The targets as the SSH server sees them; at least one.</param>
    /// <param name="healing">Reconnect timings, the local address and ports, and the login hook (<see cref="SelfHealingForwardOptions.Login"/>).</param>
    /// <returns>The forward; dispose it to close the listeners and the session.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/>, <paramref name="remotes"/> or <paramref name="healing"/> is null.</exception>
    /// <exception cref="ArgumentException">The options are incomplete, a timing in <paramref name="healing"/> is out of range, no target is given, a target is a wildcard (<c>*</c> or port 0),
    /// or <see cref="SelfHealingForwardOptions.LocalPorts"/> does not give one port per target.</exception>
    /// <exception cref="NotSupportedException">This SSH.NET version lacks what keeping the ports needs.</exception>
    /// <exception cref="System.Net.Sockets.SocketException">A local port cannot be opened (a fixed one is in use, say).</exception>
    public static SelfHealingForward Start(SshTunnelOptions options, IReadOnlyList<TcpEndpoint> remotes, SelfHealingForwardOptions healing)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(remotes);
        ArgumentNullException.ThrowIfNull(healing);
        if (remotes.Count == 0)
        {
            throw new ArgumentException("Give at least one target.", nameof(remotes));
        }

        foreach (var remote in remotes)
        {
            TcpEndpoint.RequireTarget(remote, nameof(remotes));
        }

        if (healing.LocalPorts is { } ports && (ports.Count != remotes.Count || ports.Any(p => p is < 0 or > HostPort.MaxPort)))
        {
            throw new ArgumentException("Give one local port (0-65535) per target.", nameof(healing));
        }

        options.Validate();
        // Checked here: the loop builds its retry pipeline from these, where a bad value would end it.
        healing.Validate();
        return new SelfHealingForward(options, [.. remotes], healing);
    }

    /// <summary>Waits until a session is up, at most <paramref name="timeout"/>.</summary>
    /// <param name="timeout">How long to wait; positive, or <see cref="Timeout.InfiniteTimeSpan"/> to wait without limit.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The session.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is negative and not <see cref="Timeout.InfiniteTimeSpan"/>.</exception>
    /// <exception cref="TimeoutException">No session was up in time; the message says why the last
    /// login failed (for example "name not resolved"), and <see cref="Exception.InnerException"/>
    /// is <see cref="LastError"/>. The forward keeps trying.</exception>
    /// <exception cref="SshTunnelException">The forward gave up (<see cref="Fault"/>).</exception>
    /// <exception cref="ObjectDisposedException">The forward was disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<SshTunnelSession> WaitUntilUpAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (timeout < TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "Give a positive timeout, or Timeout.InfiniteTimeSpan.");
        }

        try
        {
            return await WaitUntilUpCoreAsync(cancellationToken).WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            var last = LastError;
            var why = last is null ? "no login attempt has failed yet" : $"last attempt: {last.Message}";
            throw new TimeoutException($"The SSH tunnel to {_options.Server} was not up within {timeout.TotalSeconds:0.###} s; {why}", last ?? (Exception)ex);
        }
    }

    private async Task<SshTunnelSession> WaitUntilUpCoreAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            ObjectDisposedException.ThrowIf(_stop.IsCancellationRequested, this);
            if (Fault is { } fault)
            {
                throw fault;
            }

            if (_current is { } current && IsUp)
            {
                return current.Session;
            }

            await _up.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Drops the current session and logs in again (the dashboard's "Reconnect tunnel"); the local port stays.</summary>
    public void Reconnect() => _reconnect.Cancel();

    /// <summary>
    /// Closes the listener, the connections waiting or relayed and the session, blocking the
    /// calling thread until the session is closed (at most about <see cref="SupervisorStopTimeout"/>
    /// plus the session's own close). Safe from an event handler of the forward or its session
    /// (events are raised off the threads it waits for). Prefer <see cref="DisposeAsync"/>.
    /// </summary>
    public void Dispose()
    {
        if (!BeginStop())
        {
            return;
        }

        // The loop never faults (every error becomes Fault); this waits for it to let go of the session.
        _supervisor.Wait(SupervisorStopTimeout);
        _current?.Session.Dispose();
        EndStop();
    }

    /// <summary>
    /// Closes the listener, the connections waiting or relayed and the session, as
    /// <see cref="Dispose"/> does, without blocking the caller: the returned task completes when
    /// the forward's loop has ended and the session is closed (SSH_MSG_DISCONNECT sent, RFC 4253
    /// section 11.1, and the connection closed), or after about <see cref="SupervisorStopTimeout"/>
    /// should the loop not end. Safe from an event handler of the forward or its session.
    /// </summary>
    /// <returns>A task that completes when the forward is closed; it does not fault.</returns>
    public async ValueTask DisposeAsync()
    {
        if (!BeginStop())
        {
            return;
        }

        // The loop disposes its session itself, asynchronously, when it sees the stop.
        await _supervisor.WaitAsync(SupervisorStopTimeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_current?.Session is { } session)
        {
            await session.DisposeAsync().ConfigureAwait(false);
        }

        EndStop();
    }

    /// <summary>How long a disconnected session's events may take to say why it went (milliseconds, unless a handler of the session blocks).</summary>
    private static TimeSpan EventsGrace => TimeSpan.FromSeconds(1);

    /// <summary>How long disposing waits for the forward's loop to end (it ends within milliseconds unless a handler holds it).</summary>
    private static TimeSpan SupervisorStopTimeout => TimeSpan.FromSeconds(5);

    /// <summary>Stops accepting and tells the loop to end; false when the forward was already stopped.</summary>
    private bool BeginStop()
    {
        lock (_stop)
        {
            if (_stop.IsCancellationRequested)
            {
                return false;
            }

            _stop.Cancel();
        }

        _gate.Stop();
        Array.ForEach(_listeners, l => l.Dispose());
        return true;
    }

    private void EndStop()
    {
        _up.TrySetResult();
        _events.Complete();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task SuperviseAsync()
    {
        var login = new ResiliencePipelineBuilder<SshTunnelSession>()
            .AddRetry(new RetryStrategyOptions<SshTunnelSession>
            {
                ShouldHandle = new PredicateBuilder<SshTunnelSession>().Handle<SshServerUnreachableException>(),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = _healing.ReconnectDelay,
                MaxDelay = _healing.MaxReconnectDelay,
                // An attempt that timed out has already waited ConnectTimeout: no backoff on top,
                // so that a bastion that was frozen or cut off (and keeps half-open logins
                // pending) is logged in to within a moment of its return, not up to
                // MaxReconnectDelay later. Refusals and name errors, which come back at once, back off.
                DelayGenerator = args => new ValueTask<TimeSpan?>(
                    args.Outcome.Exception is SshServerUnreachableException { TimedOut: true } ? _healing.ReconnectDelay : null),
                OnRetry = args =>
                {
                    if (args.Outcome.Exception is SshServerUnreachableException error)
                    {
                        LastError = error;
                        var delay = args.RetryDelay;
                        var attempt = args.AttemptNumber + 1;
                        Raise(() => ConnectRetry?.Invoke(this, new SshConnectRetryEventArgs(error, delay, attempt)));
                    }

                    return default;
                },
            })
            .Build();
        while (!_stop.IsCancellationRequested)
        {
            SshTunnelSession session;
            try
            {
                session = await login.ExecuteAsync(async ct => await _login(ct).ConfigureAwait(false), _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Not retried: only an unreachable server is (above). Anything else, our own
                // configuration included, needs a person; it must not end the loop unseen.
                GiveUp(AsTunnelException(ex));
                return;
            }

            string reason;
            try
            {
                reason = await RunSessionAsync(session).ConfigureAwait(false);
            }
            catch (Exception ex) when (!_stop.IsCancellationRequested)
            {
                await session.DisposeAsync().ConfigureAwait(false);
                GiveUp(new SshTunnelException($"The self-healing forward stopped on an unexpected error: {ex.Message}", ex));
                return;
            }

            if (_stop.IsCancellationRequested)
            {
                return;
            }

            Raise(() => Disconnected?.Invoke(this, new SshDisconnectedEventArgs(reason, reason == ReconnectAskedFor)));
        }
    }

    private static SshTunnelException AsTunnelException(Exception ex) => ex switch
    {
        SshTunnelException tunnel => tunnel,
        ArgumentException argument => new SshTunnelConfigurationException(argument.ParamName ?? nameof(SshTunnelOptions), argument.Message, argument),
        _ => new SshTunnelException($"SSH login failed on an unexpected error: {ex.Message}", ex),
    };

    private void GiveUp(SshTunnelException fault)
    {
        Fault = fault;
        LastError = fault;
        _gate.Stop();
        // Closed, not accepting and closing: a refused connect keeps NetMQ's own backoff.
        Array.ForEach(_listeners, l => l.Dispose());
        Raise(() => Faulted?.Invoke(this, new SshTunnelFaultedEventArgs(fault)));
        _up.TrySetResult();
    }

    private void Raise(Action raise) => _events.Post(raise);

    /// <summary>Relays through one session until it dies; returns why it ended.</summary>
    private async Task<string> RunSessionAsync(SshTunnelSession session)
    {
        var lost = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var outagesToReport = new System.Collections.Concurrent.ConcurrentQueue<int>();
        void OnError(object? sender, SshSessionErrorEventArgs e) => lost.TrySetResult($"SSH session error: {e.Exception.Message}");
        void OnSilent(object? sender, ServerAliveTimedOutEventArgs e) => lost.TrySetResult(
            $"the SSH server answered no keep-alive probe for {e.Silence.TotalSeconds:0.#} s (ServerAliveInterval {_options.ServerAliveInterval.TotalSeconds:0.###} s × ServerAliveCountMax {_options.ServerAliveCountMax})");
        void OnAnswered(int? target, bool confirmed)
        {
            // Before the refusal's own event (OnRefused) is raised. target: which forward's open
            // was answered (our channels); null: the oldest unanswered (SSH.NET's, on its receive thread).
            if (_gate.Answered(target, confirmed) is not { } change)
            {
                return;
            }

            if (change.Reachable)
            {
                var recovered = new ForwardRecoveredEventArgs(Remotes[change.Target]);
                Raise(() => ForwardRecovered?.Invoke(this, recovered));
            }
            else
            {
                outagesToReport.Enqueue(change.Target);
            }
        }

        void OnRefused(object? sender, ForwardFailedEventArgs e)
        {
            // Once per outage of a target: the refusals that follow while it stays down are not news.
            if (outagesToReport.TryDequeue(out var target))
            {
                var failed = e.Remote == Remotes[target] ? e : new ForwardFailedEventArgs(new SshForwardException(Remotes[target], e.Error.Message, e.Error));
                Raise(() => ForwardFailed?.Invoke(this, failed));
            }
        }

        void OnRouteFailed(int target, SshForwardException e)
        {
            // A refusal (no inner exception) reaches OnRefused too, where it counts once per outage;
            // here: what else failed on a forward's connection (a channel open that timed out, a relay error).
            if (e.InnerException is null)
            {
                return;
            }

            if (e.InnerException is SshOperationTimeoutException)
            {
                // No answer to the channel open in time. Counted before ForwardFailed is raised, so
                // that IsRefused says so when it is heard: work goes to the other targets.
                var outageStarts = _gate.TimedOut(target);
                if (session.ServerAlive is null)
                {
                    // Without the keep-alive probe this is the only sign of a server that stopped
                    // answering (paused, cut off). With it, the probe tells: a server that answers
                    // its probes is alive, and its connect to this target is what hangs (a replica
                    // gone from the network: sshd answers the open only when its SYNs time out).
                    lost.TrySetResult($"the SSH server did not answer a channel open within {_options.ConnectTimeout.TotalSeconds:0.###} s");
                }

                // Once per outage of a target, as refusals (OnRefused): the opens that time out
                // while it stays down, each held for the backoff, are not news.
                if (!outageStarts)
                {
                    return;
                }
            }

            var failed = new ForwardFailedEventArgs(e);
            Raise(() => ForwardFailed?.Invoke(this, failed));
        }

        session.ErrorOccurred += OnError;
        session.ServerAliveTimedOut += OnSilent;
        session.ChannelOpenFailed += OnRefused;
        void OnSshNetAnswered(bool confirmed) => OnAnswered(null, confirmed);
        session.ChannelOpenAnswered += OnSshNetAnswered;
        ForwardRoute[] ports;
        try
        {
            ports = [.. Remotes.Select(session.OpenDetachedPort)];
        }
        catch (SshForwardException ex)
        {
            var failed = new ForwardFailedEventArgs(ex);
            Raise(() => ForwardFailed?.Invoke(this, failed));
            session.ChannelOpenAnswered -= OnSshNetAnswered;
            DisposeInBackground(session);
            await Task.Delay(_healing.ReconnectDelay, _stop.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            return ex.Message;
        }

        var routeFailed = ports.Select((_, target) => new Action<SshForwardException>(e => OnRouteFailed(target, e))).ToArray();
        var routeAnswered = ports.Select((_, target) => new Action<bool>(confirmed => OnAnswered(target, confirmed))).ToArray();
        for (var i = 0; i < ports.Length; i++)
        {
            ports[i].Failed += routeFailed[i];
            ports[i].Answered += routeAnswered[i];
        }

        if (_reconnect.IsCancellationRequested)
        {
            _reconnect = new CancellationTokenSource();
        }

        _current = new Current(session, ports);
        LastError = null;
        _gate.SessionUp(ports);
        var connected = new SshConnectedEventArgs(session, Interlocked.Increment(ref _sessions));
        Raise(() => Connected?.Invoke(this, connected));
        _up.TrySetResult();
        string reason;
        try
        {
            using var ended = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, _reconnect.Token);
            while (true)
            {
                var poll = Task.Delay(_healing.LivenessPoll, ended.Token);
                if (await Task.WhenAny(lost.Task, poll).ConfigureAwait(false) == lost.Task)
                {
                    reason = await lost.Task.ConfigureAwait(false);
                    break;
                }

                if (ended.IsCancellationRequested)
                {
                    reason = _stop.IsCancellationRequested ? "shutdown" : ReconnectAskedFor;
                    break;
                }

                if (!session.IsConnected)
                {
                    // The session turns disconnected before the event that says why (the
                    // server's disconnect, a keep-alive left unanswered) reaches OnError or
                    // OnSilent on its event thread: its words, when it has any, not ours.
                    await session.EventsRaisedSoFarAsync().WaitAsync(EventsGrace).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    reason = lost.Task.IsCompleted ? await lost.Task.ConfigureAwait(false) : "the SSH session is disconnected";
                    break;
                }
            }
        }
        finally
        {
            _up = NewSignal();
            _current = null;
            _gate.SessionDown();
            for (var i = 0; i < ports.Length; i++)
            {
                ports[i].Failed -= routeFailed[i];
                ports[i].Answered -= routeAnswered[i];
            }

            session.ErrorOccurred -= OnError;
            session.ServerAliveTimedOut -= OnSilent;
            session.ChannelOpenFailed -= OnRefused;
            session.ChannelOpenAnswered -= OnSshNetAnswered;
        }

        if (_stop.IsCancellationRequested)
        {
            // Disposing the forward: its DisposeAsync awaits this loop, so this is what it awaits.
            await session.DisposeAsync().ConfigureAwait(false);
        }
        else
        {
            // Closing a dead session can wait on its socket: do not hold up the next login.
            DisposeInBackground(session);
        }

        return reason;
    }

    private static void DisposeInBackground(SshTunnelSession session) => _ = Task.Run(session.Dispose);

    private sealed record Current(SshTunnelSession Session, ForwardRoute[] Ports);
}
