using System.Net;
using System.Net.Sockets;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace ZmqAspire.Tunneling;

/// <summary>Remote forwards (RFC 4254, section 7.1, "tcpip-forward"): the <c>ssh -R</c> side of a session.</summary>
public sealed partial class SshTunnelSession
{
    private readonly List<RemoteForward> _remoteForwards = [];

    /// <summary>
    /// Remote forwards' SSH.NET ports that are stopped but not yet disposed: see
    /// <see cref="Close(RemoteForward, ForwardedPortRemote)"/>; disposed after the disconnect, when SSH.NET's receive thread has ended.
    /// </summary>
    private readonly List<ForwardedPortRemote> _stoppedPorts = [];

    /// <summary>
    /// SSH.NET's per-port event for "a global reply came": every port's handler sets its own on
    /// every SSH_MSG_REQUEST_SUCCESS/FAILURE of the session, whatever request it answers, so a
    /// port's is usually already set when it sends cancel-tcpip-forward. Reset first, Stop waits
    /// for the answer to its own cancel (the global request gate lets no other request be out).
    /// </summary>
    private static readonly System.Reflection.FieldInfo? GlobalReplyEvent =
        typeof(ForwardedPortRemote).GetField("_globalRequestResponse", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance);

    /// <summary>
    /// Asks the SSH server to listen on <paramref name="listen"/> (as the server sees it) and to
    /// relay every connection it accepts back through this session to <paramref name="target"/>,
    /// as this process resolves it: <c>ssh -R listen:target</c>. This is how a socket that must
    /// <c>bind</c> behind the bastion becomes reachable from the bastion's side.
    /// </summary>
    /// <param name="listen">Where the SSH server listens; the wildcards are allowed here, as in
    /// <c>ssh -R</c>: port 0 lets the server pick (<c>tcp://127.0.0.1:0</c>), and <c>tcp://*:7000</c>
    /// or <c>tcp://0.0.0.0:7000</c> ask for all of its IPv4 addresses (SSH.NET sends the bind address
    /// as an IP address, so <c>*</c> goes as <c>0.0.0.0</c>; <c>tcp://[::]:7000</c> for IPv6). All
    /// addresses need <c>GatewayPorts clientspecified</c>; with <c>GatewayPorts no</c> (OpenSSH's default)
    /// the server listens on its loopback whatever is asked.</param>
    /// <param name="target">Where accepted connections go, for example a local NetMQ socket's
    /// <c>tcp://127.0.0.1:5556</c>: one host and a port from 1 to 65535.</param>
    /// <returns>The open remote forward; <see cref="RemoteForward.ServerEndpoint"/> gives the port the server chose.</returns>
    /// <exception cref="ArgumentException"><paramref name="target"/> is a wildcard (<c>*</c> or port 0).</exception>
    /// <exception cref="ObjectDisposedException">The session is disposed.</exception>
    /// <exception cref="SshForwardException">The server refused the request (for example <c>AllowTcpForwarding local</c>
    /// or a <c>PermitListen</c> that does not match), the session is down, or a host name in <paramref name="listen"/> or
    /// <paramref name="target"/> does not resolve here ("name not resolved", with the endpoint).</exception>
    public RemoteForward OpenRemoteForward(TcpEndpoint listen, TcpEndpoint target)
    {
        ArgumentNullException.ThrowIfNull(listen);
        TcpEndpoint.RequireTarget(target, nameof(target));
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_client.IsConnected)
            {
                throw new SshForwardException(listen, "the SSH session is not connected");
            }

            // SSH.NET's string overload resolves the listen host here, on the client, and rejects
            // 0.0.0.0 ("all of the server's addresses"); an address is passed through as given.
            var port = new ForwardedPortRemote(Address(listen), (uint)listen.Port, Address(target), (uint)target.Port);
            // Global replies answer requests in order: wait for an outstanding keep-alive probe's
            // answer first, so that neither takes the other's (ServerAliveProbe).
            if (!_globalRequests.Wait(_connectTimeout))
            {
                port.Dispose();
                throw new SshForwardException(listen, $"the SSH server did not answer a keep-alive probe within {_connectTimeout.TotalSeconds:0.###} s");
            }

            try
            {
                _client.AddForwardedPort(port);
                port.Start();
            }
            catch (Exception ex) when (ex is SshException or InvalidOperationException)
            {
                _client.RemoveForwardedPort(port);
                port.Dispose();
                throw new SshForwardException(listen, $"the SSH server refused to listen ({ex.Message})", ex);
            }
            finally
            {
                _globalRequests.Release();
            }

            var forward = new RemoteForward(this, port, new TcpEndpoint(listen.Host, checked((int)port.BoundPort)), target);
            // Our channels in place of SSH.NET's (ChannelMux): each closes with its peer (RFC 4254
            // section 5.3) and holds no thread; null: SSH.NET's relay is kept.
            forward.Relays = _mux?.TryTakeOverForwarded(port, forward.ReportFailure);
            _remoteForwards.Add(forward);
            return forward;
        }
    }

    /// <summary>
    /// The address SSH.NET's <see cref="ForwardedPortRemote"/> needs for a host, resolved here.
    /// A name that does not resolve is a refusal of this forward like any other
    /// (<see cref="SshForwardException"/> naming the endpoint), not the resolver's bare
    /// SocketException, which names no host (sshnet/SSH.NET#1234 resolves the same way and
    /// throws it; RemoteForwardNameTests).
    /// </summary>
    private static IPAddress Address(TcpEndpoint endpoint)
    {
        var host = endpoint.Host;
        if (host == TcpEndpoint.AnyHost)
        {
            return IPAddress.Any;
        }

        if (IPAddress.TryParse(host, out var address))
        {
            return address;
        }

        try
        {
            return Dns.GetHostAddresses(host) is [var first, ..]
                ? first
                : throw new SshForwardException(endpoint, $"{SshServerUnreachableException.NameNotResolvedText} (no address)");
        }
        catch (SocketException ex)
        {
            throw new SshForwardException(endpoint, $"{SshServerUnreachableException.NameNotResolvedText} ({ex.Message})", ex);
        }
    }

    /// <summary>Cancels a remote forward; called by <see cref="RemoteForward.Dispose"/>.</summary>
    internal void Close(RemoteForward forward, ForwardedPortRemote port)
    {
        lock (_gate)
        {
            if (!_remoteForwards.Remove(forward))
            {
                return;
            }

            forward.Relays?.Dispose();

            // cancel-tcpip-forward is a global request too (see OpenRemoteForward); a probe left
            // unanswered this long means the server is gone, and its listener with it.
            var gated = _globalRequests.Wait(_connectTimeout);
            try
            {
                (GlobalReplyEvent?.GetValue(port) as EventWaitHandle)?.Reset();
                port.Stop();
                _client.RemoveForwardedPort(port);
            }
            catch (Exception ex) when (ex is SshException or ObjectDisposedException or InvalidOperationException)
            {
                // The session is already gone, and the server's listener with it.
            }
            finally
            {
                if (gated)
                {
                    _globalRequests.Release();
                }
            }

            // Not disposed yet: SSH.NET's receive thread may still be running this port's reply
            // handler for a message whose handler list it took before Stop unsubscribed it, and
            // Dispose nulls the event that handler sets: the NullReferenceException on the
            // receive thread ended the whole session (1 in about 8 runs of ManyChannelsTests).
            _stoppedPorts.Add(port);
        }
    }

    /// <summary>Disposes the stopped ports; called once SSH.NET's receive thread has ended (after the disconnect).</summary>
    private void DisposeStoppedPorts()
    {
        ForwardedPortRemote[] ports;
        lock (_gate)
        {
            ports = [.. _stoppedPorts];
            _stoppedPorts.Clear();
        }

        foreach (var port in ports)
        {
            try
            {
                port.Dispose();
            }
            catch (Exception ex) when (ex is SshException or ObjectDisposedException or InvalidOperationException)
            {
                // Nothing is left to release.
            }
        }
    }

    private RemoteForward[] TakeRemoteForwards()
    {
        lock (_gate)
        {
            return [.. _remoteForwards];
        }
    }
}
