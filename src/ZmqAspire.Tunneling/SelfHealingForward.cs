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
/// A session counts as dead when SSH.NET reports an error on it, when it is no longer connected
/// (polled every <see cref="SelfHealingForwardOptions.LivenessPoll"/>), or when opening a
/// channel for a new connection times out (end-to-end liveness: a bastion that stopped
/// answering, which SSH keep-alives alone do not reveal since SSH.NET's get no reply). Connections
/// accepted while there is no session are closed at once; the connecting socket retries (set
/// NetMQ's <c>ReconnectIntervalMax</c> so that it backs off).
/// </para>
/// <para>
/// Host key, credential and key-file errors are not retried: the forward stops and
/// <see cref="Faulted"/> is raised. A target the SSH server cannot reach is reported through
/// <see cref="ForwardFailed"/> without dropping the session.
/// </para>
/// Thread-safe. Events are raised on background threads.
/// </remarks>
public sealed class SelfHealingForward : IDisposable, IAsyncDisposable
{
    /// <summary>The reason <see cref="Disconnected"/> gives after <see cref="Reconnect"/>.</summary>
    public const string ReconnectAskedFor = "reconnect asked for";

    private readonly SshTunnelOptions _options;
    private readonly Func<CancellationToken, Task<SshTunnelSession>> _login;
    private readonly SelfHealingForwardOptions _healing;
    private readonly ForwardListener[] _listeners;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _supervisor;
    private volatile Current? _current;
    private volatile CancellationTokenSource _reconnect = new();
    private volatile TaskCompletionSource _up = NewSignal();
    private int _sessions;

    private SelfHealingForward(SshTunnelOptions options, Func<CancellationToken, Task<SshTunnelSession>>? login, IReadOnlyList<TcpEndpoint> remotes, SelfHealingForwardOptions healing)
    {
        _options = options;
        _login = login ?? (ct => SshTunnelSession.ConnectAsync(options, ct));
        _healing = healing;
        Remotes = remotes;
        _listeners = new ForwardListener[remotes.Count];
        try
        {
            for (var i = 0; i < remotes.Count; i++)
            {
                var lane = i;
                _listeners[i] = ForwardListener.StartDetached(remotes[i], () => _current?.Ports[lane]);
            }
        }
        catch
        {
            Array.ForEach(_listeners, l => l?.Dispose());
            throw;
        }

        LocalEndpoints = [.. _listeners.Select(l => new TcpEndpoint(System.Net.IPAddress.Loopback.ToString(), l.Port))];
        _supervisor = Task.Run(SuperviseAsync);
    }

    /// <summary>Raised when a session is up and relaying (the first one, and every one after a reconnect).</summary>
    public event EventHandler<SshTunnelSession>? Connected;

    /// <summary>Raised when the session is lost, with why in words; a new login follows.</summary>
    public event EventHandler<string>? Disconnected;

    /// <summary>Raised for each failed login attempt that will be retried (the server is unreachable), with the wait before the next.</summary>
    public event EventHandler<(SshServerUnreachableException Error, TimeSpan RetryDelay)>? ConnectRetry;

    /// <summary>
    /// Raised when a connection could not be relayed: the SSH server refused the channel (the
    /// target is down or not permitted, RFC 4254 section 5.1) or SSH.NET reported an error.
    /// </summary>
    public event EventHandler<SshForwardException>? ForwardFailed;

    /// <summary>Raised once when the forward gives up: the host key, credentials or key file were refused. See <see cref="Fault"/>.</summary>
    public event EventHandler<SshTunnelException>? Faulted;

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

    /// <summary>Gets the error that stopped the forward for good, if any.</summary>
    public SshTunnelException? Fault { get; private set; }

    /// <summary>Gets how many sessions have been up so far (1 after the first login; each reconnect adds one).</summary>
    public int SessionCount => Volatile.Read(ref _sessions);

    /// <summary>
    /// Opens the local listener at once and starts logging in in the background; connections
    /// made before the first login are closed, and the connecting socket retries.
    /// </summary>
    /// <param name="options">How to reach and log in to the SSH server.</param>
    /// <param name="remote">The target as the SSH server sees it, for example <c>tcp://server:5556</c>.</param>
    /// <param name="healing">Reconnect timings; default <see cref="SelfHealingForwardOptions"/>.</param>
    /// <returns>The forward; dispose it to close the listener and the session.</returns>
    /// <exception cref="ArgumentException">The options are incomplete.</exception>
    /// <exception cref="NotSupportedException">This SSH.NET version lacks what keeping the port needs.</exception>
    /// <param name="login">Logs in with <paramref name="options"/> (to wrap each attempt, in a span for
    /// example); default <see cref="SshTunnelSession.ConnectAsync"/>. Must throw what it throws.</param>
    public static SelfHealingForward Start(
        SshTunnelOptions options, TcpEndpoint remote, SelfHealingForwardOptions? healing = null, Func<CancellationToken, Task<SshTunnelSession>>? login = null)
    {
        ArgumentNullException.ThrowIfNull(remote);
        return Start(options, [remote], healing, login);
    }

    /// <summary>
    /// The same for several targets (server replicas, say) over one SSH session: one local port
    /// per target, all replaced together when the session dies.
    /// </summary>
    /// <param name="options">How to reach and log in to the SSH server.</param>
    /// <param name="remotes">The targets as the SSH server sees them; at least one.</param>
    /// <param name="healing">Reconnect timings; default <see cref="SelfHealingForwardOptions"/>.</param>
    /// <param name="login">As for the single-target overload.</param>
    /// <returns>The forward; dispose it to close the listeners and the session.</returns>
    /// <exception cref="ArgumentException">The options are incomplete, or no target is given.</exception>
    /// <exception cref="NotSupportedException">This SSH.NET version lacks what keeping the ports needs.</exception>
    public static SelfHealingForward Start(
        SshTunnelOptions options, IReadOnlyList<TcpEndpoint> remotes, SelfHealingForwardOptions? healing = null, Func<CancellationToken, Task<SshTunnelSession>>? login = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(remotes);
        if (remotes.Count == 0)
        {
            throw new ArgumentException("Give at least one target.", nameof(remotes));
        }

        options.Validate();
        return new SelfHealingForward(options, login, [.. remotes], healing ?? new SelfHealingForwardOptions());
    }

    /// <summary>Waits until a session is up.</summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The session.</returns>
    /// <exception cref="SshTunnelException">The forward gave up (<see cref="Fault"/>).</exception>
    /// <exception cref="ObjectDisposedException">The forward was disposed.</exception>
    public async Task<SshTunnelSession> WaitUntilUpAsync(CancellationToken cancellationToken = default)
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

    /// <summary>Closes the listener, the relayed connections and the session.</summary>
    public void Dispose()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        _stop.Cancel();
        Array.ForEach(_listeners, l => l.Dispose());
        _supervisor.Wait(TimeSpan.FromSeconds(5));
        _current?.Session.Dispose();
        _up.TrySetResult();
    }

    /// <inheritdoc cref="Dispose"/>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
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
                OnRetry = args =>
                {
                    if (args.Outcome.Exception is SshServerUnreachableException error)
                    {
                        ConnectRetry?.Invoke(this, (error, args.RetryDelay));
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
            catch (SshTunnelException ex)
            {
                Fault = ex;
                Faulted?.Invoke(this, ex);
                _up.TrySetResult();
                return;
            }

            var reason = await RunSessionAsync(session).ConfigureAwait(false);
            if (_stop.IsCancellationRequested)
            {
                return;
            }

            Disconnected?.Invoke(this, reason);
        }
    }

    /// <summary>Relays through one session until it dies; returns why it ended.</summary>
    private async Task<string> RunSessionAsync(SshTunnelSession session)
    {
        var lost = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnError(object? sender, Exception e) => lost.TrySetResult($"SSH session error: {e.Message}");
        // Refusals reach each forward's route with its target; the session's event is only
        // needed when SSH.NET's channels are in use and the target could not be named.
        void OnRefused(object? sender, SshForwardException e)
        {
            if (!Remotes.Contains(e.Remote))
            {
                ForwardFailed?.Invoke(this, e);
            }
        }

        void OnRouteFailed(SshForwardException e)
        {
            ForwardFailed?.Invoke(this, e);
            if (e.InnerException is SshOperationTimeoutException)
            {
                // The server took no new channel in time: it is not answering (paused, cut off).
                lost.TrySetResult($"the SSH server did not answer a channel open within {_options.ConnectTimeout.TotalSeconds:0.###} s");
            }
        }

        session.ErrorOccurred += OnError;
        session.ChannelOpenFailed += OnRefused;
        ForwardRoute[] ports;
        try
        {
            ports = [.. Remotes.Select(session.OpenDetachedPort)];
        }
        catch (SshForwardException ex)
        {
            ForwardFailed?.Invoke(this, ex);
            DisposeInBackground(session);
            await Task.Delay(_healing.ReconnectDelay, _stop.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            return ex.Message;
        }

        Array.ForEach(ports, p => p.Failed += OnRouteFailed);
        if (_reconnect.IsCancellationRequested)
        {
            _reconnect = new CancellationTokenSource();
        }

        _current = new Current(session, ports);
        Interlocked.Increment(ref _sessions);
        Connected?.Invoke(this, session);
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
                    reason = "the SSH session is disconnected";
                    break;
                }
            }
        }
        finally
        {
            _up = NewSignal();
            _current = null;
            Array.ForEach(ports, p => p.Failed -= OnRouteFailed);
            session.ErrorOccurred -= OnError;
            session.ChannelOpenFailed -= OnRefused;
        }

        if (_stop.IsCancellationRequested)
        {
            session.Dispose();
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
