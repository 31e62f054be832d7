using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// A remote forward's relayed connections end with their peer on the server's side (RFC 4254
/// section 5.3: the server's SSH_MSG_CHANNEL_EOF/CLOSE closes the relay, whose close closes the
/// channel), as with <c>ssh -R</c>: nothing is left open on either side.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class RemoteRelayCloseTests(SshdFixture sshd, ITestOutputHelper output)
{
    private const int Cycles = 30;
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Relays_close_when_the_server_side_peer_closes_or_resets()
    {
        using var echo = EchoServer.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var remote = session.OpenRemoteForward(new TcpEndpoint(SshdFixture.Loopback, 0), echo.Endpoint);
        var serverPort = remote.ServerEndpoint.Port;

        var payload = "ping!"u8.ToArray();
        for (var i = 0; i < Cycles; i++)
        {
            // What a peer on the SSH server's side does: connect to sshd's listener.
            using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await peer.ConnectAsync(IPAddress.Loopback, serverPort).WaitAsync(Functional);
            await peer.SendAsync(payload).WaitAsync(Functional);
            var back = new byte[payload.Length];
            var got = 0;
            while (got < back.Length)
            {
                var n = await peer.ReceiveAsync(back.AsMemory(got)).AsTask().WaitAsync(Functional);
                Assert.True(n > 0, $"Cycle {i}: the relay closed before echoing.");
                got += n;
            }

            Assert.Equal(payload, back);
            if (i % 2 == 1)
            {
                peer.LingerState = new LingerOption(true, 0); // close with RST
            }
            else
            {
                peer.Shutdown(SocketShutdown.Both);
            }
        }

        // Within ~2 s: every relay connection to the echo server closed, and sshd holds no
        // accepted socket whose peer has gone (CLOSE_WAIT) on the forwarded port.
        var watch = Stopwatch.StartNew();
        int established, closeWait;
        do
        {
            await Task.Delay(100);
            established = TcpTable.CountTo(echo.Port, TcpTable.Established);
            closeWait = TcpTable.CountAt(serverPort, TcpTable.CloseWait);
        }
        while ((established > 0 || closeWait > 0) && watch.Elapsed < TimeSpan.FromSeconds(3));

        output.WriteLine($"after {watch.Elapsed.TotalSeconds:0.0} s: {established} relay connection(s) ESTABLISHED, {closeWait} CLOSE_WAIT in sshd; echo server accepted {echo.Accepted}");
        Assert.Equal(Cycles, echo.Accepted);
        Assert.True(established == 0, $"{established} relay connection(s) to the echo server are still ESTABLISHED after their peers closed.");
        Assert.True(closeWait == 0, $"sshd holds {closeWait} CLOSE_WAIT socket(s) on port {serverPort}.");
        Assert.True(session.IsConnected);
    }
}
