using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// A remote forward whose target here is not listening closes each server-side peer's connection
/// at once (SSH_MSG_CHANNEL_OPEN_FAILURE, RFC 4254 section 7.2, as <c>ssh -R</c> does with
/// "connect_to ... failed"), leaks no channel, keeps the session, and reaches the target once it
/// listens. Replays gravitational/teleport#48254 (<c>ssh -R</c> then <c>curl localhost:8080</c>
/// "hangs indefinitely" when the client cannot serve the forwarded connection) and, for the
/// remote direction, mscdex/ssh2#329 (refused forwards that pile up over one connection).
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class RemoteForwardClosedTargetTests(SshdFixture sshd, ITestOutputHelper output)
{
    private const int Attempts = 60;
    private const int Batch = 10;
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan ClosedWithin = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Peers_of_a_remote_forward_to_a_closed_target_are_closed_at_once_and_reach_it_once_it_listens()
    {
        var targetPort = TestNet.FreePort();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        var mux = session.Mux;
        Assert.NotNull(mux);
        using var remote = session.OpenRemoteForward(new TcpEndpoint(SshdFixture.Loopback, 0), new TcpEndpoint("127.0.0.1", targetPort));
        var port = remote.ServerEndpoint.Port;

        var watch = Stopwatch.StartNew();
        var slowest = TimeSpan.Zero;
        for (var done = 0; done < Attempts; done += Batch)
        {
            var times = await Task.WhenAll(Enumerable.Range(0, Batch).Select(_ => ConnectAndTimeCloseAsync(port)));
            slowest = times.Append(slowest).Max();
        }

        var elapsed = watch.Elapsed;
        while (mux.ChannelCount > 0 && watch.Elapsed < elapsed + Functional)
        {
            await Task.Delay(20);
        }

        var channelsLeft = mux.ChannelCount;

        // The target comes up on its port: the next peer gets through.
        using var listener = new TcpListener(IPAddress.Loopback, targetPort);
        listener.Start();
        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await peer.ConnectAsync(IPAddress.Loopback, port).WaitAsync(Functional);
        using var accepted = await listener.AcceptSocketAsync().WaitAsync(Functional);
        await accepted.SendAsync("up"u8.ToArray()).WaitAsync(Functional);
        var greeting = new byte[2];
        var got = 0;
        while (got < greeting.Length)
        {
            var n = await peer.ReceiveAsync(greeting.AsMemory(got)).AsTask().WaitAsync(Functional);
            Assert.True(n > 0, "the relay closed before the target's greeting came through");
            got += n;
        }

        output.WriteLine($"{Attempts} peers of a remote forward to a closed port: all closed in {elapsed.TotalSeconds:0.00} s, the slowest after {slowest.TotalSeconds:0.000} s; {channelsLeft} channels left; then the target listened and its greeting came through; session connected {session.IsConnected}");
        Assert.True(slowest < ClosedWithin, $"a peer waited {slowest.TotalSeconds:0.000} s for its connection to close");
        Assert.Equal(0, channelsLeft);
        Assert.Equal("up"u8.ToArray(), greeting);
        Assert.True(session.IsConnected);
    }

    /// <summary>Connects to sshd's forwarded port and returns how long until the connection was closed (end of stream or reset).</summary>
    private static async Task<TimeSpan> ConnectAndTimeCloseAsync(int port)
    {
        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var watch = Stopwatch.StartNew();
        await peer.ConnectAsync(IPAddress.Loopback, port).WaitAsync(Functional);
        try
        {
            var n = await peer.ReceiveAsync(new byte[16].AsMemory()).AsTask().WaitAsync(Functional);
            Assert.Equal(0, n);
        }
        catch (SocketException)
        {
            // Reset: closed all the same.
        }

        return watch.Elapsed;
    }
}
