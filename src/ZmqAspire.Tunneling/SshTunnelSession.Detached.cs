using Renci.SshNet;
using Renci.SshNet.Common;

namespace ZmqAspire.Tunneling;

/// <summary>What a <see cref="SelfHealingForward"/> needs from a session: a forwarded port without a listener of its own.</summary>
public sealed partial class SshTunnelSession
{
    private readonly List<ForwardedPortLocal> _detached = [];

    /// <summary>
    /// Raised when the SSH server refuses to open a forward's channel (RFC 4254 section 5.1: the
    /// target is down, or not allowed by the server's <c>PermitOpen</c>). SSH.NET itself only
    /// closes the connection; the exception names the reason and the server's description.
    /// </summary>
    /// <remarks>SSH does not say which forward the refused channel was for: the exception names
    /// the target when the session has exactly one forward, else <c>?</c>.</remarks>
    public event EventHandler<SshForwardException>? ChannelOpenFailed;

    /// <summary>Opens a forwarded port whose connections are accepted elsewhere (by a <see cref="SelfHealingForward"/>'s listener).</summary>
    /// <exception cref="SshForwardException">The session is down.</exception>
    internal ForwardedPortLocal OpenDetachedPort(TcpEndpoint remote)
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

            _detached.Add(port);
            return port;
        }
    }

    private void ReportChannelOpenFailure(uint reason, string description)
    {
        TcpEndpoint? target;
        lock (_gate)
        {
            var targets = _forwards.Select(f => f.Remote)
                .Concat(_detached.Select(p => new TcpEndpoint(p.Host, (int)p.Port)))
                .Distinct().ToList();
            target = targets.Count == 1 ? targets[0] : null;
        }

        var exception = new SshForwardException(
            target ?? new TcpEndpoint("?", 1),
            $"the SSH server {Server} could not open a channel to it ({ChannelOpenFailures.ReasonName(reason)}: {description})");
        ChannelOpenFailed?.Invoke(this, exception);
    }

    private void StopDetachedPorts()
    {
        ForwardedPortLocal[] ports;
        lock (_gate)
        {
            ports = [.. _detached];
            _detached.Clear();
        }

        foreach (var port in ports)
        {
            StopQuietly(port);
            port.Dispose();
        }
    }
}
