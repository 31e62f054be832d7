using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// Half-close from the target's side (RFC 4254 section 5.3): a target that answers, shuts down
/// its sending side and goes on reading must still get everything the client sends after it saw
/// the end of the reply. Replays hierynomus/sshj#1048 (an EOF on the channel closed the whole
/// local socket instead of shutting down its sending side, so the other direction died with
/// "Socket closed") and sshnet/SSH.NET#1754 (what a forwarded-tcpip channel should do with the
/// server's EOF: the maintainer points at OpenSSH, which half-closes and keeps the other way open).
/// Our relay must map CHANNEL_EOF to shutdown(SHUT_WR), never to close, both through a local
/// forward (the EOF comes from sshd) and a remote one (the EOF goes to sshd).
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class TargetHalfCloseTests(SshdFixture sshd, ITestOutputHelper output)
{
    private const int RequestSize = 64 * 1024;
    private const int ReplySize = 512 * 1024;
    // More than the 2 MiB channel window: the relay has to keep reading after the EOF went out.
    private const int AfterSize = 3 * 1024 * 1024;
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Through_a_local_forward_a_target_that_half_closes_still_gets_what_the_client_sends_after()
    {
        using var target = HalfClosingTarget.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var forward = session.OpenLocalForward(target.Endpoint);

        await AssertOtherDirectionSurvivesAsync(forward.LocalPort, target, "local");
    }

    [Fact]
    public async Task Through_a_remote_forward_a_target_that_half_closes_still_gets_what_the_client_sends_after()
    {
        using var target = HalfClosingTarget.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var remote = session.OpenRemoteForward(new TcpEndpoint(SshdFixture.Loopback, 0), target.Endpoint);

        await AssertOtherDirectionSurvivesAsync(remote.ServerEndpoint.Port, target, "remote");
    }

    private async Task AssertOtherDirectionSurvivesAsync(int port, HalfClosingTarget target, string kind)
    {
        var request = RandomNumberGenerator.GetBytes(RequestSize);
        var after = RandomNumberGenerator.GetBytes(AfterSize);
        var watch = Stopwatch.StartNew();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(Functional);
        await client.SendAsync(request).WaitAsync(Functional);

        // The whole reply, then the end of the stream: the target's shutdown(SHUT_WR) came through.
        var reply = await ReadToEndAsync(client).WaitAsync(Functional);
        var replyAt = watch.Elapsed;
        Assert.Equal(ReplySize, reply.Length);
        Assert.Equal(HalfClosingTarget.ReplyFor(request), reply);

        // The other direction is still open: send after the EOF, then end it ourselves.
        await client.SendAsync(after).WaitAsync(Functional);
        client.Shutdown(SocketShutdown.Send);
        var result = await target.Result.WaitAsync(Functional);
        output.WriteLine($"{kind} forward: reply {ReplySize} B + EOF after {replyAt.TotalSeconds:0.00} s; the half-closed target then read {result.AfterEof} of {AfterSize} B in {(watch.Elapsed - replyAt).TotalSeconds:0.00} s; error: {result.Error ?? "none"}");
        Assert.Null(result.Error);
        Assert.Equal(RequestSize, result.Request.Length);
        Assert.Equal(AfterSize, result.AfterEof);
        Assert.Equal(SHA256.HashData(after), result.AfterHash);
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

    /// <summary>What the target saw on its one connection.</summary>
    private sealed record TargetResult(byte[] Request, long AfterEof, byte[] AfterHash, string? Error);

    /// <summary>
    /// Accepts one connection, reads a request, writes a reply derived from it, shuts down its
    /// sending side (as <c>sort</c>'s output ends, or an HTTP/1.0 server's answer), and then
    /// reads to the end, hashing what comes.
    /// </summary>
    private sealed class HalfClosingTarget : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly TaskCompletionSource<TargetResult> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private HalfClosingTarget()
        {
            _listener.Start();
            _ = ServeAsync();
        }

        public TcpEndpoint Endpoint => new("127.0.0.1", ((IPEndPoint)_listener.LocalEndpoint).Port);

        public Task<TargetResult> Result => _result.Task;

        public static HalfClosingTarget Start() => new();

        /// <summary>The reply to a request: its hash, repeated to <see cref="ReplySize"/> bytes.</summary>
        public static byte[] ReplyFor(byte[] request)
        {
            var hash = SHA256.HashData(request);
            var reply = new byte[ReplySize];
            for (var i = 0; i < reply.Length; i += hash.Length)
            {
                hash.CopyTo(reply.AsSpan(i));
            }

            return reply;
        }

        public void Dispose() => _listener.Stop();

        private async Task ServeAsync()
        {
            var request = new byte[RequestSize];
            long afterEof = 0;
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            try
            {
                using var peer = await _listener.AcceptSocketAsync();
                var got = 0;
                while (got < request.Length)
                {
                    var n = await peer.ReceiveAsync(request.AsMemory(got));
                    if (n == 0)
                    {
                        throw new IOException($"end of stream after {got} of {RequestSize} request bytes");
                    }

                    got += n;
                }

                await peer.SendAsync(ReplyFor(request));
                peer.Shutdown(SocketShutdown.Send);
                var buffer = new byte[64 * 1024];
                int read;
                while ((read = await peer.ReceiveAsync(buffer)) > 0)
                {
                    afterEof += read;
                    hash.AppendData(buffer, 0, read);
                }

                _result.TrySetResult(new TargetResult(request, afterEof, hash.GetHashAndReset(), null));
            }
            catch (Exception ex) when (ex is SocketException or IOException or ObjectDisposedException)
            {
                _result.TrySetResult(new TargetResult(request, afterEof, [], $"{ex.GetType().Name}: {ex.Message} after {afterEof} B"));
            }
        }
    }
}
