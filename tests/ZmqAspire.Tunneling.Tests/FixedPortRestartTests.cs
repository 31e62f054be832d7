using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// A forward on a fixed local port can be started again on that port at once after it is
/// disposed, even though the connections it relayed left TIME_WAIT sockets on it; and a port that
/// is taken is refused with the reason, while a later start on it (once free) works. Replays
/// hierynomus/sshj#26 ("LocalPortForwarding doesn't free the port after SSH is disconnected":
/// the next forwarder on the port fails with "Address already in use") and apache/mina-sshd#754
/// (after one bind error the forwarder cannot start again on that port). What a restarted
/// zmq-tunnel with <c>-L 5556:...</c> or a restarted client with a fixed local port does.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class FixedPortRestartTests(SshdFixture sshd, ITestOutputHelper output)
{
    private const int Connections = 20;
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_fixed_local_port_is_listened_on_again_at_once_after_its_relayed_connections_closed_from_the_forwards_side()
    {
        using var target = new TcpListener(IPAddress.Loopback, 0);
        target.Start();
        var targetEndpoint = new TcpEndpoint("127.0.0.1", ((IPEndPoint)target.LocalEndpoint).Port);
        _ = SayByeAndCloseAsync(target);
        var port = TestNet.FreePort();

        for (var round = 1; round <= 2; round++)
        {
            await using var forward = SelfHealingForward.Start(
                sshd.Options(ClientKey.Ed25519), [targetEndpoint], new SelfHealingForwardOptions { LocalPorts = [port] });
            Assert.Equal(port, forward.LocalPort);
            await forward.WaitUntilUpAsync(Functional);
            for (var i = 0; i < Connections; i++)
            {
                // The target closes first, so the forward's end closes first: TIME_WAIT is on our port.
                Assert.Equal("bye", await ReadToEndAsync(port));
            }

            var timeWait = TcpTable.Read().Count(s => s.LocalPort == port && s.State == "06");
            output.WriteLine($"round {round}: {Connections} connections relayed on fixed port {port}; {timeWait} TIME_WAIT sockets on it at dispose");
            Assert.True(round == 2 || timeWait > 0, "no TIME_WAIT socket on the fixed port: the replay did not set up what it replays");
        }
    }

    [Fact]
    public async Task A_taken_fixed_port_is_refused_as_in_use_and_the_same_port_works_once_it_is_free()
    {
        using var echo = EchoServer.Start();
        var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;
        try
        {
            var error = Assert.Throws<SocketException>(() => SelfHealingForward.Start(
                sshd.Options(ClientKey.Ed25519), [echo.Endpoint], new SelfHealingForwardOptions { LocalPorts = [port] }));
            Assert.Equal(SocketError.AddressAlreadyInUse, error.SocketErrorCode);
        }
        finally
        {
            holder.Stop();
        }

        await using var forward = SelfHealingForward.Start(
            sshd.Options(ClientKey.Ed25519), [echo.Endpoint], new SelfHealingForwardOptions { LocalPorts = [port] });
        await forward.WaitUntilUpAsync(Functional);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(Functional);
        await client.SendAsync("again"u8.ToArray()).WaitAsync(Functional);
        var back = new byte[5];
        var got = 0;
        while (got < back.Length)
        {
            var n = await client.ReceiveAsync(back.AsMemory(got)).AsTask().WaitAsync(Functional);
            Assert.True(n > 0, "the relay closed before echoing");
            got += n;
        }

        Assert.Equal("again"u8.ToArray(), back);
    }

    private static async Task<string> ReadToEndAsync(int port)
    {
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(Functional);
        var buffer = new byte[64];
        var got = 0;
        int n;
        while ((n = await client.ReceiveAsync(buffer.AsMemory(got)).AsTask().WaitAsync(Functional)) > 0)
        {
            got += n;
        }

        return System.Text.Encoding.ASCII.GetString(buffer, 0, got);
    }

    /// <summary>Writes "bye" to each connection and closes it at once, without waiting for the peer.</summary>
    private static async Task SayByeAndCloseAsync(TcpListener listener)
    {
        while (true)
        {
            Socket peer;
            try
            {
                peer = await listener.AcceptSocketAsync();
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                return;
            }

            using (peer)
            {
                try
                {
                    await peer.SendAsync("bye"u8.ToArray());
                    peer.Shutdown(SocketShutdown.Send);
                }
                catch (SocketException)
                {
                    // Gone already.
                }
            }
        }
    }
}
