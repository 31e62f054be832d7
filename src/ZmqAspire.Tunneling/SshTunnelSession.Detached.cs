using Renci.SshNet;
using Renci.SshNet.Common;

namespace ZmqAspire.Tunneling;

/// <summary>What a <see cref="SelfHealingForward"/> needs from a session: a forwarded port without a listener of its own.</summary>
public sealed partial class SshTunnelSession
{
    private readonly List<ForwardRoute> _detached = [];

    /// <summary>
    /// Raised when the SSH server refuses to open a forward's channel (RFC 4254 section 5.1: the
    /// target is down, or not allowed by the server's <c>PermitOpen</c>). SSH.NET itself only
    /// closes the connection; the exception names the reason and the server's description.
    /// </summary>
    /// <remarks>The exception names the refused channel's target. (Only when this SSH.NET's
    /// internals cannot be reached, and SSH.NET's own channels are used, is the target known just
    /// when the session's forwards all go to one target; else it is <c>?</c>.)</remarks>
    public event EventHandler<ForwardFailedEventArgs>? ChannelOpenFailed;

    /// <summary>Opens a forwarded port whose connections are accepted elsewhere (by a <see cref="SelfHealingForward"/>'s listener).</summary>
    /// <exception cref="SshForwardException">The session is down.</exception>
    internal ForwardRoute OpenDetachedPort(TcpEndpoint remote)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_client.IsConnected)
            {
                throw new SshForwardException(remote, "the SSH session is not connected");
            }

            var port = new ForwardedPortLocal("127.0.0.1", 0, remote.Host, (uint)remote.Port);
            try
            {
                _client.AddForwardedPort(port);
                port.Start();
                SshFastPath.CloseBuiltInListener(port);
            }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException or SshException or InvalidOperationException)
            {
                StopQuietly(port);
                port.Dispose();
                throw new SshForwardException(remote, ex.Message, ex);
            }

            var route = new ForwardRoute(remote, port, _mux, IsSessionLoss);
            _detached.Add(route);
            return route;
        }
    }

    /// <summary>A refusal heard on the session: ours are reported by <see cref="ChannelMux"/> with their target; this is for SSH.NET's channels.</summary>
    private void ReportChannelOpenFailure(uint channel, uint reason, string description)
    {
        if (_mux is not null && ChannelMux.IsOurs(channel))
        {
            return;
        }

        // SSH.NET keeps no link from its channel to the forward: the target is known only when
        // all forwards go to one.
        TcpEndpoint? target;
        ForwardRoute[] routes;
        lock (_gate)
        {
            routes = [.. _forwards.Select(f => f.Route), .. _detached];
            var targets = routes.Select(r => r.Remote).Distinct().ToList();
            target = targets.Count == 1 ? targets[0] : null;
        }

        var exception = new SshForwardException(
            target ?? new TcpEndpoint("?", 1),
            $"the SSH server {Server} could not open a channel to it ({ChannelOpenFailures.ReasonName(reason)}: {description})");
        ChannelOpenFailed?.Invoke(this, new ForwardFailedEventArgs(exception));
        if (target is not null)
        {
            Array.ForEach(routes, r => r.Report(exception));
        }
    }

    private void StopDetachedPorts()
    {
        ForwardRoute[] routes;
        lock (_gate)
        {
            routes = [.. _detached];
            _detached.Clear();
        }

        foreach (var route in routes)
        {
            route.Close();
            _mux?.CloseChannelsOf(route);
            StopQuietly(route.Port);
            route.Port.Dispose();
        }
    }
}
