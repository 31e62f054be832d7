using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// Disposing a remote forward ends the connections it relays, not only sshd's listener, in
/// bounded time, while they stream both ways; the session stays up. Replays
/// microsoft/vscode-remote-release#2237 ("Port stays open after stopping forwarding": the VNC
/// session through the stopped forward went on working) for <c>ssh -R</c>: after
/// cancel-tcpip-forward (RFC 4254 section 7.1) the forwarded-tcpip channels we relay are ours to close.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class RemoteForwardDisposeTests(SshdFixture sshd, ITestOutputHelper output)
{
    private const int Peers = 5;
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan DisposeBound = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Disposing_a_remote_forward_closes_its_streaming_connections_and_keeps_the_session()
    {
        using var target = FloodServer.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        var mux = session.Mux;
        Assert.NotNull(mux);
        var remote = session.OpenRemoteForward(new TcpEndpoint(SshdFixture.Loopback, 0), target.Endpoint);
        var port = remote.ServerEndpoint.Port;

        // Peers on the server side that upload without reading while the target floods them.
        long uploaded = 0;
        using var stop = new CancellationTokenSource();
        var (peers, uploads) = await StreamingPeer.ConnectUploadersAsync(port, Peers, n => Interlocked.Add(ref uploaded, n), stop.Token, Functional);

        var watch = Stopwatch.StartNew();
        while ((mux.ChannelCount < Peers || target.Written < Peers * 1024L * 1024 || Interlocked.Read(ref uploaded) < Peers * 1024L * 1024) && watch.Elapsed < Functional)
        {
            await Task.Delay(100);
        }

        var channelsDuring = mux.ChannelCount;
        watch.Restart();
        remote.Dispose();
        var disposed = watch.Elapsed;
        var ends = await Task.WhenAll(peers.Select(StreamingPeer.DrainUntilEndAsync)).WaitAsync(Functional);
        var endedAt = watch.Elapsed;
        await stop.CancelAsync();
        await Task.WhenAll(uploads).WaitAsync(Functional);
        while (mux.ChannelCount > 0 && watch.Elapsed < Functional)
        {
            await Task.Delay(20);
        }

        var listening = TcpTable.CountAt(port, "0A");
        output.WriteLine(
            $"{Peers} server-side peers, {target.Written / 1048576.0:0.0} MiB down and {Interlocked.Read(ref uploaded) / 1048576.0:0.0} MiB up before the windows filled; {channelsDuring} channels; " +
            $"Dispose returned after {disposed.TotalSeconds:0.000} s, every peer saw its end after {endedAt.TotalSeconds:0.000} s ({ends.Count(e => e)} by end of stream, {ends.Count(e => !e)} by reset); " +
            $"channels left {mux.ChannelCount} after {watch.Elapsed.TotalSeconds:0.000} s; listeners on the server port {listening}; session connected {session.IsConnected}");
        foreach (var peer in peers)
        {
            peer.Dispose();
        }

        Assert.Equal(Peers, channelsDuring);
        Assert.True(disposed < DisposeBound, $"Dispose took {disposed.TotalSeconds:0.000} s");
        Assert.Equal(0, mux.ChannelCount);
        Assert.Equal(0, listening);
        Assert.True(session.IsConnected);
    }
}
