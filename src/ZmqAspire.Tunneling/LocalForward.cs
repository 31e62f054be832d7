using System.Net;
using Renci.SshNet;

namespace ZmqAspire.Tunneling;

/// <summary>
/// A listener on <c>127.0.0.1</c> whose connections an <see cref="SshTunnelSession"/> relays to
/// a remote endpoint (the <c>ssh -L 127.0.0.1:0:host:port</c> of one forward).
/// </summary>
public sealed class LocalForward : IDisposable
{
    private readonly SshTunnelSession _session;
    private readonly ForwardedPortLocal _port;

    internal LocalForward(SshTunnelSession session, ForwardedPortLocal port, TcpEndpoint remote)
    {
        _session = session;
        _port = port;
        Remote = remote;
        LocalPort = checked((int)port.BoundPort);
        LocalEndpoint = new TcpEndpoint(IPAddress.Loopback.ToString(), LocalPort);
        // SSH.NET reports a refused channel open (target down, or not allowed by the server's
        // PermitOpen) only through this event: surface it instead of losing it.
        _port.Exception += (_, e) => Failed?.Invoke(this, new SshForwardException(remote, e.Exception.Message, e.Exception));
    }

    /// <summary>Raised when a connection through the forward fails, for example when the SSH server refuses to open the channel.</summary>
    public event EventHandler<SshForwardException>? Failed;

    /// <summary>Gets the target as the SSH server sees it.</summary>
    public TcpEndpoint Remote { get; }

    /// <summary>Gets the local TCP port the OS assigned, 1-65535.</summary>
    public int LocalPort { get; }

    /// <summary>Gets the endpoint to connect a socket to: <c>tcp://127.0.0.1:LocalPort</c>.</summary>
    public TcpEndpoint LocalEndpoint { get; }

    /// <summary>Gets a value indicating whether the listener is open.</summary>
    public bool IsListening => _port.IsStarted;

    /// <summary>Closes the listener and every connection relayed through it, freeing the local port.</summary>
    public void Dispose() => _session.Close(this, _port);
}
