using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// Bytes written just before a close are not lost. Replays apache/mina-sshd#33 (SSHD-85: "the last
/// few bytes of data sent through a port forward can be lost when the server at the far end sends
/// the data and immediately closes the socket", as an HTTP/1.0 server with Connection: close does;
/// its tests sleep on the client side to make the race certain). Here the closing side is the
/// target and then the client, through a local and a remote forward, with sizes from 1 byte to
/// more than the channel window, and a reader that only starts after the writer has closed.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class WriteThenCloseTests(SshdFixture sshd, ITestOutputHelper output)
{
    private static readonly int[] Sizes = [1, 1000, 100 * 1024, 5 * 1024 * 1024];
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ReaderLate = TimeSpan.FromMilliseconds(300);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_target_that_writes_and_closes_at_once_delivers_every_byte(bool remoteForward)
    {
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        foreach (var size in Sizes)
        {
            var payload = RandomNumberGenerator.GetBytes(size);
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var target = new TcpEndpoint("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port);
            var (port, forward) = Open(session, target, remoteForward);
            using var _ = forward;

            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(Functional);
            var watch = Stopwatch.StartNew();
            using (var accepted = await listener.AcceptSocketAsync().WaitAsync(Functional))
            {
                await accepted.SendAsync(payload).WaitAsync(Functional);
            }

            // The target's close has happened; only now does the client begin to read.
            await Task.Delay(ReaderLate);
            var back = await ReadToEndAsync(client).WaitAsync(Functional);
            output.WriteLine($"{Kind(remoteForward)} forward, target wrote {size} B and closed: the client read {back.Length} B and the end of the stream in {watch.Elapsed.TotalSeconds:0.00} s");
            Assert.Equal(size, back.Length);
            Assert.True(payload.AsSpan().SequenceEqual(back), $"{size} B: other bytes came through");
        }

        Assert.True(session.IsConnected);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_client_that_writes_and_closes_at_once_delivers_every_byte(bool remoteForward)
    {
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        foreach (var size in Sizes)
        {
            var payload = RandomNumberGenerator.GetBytes(size);
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var target = new TcpEndpoint("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port);
            var (port, forward) = Open(session, target, remoteForward);
            using var _ = forward;

            var watch = Stopwatch.StartNew();
            using (var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
            {
                await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(Functional);
                await client.SendAsync(payload).WaitAsync(Functional);
            }

            // The client's close has happened; only now does the target accept and read.
            await Task.Delay(ReaderLate);
            using var accepted = await listener.AcceptSocketAsync().WaitAsync(Functional);
            var got = await ReadToEndAsync(accepted).WaitAsync(Functional);
            output.WriteLine($"{Kind(remoteForward)} forward, client wrote {size} B and closed: the target read {got.Length} B and the end of the stream in {watch.Elapsed.TotalSeconds:0.00} s");
            Assert.Equal(size, got.Length);
            Assert.True(payload.AsSpan().SequenceEqual(got), $"{size} B: other bytes came through");
        }

        Assert.True(session.IsConnected);
    }

    private static string Kind(bool remoteForward) => remoteForward ? "remote" : "local";

    /// <summary>Opens a local or remote forward to <paramref name="target"/>, returning the port a client connects to.</summary>
    private static (int Port, IDisposable Forward) Open(SshTunnelSession session, TcpEndpoint target, bool remoteForward)
    {
        if (remoteForward)
        {
            var remote = session.OpenRemoteForward(new TcpEndpoint(SshdFixture.Loopback, 0), target);
            return (remote.ServerEndpoint.Port, remote);
        }

        var local = session.OpenLocalForward(target);
        return (local.LocalPort, local);
    }

    private static async Task<byte[]> ReadToEndAsync(Socket socket)
    {
        using var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int n;
        while ((n = await socket.ReceiveAsync(buffer)) > 0)
        {
            received.Write(buffer, 0, n);
        }

        return received.ToArray();
    }
}
