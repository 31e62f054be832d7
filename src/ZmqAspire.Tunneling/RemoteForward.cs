using Renci.SshNet;

namespace ZmqAspire.Tunneling;

/// <summary>
/// A listener on the SSH server whose connections are relayed back through the session to a
/// target this process reaches (the <c>ssh -R</c> of one forward).
/// </summary>
public sealed class RemoteForward : IDisposable
{
    private readonly SshTunnelSession _session;
    private readonly ForwardedPortRemote _port;

    internal RemoteForward(SshTunnelSession session, ForwardedPortRemote port, TcpEndpoint serverEndpoint, TcpEndpoint target)
    {
        _session = session;
        _port = port;
        ServerEndpoint = serverEndpoint;
        Target = target;
    }

    /// <summary>Gets where the SSH server listens, with the port it chose when 0 was asked: peers on the server's side connect here.</summary>
    public TcpEndpoint ServerEndpoint { get; }

    /// <summary>Gets where relayed connections go, as this process resolves it.</summary>
    public TcpEndpoint Target { get; }

    /// <summary>
    /// Raised when a connection the server accepted could not be relayed: the target refused it
    /// or is unreachable (the server's peer then sees its connection closed, and the server is
    /// told SSH_OPEN_CONNECT_FAILED, RFC 4254 section 5.1). Raised on a background thread.
    /// </summary>
    public event EventHandler<ForwardFailedEventArgs>? Failed;

    /// <summary>Gets our handling of the forward's channels (null: SSH.NET's); disposed on close.</summary>
    internal IDisposable? Relays { get; set; }

    /// <summary>Gets a value indicating whether the server is listening for this forward.</summary>
    public bool IsListening => _port.IsStarted;

    internal void ReportFailure(Exception error) =>
        Failed?.Invoke(this, new ForwardFailedEventArgs(new SshForwardException(Target, $"the connection to the target could not be made ({error.Message})", error)));

    /// <summary>Asks the server to stop listening (<c>cancel-tcpip-forward</c>) and closes relayed connections.</summary>
    public void Dispose() => _session.Close(this, _port);
}
