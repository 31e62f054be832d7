using NetMQ;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Connects NetMQ sockets through SSH tunnels: the counterparts of pyzmq's
/// <c>zmq.ssh.tunnel_connection</c> (<see cref="ConnectThroughTunnel"/>) and
/// <c>open_tunnel</c> (<see cref="SshTunnelSession.OpenLocalForward"/>). Works for every socket
/// type that connects (REQ, DEALER, SUB, PUSH, PULL, PAIR, ...).
/// </summary>
public static class NetMQTunnelExtensions
{
    /// <summary>
    /// Opens a local forward on <paramref name="session"/> to <paramref name="endpoint"/> (as the
    /// SSH server sees it) and connects <paramref name="socket"/> to the forward's local endpoint.
    /// </summary>
    /// <param name="socket">The socket to connect.</param>
    /// <param name="endpoint">The remote endpoint, <c>tcp://host:port</c>, as seen from the SSH server.</param>
    /// <param name="session">The SSH session to carry the forward.</param>
    /// <returns>The forward; dispose it after the socket (or after <c>socket.Disconnect</c>).</returns>
    /// <exception cref="FormatException"><paramref name="endpoint"/> is not a target <c>tcp://host:port</c>
    /// (see <see cref="TcpEndpoint.ParseTarget"/>: no <c>*</c>, a port from 1 to 65535).</exception>
    /// <exception cref="SshForwardException">The forward cannot be opened.</exception>
    public static LocalForward ConnectThroughTunnel(this NetMQSocket socket, string endpoint, SshTunnelSession session)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ArgumentNullException.ThrowIfNull(session);
        var forward = session.OpenLocalForward(TcpEndpoint.ParseTarget(endpoint));
        try
        {
            socket.Connect(forward.LocalEndpoint.ToString());
            return forward;
        }
        catch
        {
            forward.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The one-call form of pyzmq's <c>tunnel_connection(socket, addr, server)</c>: logs in to
    /// the SSH server, opens a forward to <paramref name="endpoint"/> and connects
    /// <paramref name="socket"/> to it.
    /// </summary>
    /// <param name="socket">The socket to connect.</param>
    /// <param name="endpoint">The remote endpoint, <c>tcp://host:port</c>, as seen from the SSH server.</param>
    /// <param name="options">How to reach and log in to the SSH server.</param>
    /// <param name="cancellationToken">Cancels the connection attempt.</param>
    /// <returns>The session (owning the forward); dispose it after the socket.</returns>
    /// <exception cref="FormatException"><paramref name="endpoint"/> is not a target <c>tcp://host:port</c>
    /// (see <see cref="TcpEndpoint.ParseTarget"/>); nothing was connected.</exception>
    /// <exception cref="SshTunnelException">Any failure of <see cref="SshTunnelSession.ConnectAsync"/> or of the forward.</exception>
    public static async Task<SshTunnelSession> ConnectThroughTunnelAsync(
        this NetMQSocket socket, string endpoint, SshTunnelOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(socket);
        _ = TcpEndpoint.ParseTarget(endpoint); // fail fast, before any network traffic
        var session = await SshTunnelSession.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
        try
        {
            socket.ConnectThroughTunnel(endpoint, session);
            return session;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }
}
