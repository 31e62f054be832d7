using System.Net;

namespace ZmqAspire.Tunneling;

/// <summary>
/// A listener on <c>127.0.0.1</c> whose connections an <see cref="SshTunnelSession"/> relays to
/// a remote endpoint (the <c>ssh -L 127.0.0.1:0:host:port</c> of one forward).
/// </summary>
public sealed class LocalForward : IDisposable
{
    private readonly SshTunnelSession _session;
    private readonly ForwardListener? _listener;

    internal LocalForward(SshTunnelSession session, ForwardRoute route, ForwardListener? listener)
    {
        _session = session;
        Route = route;
        _listener = listener;
        Remote = route.Remote;
        LocalPort = listener?.Port ?? checked((int)route.Port.BoundPort);
        LocalEndpoint = new TcpEndpoint(IPAddress.Loopback.ToString(), LocalPort);
        // Every failure of this forward's connections, and only of its own (ForwardRoute): a
        // refused channel, a channel open the server did not answer, or SSH.NET's channel
        // errors when its channels are in use. Never the close asked for by Dispose, nor the
        // session's loss (the session's own ErrorOccurred).
        route.Failed += e => Failed?.Invoke(this, new ForwardFailedEventArgs(e));
    }

    /// <summary>
    /// Raised when a connection could not be relayed through this forward: its channel was
    /// refused, or not answered in time, or SSH.NET's channel failed relaying it. Not raised for
    /// a connection the local client resets or closes, for connections closed by
    /// <see cref="Dispose"/>, nor for the SSH session's loss, which ends every forward's
    /// connections at once and is reported once, by <see cref="SshTunnelSession.ErrorOccurred"/>.
    /// </summary>
    /// <remarks>
    /// A channel the SSH server refuses to open (the target is down, or the server's
    /// <c>PermitOpen</c> forbids it) is reported too, with the server's reason (RFC 4254 section
    /// 5.1) and this forward's target, on this forward only
    /// (and on <see cref="SshTunnelSession.ChannelOpenFailed"/>).
    /// The connecting socket sees its connection closed, and NetMQ reconnects.
    /// </remarks>
    public event EventHandler<ForwardFailedEventArgs>? Failed;

    /// <summary>Gets the target as the SSH server sees it.</summary>
    public TcpEndpoint Remote { get; }

    /// <summary>Gets the local TCP port the OS assigned, 1-65535.</summary>
    public int LocalPort { get; }

    /// <summary>Gets the endpoint to connect a socket to: <c>tcp://127.0.0.1:LocalPort</c>.</summary>
    public TcpEndpoint LocalEndpoint { get; }

    /// <summary>Gets where this forward's connections go, and where their failures are reported.</summary>
    internal ForwardRoute Route { get; }

    /// <summary>Gets a value indicating whether connections are accepted by our loop (<see cref="ForwardListener"/>) rather than SSH.NET's.</summary>
    internal bool UsesOwnListener => _listener is not null;

    /// <summary>Gets a value indicating whether the listener is open.</summary>
    public bool IsListening => Route.Port.IsStarted && !Route.IsClosed;

    /// <summary>Closes the listener and every connection relayed through it, freeing the local port.</summary>
    public void Dispose() => _session.Close(this, Route, _listener);
}
