using System.Net.Sockets;
using Renci.SshNet;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Where one local forward's connections go: the target, the SSH.NET port that holds the
/// forward open on the session, and the session's channel multiplexer when our own channels are
/// in use (<see cref="ChannelMux"/>; null: SSH.NET's channels relay, through the port). Failures
/// of this forward's channels are reported here, and only here, so that each names its own
/// target and reaches its own forward, however many forwards the session carries; the session's
/// loss is not one of them (the session reports it once, through its own event).
/// </summary>
internal sealed class ForwardRoute
{
    private volatile bool _closed;

    /// <summary>Creates the route and listens to the port's errors.</summary>
    /// <param name="remote">The target as the SSH server sees it.</param>
    /// <param name="port">SSH.NET's port for the forward.</param>
    /// <param name="mux">The session's multiplexer, or null when SSH.NET's channels are used.</param>
    /// <param name="isSessionLoss">Tells whether an error the port raised is the session's loss (<see cref="SshTunnelSession.IsSessionLoss"/>).</param>
    public ForwardRoute(TcpEndpoint remote, ForwardedPortLocal port, ChannelMux? mux, Func<Exception, bool> isSessionLoss)
    {
        Remote = remote;
        Port = port;
        Mux = mux;
        // SSH.NET's own channel code (the fallback) reports through the port, including the
        // local client's own reset or close seen while writing to it: that is no failure. So is
        // the session's loss, which SSH.NET hands to every started port, with a connection or
        // none: the session reports it through its own event (SshTunnelSession.ErrorOccurred,
        // SelfHealingForward.Disconnected); here it would name each target as failed.
        port.Exception += (_, e) =>
        {
            if (!IsLocalEnd(e.Exception) && !isSessionLoss(e.Exception))
            {
                Report(new SshForwardException(remote, e.Exception.Message, e.Exception));
            }
        };
    }

    /// <summary>Raised when a connection of this forward could not be relayed; never after <see cref="Close"/>.</summary>
    public event Action<SshForwardException>? Failed;

    /// <summary>Raised when the SSH server answers a channel open of this forward made by our own channels (<see cref="Mux"/>): true confirmed, false refused.</summary>
    public event Action<bool>? Answered;

    /// <summary>Gets the target as the SSH server sees it.</summary>
    public TcpEndpoint Remote { get; }

    /// <summary>Gets SSH.NET's port for the forward.</summary>
    public ForwardedPortLocal Port { get; }

    /// <summary>Gets the session's multiplexer, or null when SSH.NET's channels are used.</summary>
    public ChannelMux? Mux { get; }

    /// <summary>Gets a value indicating whether the forward was closed on request.</summary>
    public bool IsClosed => _closed;

    /// <summary>Marks the forward closed: what fails from now on is our own doing, not a failure.</summary>
    public void Close() => _closed = true;

    private static bool IsLocalEnd(Exception error) =>
        error is SocketException { SocketErrorCode: SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown };

    /// <summary>Reports the server's answer to one of this forward's channel opens.</summary>
    public void OnAnswered(bool confirmed) => Answered?.Invoke(confirmed);

    /// <summary>Reports a failure of one of this forward's connections, unless the forward was closed on request.</summary>
    public void Report(SshForwardException error)
    {
        if (!_closed)
        {
            Failed?.Invoke(error);
        }
    }
}
