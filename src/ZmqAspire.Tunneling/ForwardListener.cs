using System.Net;
using System.Net.Sockets;
using Renci.SshNet;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Our accept loop for a local forward, in place of <see cref="ForwardedPortLocal"/>'s own:
/// accepts on <c>127.0.0.1:0</c> and hands each connection to our own channels
/// (<see cref="ChannelMux"/>, which reads each connection on a thread of its own) or, when SSH.NET's
/// internals cannot be reached, on a thread of its own to SSH.NET's channel code
/// (<see cref="SshFastPath.ProcessAccept"/>), which opens the direct-tcpip channel and relays
/// until either end closes.
/// </summary>
/// <remarks>
/// SSH.NET 2026.0.0's accept loop has two faults that this replaces (without changing how
/// channels work; SSH.NET offers no public way to open a direct-tcpip channel, sshnet/SSH.NET#732):
/// <list type="bullet">
/// <item>Its completion handler starts the next accept before relaying the accepted connection,
/// and when that accept completes at once (another connection was already queued, as when
/// several sockets connect together) it relays the newer connection first, on the same thread,
/// for as long as that connection lives: the older one is accepted but gets no channel and
/// hangs. The benchmark's four concurrent REQ clients hit it every run (no reply in 30 s).</item>
/// <item>Each relayed connection blocks a thread-pool thread for its whole life; on a two-core
/// machine the third connection waits for the pool to grow (about half a second per thread),
/// and everything else on the pool (timers, async I/O, the app's own work) queues behind.</item>
/// </list>
/// Here accepts never wait for relays, and every relay gets a dedicated background thread.
/// </remarks>
internal sealed class ForwardListener : IDisposable
{
    private readonly Socket _listener;
    private readonly Func<ForwardRoute?> _currentRoute;
    private readonly Action<ForwardedPortLocal, Socket>? _processAccept;
    private readonly string _threadName;
    private int _disposed;
    private int _handingOver;

    // A self-healing forward's route may wait for a session (ConnectionGate): then it is asked on
    // the connection's own thread, never on the accept loop, which must go on accepting.
    private bool _routeMayBlock;

    private ForwardListener(Socket listener, Func<ForwardRoute?> currentRoute, Action<ForwardedPortLocal, Socket>? processAccept, TcpEndpoint remote)
    {
        _listener = listener;
        _currentRoute = currentRoute;
        _processAccept = processAccept;
        _threadName = $"ZmqAspire.Tunneling relay to {remote}";
        Port = ((IPEndPoint)listener.LocalEndPoint!).Port;
    }

    /// <summary>Gets the local port connections are accepted on.</summary>
    public int Port { get; }

    /// <summary>
    /// Gets how many accepted connections have no channel yet: their relay thread has not asked
    /// for a route, or waits for one (parked while there is no session). Our channels count a
    /// connection from the moment it is handed to them (<see cref="ChannelMux.ChannelCount"/>).
    /// </summary>
    public int HandingOver => Volatile.Read(ref _handingOver);

    /// <summary>
    /// Replaces a started port's listener with ours. Returns null (and leaves the port's own
    /// listener in use) when SSH.NET lacks the members it needs, or when the fast path is off and
    /// SSH.NET's channels are in use (with our channels, ours is needed whatever the fast path:
    /// SSH.NET's listener would hand connections to its own channels).
    /// </summary>
    /// <exception cref="SocketException">The listener cannot be opened.</exception>
    public static ForwardListener? TryStart(ForwardRoute route)
    {
        if (route.Mux is null ? !SshFastPath.CanReplaceListener : !SshFastPath.CanCloseBuiltInListener)
        {
            return null;
        }

        var port = route.Port;
        var forward = new ForwardListener(Listen(), () => route, SshFastPath.ProcessAccept, route.Remote);
        // The port stops on its own when the SSH session fails: stop accepting with it.
        port.Closing += (_, _) => forward.Dispose();
        SshFastPath.CloseBuiltInListener(port);
        _ = forward.AcceptLoopAsync();
        return forward;
    }

    /// <summary>
    /// Opens a listener that outlives SSH sessions (<see cref="SelfHealingForward"/>): each
    /// connection is relayed through the route <paramref name="currentRoute"/> gives, or closed
    /// when it gives none. It is called on the connection's own thread and may block it until the
    /// connection can be relayed (<see cref="ConnectionGate"/> parks connections while there is no
    /// session, rather than closing them into a reconnect storm).
    /// </summary>
    /// <param name="remote">The target, for the relay threads' names.</param>
    /// <param name="currentRoute">Gives the route to relay a new connection through; may block.</param>
    /// <param name="bind">The local address and port to listen on; default <c>127.0.0.1:0</c> (the OS picks the port).</param>
    /// <exception cref="NotSupportedException">SSH.NET lacks the members our accept loop needs.</exception>
    /// <exception cref="SocketException">The listener cannot be opened (a fixed port is in use, say).</exception>
    public static ForwardListener StartDetached(TcpEndpoint remote, Func<ForwardRoute?> currentRoute, IPEndPoint? bind = null)
    {
        var processAccept = SshFastPath.ProcessAccept;
        if ((processAccept is null && !ChannelMux.Enabled) || !SshFastPath.CanCloseBuiltInListener)
        {
            throw new NotSupportedException("This SSH.NET version does not let a forward keep its local port across sessions (ForwardedPortLocal.ProcessAccept not found).");
        }

        var forward = new ForwardListener(Listen(bind), currentRoute, processAccept, remote) { _routeMayBlock = true };
        _ = forward.AcceptLoopAsync();
        return forward;
    }

    private static Socket Listen(IPEndPoint? bind = null)
    {
        bind ??= new IPEndPoint(IPAddress.Loopback, 0);
        var listener = new Socket(bind.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            listener.Bind(bind);
            listener.Listen(128);
            return listener;
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    /// <summary>Stops accepting; relayed connections are closed by stopping the port.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _listener.Dispose();
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (Volatile.Read(ref _disposed) == 0)
        {
            Socket connection;
            try
            {
                connection = await _listener.AcceptAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException) when (Volatile.Read(ref _disposed) != 0)
            {
                return;
            }
            catch (SocketException)
            {
                // For example out of descriptors: keep the forward, retry shortly.
                await Task.Delay(100).ConfigureAwait(false);
                continue;
            }

            // Accepted sockets inherit TCP_NODELAY from the listener on Linux, not everywhere.
            connection.NoDelay = true;
            if (!_routeMayBlock && TryRelayOnOwnChannel(connection, _currentRoute()))
            {
                continue;
            }

            // Counted until the relay thread has handed it to a channel: a client that wrote and
            // closed at once must not look gone to an owner waiting for relayed connections.
            Interlocked.Increment(ref _handingOver);
            var thread = new Thread(() => Relay(connection))
            {
                IsBackground = true,
                Name = _threadName,
            };
            thread.Start();
        }
    }

    /// <summary>Relays on our own channel when the route has one (the open is asynchronous; the relay starts its own reader thread).</summary>
    private static bool TryRelayOnOwnChannel(Socket connection, ForwardRoute? route)
    {
        if (route is { Mux: { } mux, IsClosed: false } && route.Port.IsStarted)
        {
            _ = mux.RelayDirectAsync(connection, route);
            return true;
        }

        return false;
    }

    private void Relay(Socket connection)
    {
        ForwardRoute? current;
        try
        {
            current = _currentRoute();
            if (_routeMayBlock && TryRelayOnOwnChannel(connection, current))
            {
                return;
            }
        }
        finally
        {
            // Our channels count it from here (it is registered before TryRelayOnOwnChannel
            // returns); otherwise it is closed, or relayed by SSH.NET's channels, below.
            Interlocked.Decrement(ref _handingOver);
        }

        var port = current is { IsClosed: false } route ? route.Port : null;
        if (port is null || !port.IsStarted || _processAccept is null)
        {
            // Nothing to relay through (the forward or its port stopped): close.
            connection.Dispose();
            return;
        }

        try
        {
            // Returns when the channel or the connection closes; reports errors through the
            // port's Exception event and closes the connection itself.
            _processAccept(port, connection);
        }
        catch (Exception ex) when (ex is NullReferenceException or ObjectDisposedException or InvalidOperationException)
        {
            // The port was disposed while this connection was being accepted.
            connection.Dispose();
        }
    }
}
