using NetMQ;
using NetMQ.Sockets;
using ZmqAspire.Tunneling;

namespace ZmqAspire.Deployment.Tests;

/// <summary>
/// OUR side against a pyzmq peer: the tunnel library and the client container, through our
/// bastion, to the seed's pyzmq REP server. That server takes exactly one frame per request (see
/// interop/pyrep/rep_server.py), so these also show that our default requests (no trace
/// envelope) never break a peer that does not know the envelope.
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class TunnelToPyzmqTests(InteropFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Tunnel_library_reaches_the_pyzmq_rep_server()
    {
        var options = new SshTunnelOptions
        {
            Server = new SshServerAddress("tunnel", "127.0.0.1", fixture.Project.SshPort),
            HostKey = HostKeyPolicy.Pinned(fixture.Project.HostKeyFingerprint),
            PrivateKeyPath = fixture.Project.ClientKeyPath,
            ConnectTimeout = TimeSpan.FromSeconds(20),
        };
        using var socket = new RequestSocket();
        socket.Options.Linger = TimeSpan.Zero;
        using var session = await socket.ConnectThroughTunnelAsync("tcp://pyrep:5557", options);
        for (var n = 0; n < 3; n++)
        {
            socket.SendFrame("Hello");
            Assert.True(socket.TryReceiveFrameString(TimeSpan.FromSeconds(15), out var reply, out var more), $"no reply to request {n}");
            Assert.False(more);
            Assert.Equal("World from 5557", reply);
        }
    }

    [Fact]
    public async Task Client_container_gets_the_pyzmq_servers_replies()
    {
        var log = await fixture.Project.WaitForLogAsync("client-pyrep", "Received reply 2 [ World from 5557 ]", TimeSpan.FromSeconds(90));
        output.WriteLine(string.Join('\n', log.Split('\n').Where(l => l.Contains("Received reply") || l.Contains("SSH tunnel server up"))));
        Assert.Contains("Received reply 0 [ World from 5557 ]", log, StringComparison.Ordinal);
        Assert.Contains("Received reply 2 [ World from 5557 ]", log, StringComparison.Ordinal);

        var server = (await fixture.Project.ComposeAsync(["logs", "--no-color", "pyrep"])).Output;
        Assert.Contains("Received request: Hello", server, StringComparison.Ordinal);
        Assert.DoesNotContain("Traceback", server, StringComparison.Ordinal);
    }
}
