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
    private readonly ForwardListener? _listener;

    internal LocalForward(SshTunnelSession session, ForwardedPortLocal port, ForwardListener? listener, TcpEndpoint remote)
    {
        _session = session;
        _port = port;
        _listener = listener;
        Remote = remote;
        LocalPort = listener?.Port ?? checked((int)port.BoundPort);
        LocalEndpoint = new TcpEndpoint(IPAddress.Loopback.ToString(), LocalPort);
        // Surface what SSH.NET reports through this event (errors while opening or relaying a
        // channel, such as the session dropping). A channel open the server refuses (target down,
        // or not allowed by its PermitOpen) is NOT among them: SSH.NET 2026.0.0 closes that
        // connection without raising anything (ChannelDirectTcpip.Open returns, Bind is skipped).
        // With our own accept loop (ForwardListener) SSH.NET's channel code still raises it.
        _port.Exception += (_, e) => Failed?.Invoke(this, new SshForwardException(remote, e.Exception.Message, e.Exception));
        // ... so the refusal is heard on the session instead (ChannelOpenFailures).
        _session.ChannelOpenFailed += (_, e) =>
        {
            if (e.Remote == remote && _port.IsStarted)
            {
                Failed?.Invoke(this, e);
            }
        };
    }

    /// <summary>
    /// Raised when SSH.NET reports an error while opening or relaying a connection through the
    /// forward, for example when the SSH session fails while a channel is being opened.
    /// </summary>
    /// <remarks>
    /// A channel the SSH server refuses to open (the target is down, or the server's
    /// <c>PermitOpen</c> forbids it) is reported too, with the server's reason (RFC 4254 section
    /// 5.1), when the session's forwards all go to this target, since SSH does not say which
    /// forward a refused channel was for (<see cref="SshTunnelSession.ChannelOpenFailed"/>).
    /// The connecting socket sees its connection closed, and NetMQ reconnects.
    /// </remarks>
    public event EventHandler<SshForwardException>? Failed;

    /// <summary>Gets the target as the SSH server sees it.</summary>
    public TcpEndpoint Remote { get; }

    /// <summary>Gets the local TCP port the OS assigned, 1-65535.</summary>
    public int LocalPort { get; }

    /// <summary>Gets the endpoint to connect a socket to: <c>tcp://127.0.0.1:LocalPort</c>.</summary>
    public TcpEndpoint LocalEndpoint { get; }

    /// <summary>Gets a value indicating whether connections are accepted by our loop (<see cref="ForwardListener"/>) rather than SSH.NET's.</summary>
    internal bool UsesOwnListener => _listener is not null;

    /// <summary>Gets a value indicating whether the listener is open.</summary>
    public bool IsListening => _port.IsStarted;

    /// <summary>Closes the listener and every connection relayed through it, freeing the local port.</summary>
    public void Dispose() => _session.Close(this, _port, _listener);
}
