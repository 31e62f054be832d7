using System.Net.Sockets;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace ZmqAspire.Tunneling;

/// <summary>
/// One logged-in SSH session that carries any number of local forwards (RFC 4254, section 7.2,
/// "direct-tcpip" channels): one login for many sockets, as <c>ssh -L a -L b</c> does.
/// </summary>
/// <remarks>
/// Thread-safe. Dispose it after the sockets that use its forwards, to close every listener and
/// the SSH connection; no process is started, so nothing can be orphaned. Its events
/// (<see cref="ErrorOccurred"/>, <see cref="ChannelOpenFailed"/>) are raised one at a time, in
/// order, on a thread-pool thread, never on SSH.NET's receive thread: a handler may block or
/// dispose the session, and an exception it throws is unhandled, as on any thread. <see cref="LocalForward.Failed"/> is raised on that thread for a refused
/// channel, and on the connection's relay thread for an error SSH.NET reports while relaying.
/// </remarks>
public sealed partial class SshTunnelSession : IDisposable, IAsyncDisposable
{
    private readonly SshClient _client;
    private readonly IDisposable[] _credentials;
    private readonly QuickAck? _quickAck;
    private readonly List<LocalForward> _forwards = [];
    private ChannelMux? _mux;
    private readonly Lock _gate = new();
    private readonly SerialEvents _events = new();
    private readonly SemaphoreSlim _globalRequests = new(1, 1);
    private ServerAliveProbe? _serverAlive;
    private TimeSpan _connectTimeout = TimeSpan.FromSeconds(10);
    private volatile bool _serverSilent;
    private volatile bool _lost;
    private volatile bool _serverDisconnected;
    private bool _disposed;
    private int _disposeStarted;

    private SshTunnelSession(SshClient client, IDisposable[] credentials, SshServerAddress server, string fingerprint, QuickAck? quickAck)
    {
        _client = client;
        _credentials = credentials;
        _quickAck = quickAck;
        Server = server;
        HostKeyFingerprint = fingerprint;
        // SSH.NET raises this on its receive thread, which Dispose (Disconnect) waits for: a
        // handler that disposed the session there would wait for itself. The error is recorded
        // first, on that thread: SSH.NET hands the same error to every forwarded port next (its
        // client subscribed before any port), and IsSessionLoss must know it by then.
        _client.ErrorOccurred += (_, e) => ReportLost(e.Exception);
        // SSH.NET raises no error for the server's SSH_MSG_DISCONNECT (nor for the end of the
        // connection after it): the session reports it the same way, with the server's reason.
        ServerDisconnects.TrySubscribe(client, (reason, description) =>
        {
            _serverDisconnected = true;
            ReportLost(new SshConnectionException(ServerDisconnects.Describe(reason, description), reason));
        });
    }

    /// <summary>Records the session's loss on SSH.NET's receive thread, then raises <see cref="ErrorOccurred"/> off it.</summary>
    private void ReportLost(Exception error)
    {
        _lost = true;
        // A lost session answers no probe: its silence from now on is not news (ServerAliveTimedOut).
        _serverAlive?.Dispose();
        _events.Post(() => ErrorOccurred?.Invoke(this, new SshSessionErrorEventArgs(error)));
    }

    /// <summary>
    /// Raised when the SSH connection is lost after it was established: it failed (the server
    /// went away, the connection was reset or closed: SSH.NET's error), or the server ended it
    /// with SSH_MSG_DISCONNECT (RFC 4253 section 11.1: an <see cref="SshConnectionException"/>
    /// whose <see cref="SshConnectionException.DisconnectReason"/> is the server's reason code and
    /// whose message gives the code's RFC name and the server's description, for example
    /// "The SSH server closed the session: ... (SSH_DISCONNECT_PROTOCOL_ERROR, reason code 2)").
    /// <see cref="IsConnected"/> is false by the time it is raised. Raised on a thread-pool
    /// thread, after SSH.NET's receive thread has moved on: the handler may dispose the session.
    /// </summary>
    public event EventHandler<SshSessionErrorEventArgs>? ErrorOccurred;

    /// <summary>
    /// Raised once when the server left a keep-alive probe unanswered for
    /// <see cref="SshTunnelOptions.ServerAliveInterval"/> × <see cref="SshTunnelOptions.ServerAliveCountMax"/>
    /// (a frozen bastion, a path that drops packets), with the silence measured;
    /// <see cref="IsConnected"/> is false from then on. Raised on a thread-pool thread, like
    /// <see cref="ErrorOccurred"/>: the handler may dispose the session.
    /// </summary>
    public event EventHandler<ServerAliveTimedOutEventArgs>? ServerAliveTimedOut;

    /// <summary>
    /// Returns a task that completes once the session's events posted so far have been raised:
    /// <see cref="IsConnected"/> turns false before the event that says why
    /// (<see cref="ErrorOccurred"/>, <see cref="ServerAliveTimedOut"/>) reaches its handlers.
    /// </summary>
    internal Task EventsRaisedSoFarAsync() => _events.RaisedSoFarAsync();

    /// <summary>Gets the keep-alive probe (null when off or unavailable), for tests and the benchmark.</summary>
    internal ServerAliveProbe? ServerAlive => _serverAlive;

    /// <summary>
    /// Raised synchronously on SSH.NET's receive thread when the server answers an open of one of SSH.NET's channels (ours: <see cref="ForwardRoute.Answered"/>)
    /// (true: confirmed; false: refused), before the thread waiting for the answer is woken. For
    /// <see cref="ConnectionGate"/>; a handler must not block.
    /// </summary>
    internal event Action<bool>? ChannelOpenAnswered;

    /// <summary>
    /// Tells whether <paramref name="error"/>, raised on a forwarded port, is this session's loss
    /// rather than a failure of one connection: SSH.NET hands the session's error to every
    /// forwarded port's <c>Exception</c> event, also to ports with no connection at all. Its
    /// session errors are <see cref="SshConnectionException"/> (the server closed or reset the
    /// connection, sent SSH_MSG_DISCONNECT, or the session is no longer connected when a channel
    /// waits on it); anything else its receive loop throws (a malformed packet, say) is raised
    /// through <see cref="ErrorOccurred"/> first. Once the session has reported its loss, every
    /// error of its channels follows from it.
    /// </summary>
    internal bool IsSessionLoss(Exception error) => error is SshConnectionException || _lost;

    /// <summary>Gets the SSH server this session is logged in to.</summary>
    public SshServerAddress Server { get; }

    /// <summary>Gets the SHA-256 fingerprint of the host key the server presented and the policy accepted.</summary>
    public string HostKeyFingerprint { get; }

    /// <summary>Gets the cipher negotiated for data the client sends (with its MAC unless it is an AEAD cipher), for diagnostics.</summary>
    internal string NegotiatedCipher
    {
        get
        {
            var info = _client.ConnectionInfo;
            var cipher = info.CurrentClientEncryption ?? "?";
            return cipher.Contains("gcm", StringComparison.Ordinal) || cipher.Contains("poly1305", StringComparison.Ordinal)
                ? cipher
                : $"{cipher} + {info.CurrentClientHmacAlgorithm}";
        }
    }

    /// <summary>Gets which parts of the fast path are active on this session (<see cref="TunnelFastPath"/>).</summary>
    internal TunnelFastPath FastPath =>
        (_quickAck is { IsActive: true } ? TunnelFastPath.QuickAck : TunnelFastPath.None)
        | (SocketMadeBlocking ? TunnelFastPath.BlockingSocket : TunnelFastPath.None)
        | (SshFastPath.CanReplaceListener ? TunnelFastPath.ForwardListener : TunnelFastPath.None)
        | (_mux is not null ? TunnelFastPath.OwnChannels : TunnelFastPath.None)
        | (_mux is { HoldsData: true } ? TunnelFastPath.HeldWrites : TunnelFastPath.None);

    /// <summary>Gets our channel multiplexer (null: SSH.NET's channels relay).</summary>
    internal ChannelMux? Mux => _mux;

    /// <summary>Gets what keeps ACKs on the SSH connection immediate (null when the fast path is off or unavailable).</summary>
    internal QuickAck? QuickAck => _quickAck;

    /// <summary>Gets a value indicating whether the SSH socket was put back in blocking mode (<see cref="NativeBlocking"/>).</summary>
    internal bool SocketMadeBlocking { get; private init; }

    /// <summary>
    /// Describes the session for logs: the server, the host key fingerprint accepted, and which
    /// parts of the tunnel's fast path (docs/benchmarks.md) are active, for example
    /// <c>tunnel@bastion:22 (host key SHA256:..., fast path: QuickAck, BlockingSocket, ForwardListener, OwnChannels, HeldWrites)</c>.
    /// The fast path reaches SSH.NET internals, so what it lists can change with the SSH.NET
    /// version: read it, do not parse it.
    /// </summary>
    /// <returns>The description.</returns>
    public override string ToString() => $"{Server} (host key {HostKeyFingerprint}, fast path: {FastPath})";

    /// <summary>Gets a value indicating whether the SSH connection is up.</summary>
    /// <remarks>False once the server stopped answering keep-alive probes (<see cref="ServerAliveTimedOut"/>), though the TCP connection may still be open,
    /// and from the moment the server's SSH_MSG_DISCONNECT is read (before <see cref="ErrorOccurred"/> reports it).</remarks>
    public bool IsConnected => !_disposed && !_serverSilent && !_serverDisconnected && _client.IsConnected;

    /// <summary>Gets the forwards open on this session.</summary>
    public IReadOnlyList<LocalForward> Forwards
    {
        get
        {
            lock (_gate)
            {
                return [.. _forwards];
            }
        }
    }

    /// <summary>
    /// Connects to the SSH server, checks its host key and logs in, all within
    /// <see cref="SshTunnelOptions.ConnectTimeout"/>.
    /// </summary>
    /// <param name="options">Where to connect and how to log in.</param>
    /// <param name="cancellationToken">Cancels the attempt.</param>
    /// <returns>The logged-in session.</returns>
    /// <exception cref="ArgumentException">The options are incomplete.</exception>
    /// <exception cref="SshTunnelConfigurationException">No credential is available (no <see cref="SshTunnelOptions.PrivateKeyPath"/>,
    /// no <see cref="SshTunnelOptions.Password"/>, and no usable default key), or the known_hosts file cannot be read.</exception>
    /// <exception cref="SshPrivateKeyException">The private key named by <see cref="SshTunnelOptions.PrivateKeyPath"/> is missing,
    /// malformed, or its passphrase is missing or wrong.</exception>
    /// <exception cref="SshHostKeyRejectedException">The host key is not trusted by <see cref="SshTunnelOptions.HostKey"/>; no credential was sent.</exception>
    /// <exception cref="SshTunnelAuthenticationException">The server refused the credentials.</exception>
    /// <exception cref="SshServerUnreachableException">The server cannot be reached (its name does not resolve, the
    /// connection is refused, no route), or the timeout elapsed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async Task<SshTunnelSession> ConnectAsync(SshTunnelOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var server = options.Server;
        options.HostKey.CheckReadable();
        var loaded = SshCredentials.Create(options);
        var (methods, credentials, methodNames) = (loaded.Methods, loaded.Owned, loaded.Names);

        var info = new ConnectionInfo(server.Host, server.Port, server.User, methods) { Timeout = options.ConnectTimeout };
        // SSH.NET lists keepalive@openssh.com as a request it knows, and then never answers it on
        // its own channels: sshd's ClientAliveInterval probes go unanswered and sshd drops the
        // session. Unlisted, it is an unknown request, which SSH.NET answers with
        // SSH_MSG_CHANNEL_FAILURE as RFC 4254 section 5.4 asks (any answer tells sshd we are alive).
        info.ChannelRequests.Remove("keepalive@openssh.com");
        if (SshFastPath.Enabled)
        {
            SshFastPath.PreferAesGcm(info);
        }

        var client = new SshClient(info) { KeepAliveInterval = options.KeepAliveInterval };

        SshHostKeyRejectedException? rejection = null;
        string? accepted = null;
        client.HostKeyReceived += (_, e) =>
        {
            var fingerprint = HostKeyPolicy.Fingerprint(e.HostKey);
            var verdict = options.HostKey.Verify(server.Host, server.Port, e.HostKeyName, e.HostKey);
            e.CanTrust = verdict.Trusted;
            if (verdict.Trusted)
            {
                accepted = fingerprint;
            }
            else
            {
                rejection = new SshHostKeyRejectedException(server, e.HostKeyName, fingerprint, verdict.Reason, verdict.Expected);
            }
        };

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);
        try
        {
            await client.ConnectAsync(timeout.Token).ConfigureAwait(false);
            QuickAck? quickAck = null;
            var blocking = false;
            if (SshFastPath.Enabled)
            {
                quickAck = SshFastPath.TuneSessionSocket(client, !options.KeepSshNetSocketBuffers, out blocking);
            }

            var session = new SshTunnelSession(client, credentials, server, accepted!, quickAck) { SocketMadeBlocking = blocking };
            session._connectTimeout = options.ConnectTimeout;
            session._serverAlive = ServerAliveProbe.TryStart(client, session._globalRequests, options.ServerAliveInterval, options.ServerAliveCountMax, silence =>
            {
                session._serverSilent = true;
                session._events.Post(() => session.ServerAliveTimedOut?.Invoke(session, new ServerAliveTimedOutEventArgs(silence)));
            });
            // Every answer to an open of SSH.NET's channels feeds ChannelOpenAnswered (the
            // self-healing forward's outage gate) on the receive thread, first, so that the gate
            // has counted it before the refusal is reported. Our own channels (ChannelMux) report
            // each answer on their route instead, matched to its open by channel number.
            ChannelOpenFailures.TrySubscribe(client, (channel, reason, description) =>
            {
                if (!ChannelMux.IsOurs(channel))
                {
                    session.ChannelOpenAnswered?.Invoke(false);
                }

                session._events.Post(() => session.ReportChannelOpenFailure(channel, reason, description));
            });
            ChannelOpenConfirmations.TrySubscribe(client, channel =>
            {
                if (!ChannelMux.IsOurs(channel))
                {
                    session.ChannelOpenAnswered?.Invoke(true);
                }
            });
            // Our own channels name their refused target; SSH.NET's are reported above.
            session._mux = ChannelMux.TryAttach(client, options.ConnectTimeout, (uint)options.ChannelWindowSize);
            if (session._mux is { } mux)
            {
                mux.ChannelRefused += e => session._events.Post(() => session.ChannelOpenFailed?.Invoke(session, new ForwardFailedEventArgs(e)));
            }

            return session;
        }
        catch (Exception ex)
        {
            client.Dispose();
            Array.ForEach(credentials, c => c.Dispose());
            throw Translate(ex, server, methodNames, loaded.Description, rejection, options.ConnectTimeout, cancellationToken);
        }
    }

    private static Exception Translate(
        Exception ex, SshServerAddress server, string[] methods, string credentials, SshHostKeyRejectedException? rejection, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (rejection is not null)
        {
            return rejection;
        }

        return ex switch
        {
            OperationCanceledException when cancellationToken.IsCancellationRequested => ex,
            OperationCanceledException or SshOperationTimeoutException =>
                new SshServerUnreachableException(server, timedOut: true, $"no SSH handshake within {timeout.TotalSeconds:0.###} s", ex),
            SshAuthenticationException => new SshTunnelAuthenticationException(server, methods, credentials, ex),
            // The resolver's own words ("Name or service not known") do not say it was the name.
            SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData } se =>
                new SshServerUnreachableException(server, timedOut: false, $"{SshServerUnreachableException.NameNotResolvedText} ({se.Message})", ex) { NameNotResolved = true },
            SocketException se => new SshServerUnreachableException(server, timedOut: se.SocketErrorCode == SocketError.TimedOut, se.Message, ex),
            SshConnectionException => new SshServerUnreachableException(server, timedOut: false, $"the SSH handshake failed ({ex.Message})", ex),
            _ => ex,
        };
    }

    /// <summary>
    /// Opens a local forward: a listener on <c>127.0.0.1</c> on a port the OS picks (bound to
    /// port 0 and read back, so no other process can take it in between), whose connections the
    /// SSH server relays to <paramref name="remote"/> as it resolves it.
    /// </summary>
    /// <param name="remote">The target as the SSH server sees it, for example <c>tcp://server:5556</c>.</param>
    /// <returns>The open forward; connect sockets to its <see cref="LocalForward.LocalEndpoint"/>.</returns>
    /// <exception cref="ArgumentException"><paramref name="remote"/> is a wildcard (<c>*</c> or port 0), which cannot be connected to.</exception>
    /// <exception cref="ObjectDisposedException">The session is disposed.</exception>
    /// <exception cref="SshForwardException">The SSH connection is down, or the listener cannot be opened.</exception>
    public LocalForward OpenLocalForward(TcpEndpoint remote)
    {
        TcpEndpoint.RequireTarget(remote, nameof(remote));
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_client.IsConnected)
            {
                throw new SshForwardException(remote, "the SSH session is not connected");
            }

            var port = new ForwardedPortLocal("127.0.0.1", 0, remote.Host, (uint)remote.Port);
            var route = new ForwardRoute(remote, port, _mux, IsSessionLoss);
            ForwardListener? listener;
            try
            {
                _client.AddForwardedPort(port);
                port.Start();
                // Our accept loop in place of SSH.NET's (see ForwardListener); null: SSH.NET's is kept.
                listener = ForwardListener.TryStart(route);
            }
            catch (Exception ex) when (ex is SocketException or SshException or InvalidOperationException)
            {
                StopQuietly(port);
                port.Dispose();
                throw new SshForwardException(remote, ex.Message, ex);
            }

            var forward = new LocalForward(this, route, listener);
            _forwards.Add(forward);
            return forward;
        }
    }

    /// <summary>Closes a forward's listener and its channels; called by <see cref="LocalForward.Dispose"/>.</summary>
    internal void Close(LocalForward forward, ForwardRoute route, ForwardListener? listener)
    {
        lock (_gate)
        {
            if (!_forwards.Remove(forward))
            {
                return;
            }

            // What fails from here on is the close we asked for, not a forward failure.
            route.Close();
            // Stop accepting first, then close the channels (SSH.NET's Stop waits for its own).
            listener?.Dispose();
            _mux?.CloseChannelsOf(route);
            StopQuietly(route.Port);
            route.Port.Dispose();
        }
    }

    private void StopQuietly(ForwardedPortLocal port)
    {
        try
        {
            port.Stop();
            _client.RemoveForwardedPort(port);
        }
        catch (Exception ex) when (ex is SshException or ObjectDisposedException or InvalidOperationException)
        {
            // The session is already gone: the listener is closed by Dispose either way.
        }
    }

    /// <summary>
    /// Closes every forward (their listeners and channels), then the SSH connection
    /// (SSH_MSG_DISCONNECT, RFC 4253 section 11.1), blocking the calling thread meanwhile: SSH.NET
    /// waits for each forwarded port's channels to close and for its receive thread to end, which
    /// takes longer when the server is slow to answer. Prefer <see cref="DisposeAsync"/>.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposeStarted, 1) == 1)
        {
            return;
        }

        LocalForward[] forwards;
        lock (_gate)
        {
            forwards = [.. _forwards];
        }

        foreach (var forward in forwards)
        {
            forward.Dispose();
        }

        StopDetachedPorts();
        // An outstanding keep-alive probe holds the global request gate until it is answered,
        // which a server that stopped answering never does: stop it first.
        _serverAlive?.Dispose();
        try
        {
            _client.Disconnect();
        }
        catch (Exception ex) when (ex is SshException or ObjectDisposedException or SocketException)
        {
            // Already disconnected.
        }

        // After the disconnect: the server drops a connection's remote forwards with it (RFC 4254
        // section 7.1), so each close skips cancel-tcpip-forward, whose answer SSH.NET would
        // otherwise wait for (up to ConnectTimeout) from a server that may not answer.
        foreach (var remote in TakeRemoteForwards())
        {
            remote.Dispose();
        }

        DisposeStoppedPorts();

        lock (_gate)
        {
            _disposed = true;
        }

        _mux?.Dispose();

        _quickAck?.Dispose();
        _client.Dispose();
        Array.ForEach(_credentials, c => c.Dispose());
        _events.Complete();
    }

    /// <summary>
    /// Closes every forward, then the SSH connection, as <see cref="Dispose"/> does, without
    /// blocking the caller: the returned task completes when the connection is closed.
    /// </summary>
    /// <returns>A task that completes when the session is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        // SSH.NET 2026.0.0 has no asynchronous close: ForwardedPort.Stop waits for the port's
        // channels to close and BaseClient.Disconnect for its receive thread to end, both on the
        // calling thread, and there is no other way to close its session. So the whole close runs
        // on a thread of its own (LongRunning: it may block for seconds on a server that stopped
        // answering, which must not take a thread-pool thread the close itself may need), leaving
        // the caller's thread (a host's StopAsync, an event loop) free.
        await Task.Factory.StartNew(Dispose, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
    }
}
