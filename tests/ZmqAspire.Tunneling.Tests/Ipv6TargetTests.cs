using System.Net;
using System.Net.Sockets;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// A target that listens on IPv6 loopback only is reached both ways. Replays sshnet/SSH.NET#770
/// and microsoft/dev-tunnels-ssh#62 (a forward to a server bound to one address family only),
/// rssh-org/rssh#79 (a remote forward's connect to an IPv6 literal target built an invalid
/// address) and mfat/sshpilot#745 (local forwarding that did not work with IPv6): ZeroMQ servers
/// bound to <c>tcp://[::1]:port</c> must be reachable through the tunnel.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class Ipv6TargetTests(SshdFixture sshd)
{
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_local_forward_reaches_a_target_on_ipv6_loopback()
    {
        using var target = Ipv6Echo.Start();
        var remote = TcpEndpoint.Parse($"tcp://[::1]:{target.Port}");
        Assert.Equal("::1", remote.Host);
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var forward = session.OpenLocalForward(remote);

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, forward.LocalPort).WaitAsync(Functional);
        Assert.Equal("over v6", await EchoAsync(client, "over v6"));
    }

    [Fact]
    public async Task A_remote_forward_connects_to_a_target_on_ipv6_loopback()
    {
        using var target = Ipv6Echo.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var forward = session.OpenRemoteForward(new TcpEndpoint(SshdFixture.Loopback, 0), TcpEndpoint.Parse($"tcp://[::1]:{target.Port}"));
        var failures = new List<Exception>();
        forward.Failed += (_, e) => failures.Add(e.Error);

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, forward.ServerEndpoint.Port).WaitAsync(Functional);
        Assert.Equal("back over v6", await EchoAsync(client, "back over v6"));
        Assert.Empty(failures);
    }

    private static async Task<string> EchoAsync(Socket client, string text)
    {
        var payload = System.Text.Encoding.ASCII.GetBytes(text);
        await client.SendAsync(payload).WaitAsync(Functional);
        var back = new byte[payload.Length];
        var got = 0;
        while (got < back.Length)
        {
            var n = await client.ReceiveAsync(back.AsMemory(got)).AsTask().WaitAsync(Functional);
            Assert.True(n > 0, $"the relay closed after {got} bytes");
            got += n;
        }

        return System.Text.Encoding.ASCII.GetString(back);
    }

    /// <summary>An echo server on [::1] only (IPV6_V6ONLY: nothing on 127.0.0.1).</summary>
    private sealed class Ipv6Echo : IDisposable
    {
        private readonly Socket _listener;

        private Ipv6Echo()
        {
            _listener = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp) { DualMode = false };
            _listener.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
            _listener.Listen(16);
            _ = AcceptAsync();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

        public static Ipv6Echo Start() => new();

        public void Dispose() => _listener.Dispose();

        private async Task AcceptAsync()
        {
            while (true)
            {
                Socket peer;
                try
                {
                    peer = await _listener.AcceptAsync();
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                    return;
                }

                _ = Task.Run(async () =>
                {
                    using var _ = peer;
                    var buffer = new byte[4096];
                    try
                    {
                        int n;
                        while ((n = await peer.ReceiveAsync(buffer)) > 0)
                        {
                            await peer.SendAsync(buffer.AsMemory(0, n));
                        }
                    }
                    catch (SocketException)
                    {
                        // Reset by the relay.
                    }
                });
            }
        }
    }
}
