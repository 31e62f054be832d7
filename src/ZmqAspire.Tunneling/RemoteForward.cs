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

    /// <summary>Gets a value indicating whether the server is listening for this forward.</summary>
    public bool IsListening => _port.IsStarted;

    /// <summary>Asks the server to stop listening (<c>cancel-tcpip-forward</c>) and closes relayed connections.</summary>
    public void Dispose() => _session.Close(this, _port);
}
