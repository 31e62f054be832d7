using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// A remote forward's relay closes its connection to the local target when the server closes
/// the channel (SSH_MSG_CHANNEL_CLOSE, RFC 4254 section 5.3) because the peer on the server's
/// side closed or reset. A target still sending then must learn it at once (a reset: what it
/// sends cannot be delivered), never wait on a zero window: the remote forward's side of
/// ChannelCloseRaceTests' local-forward check.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class RemoteCloseRaceTests(SshdFixture sshd, ITestOutputHelper output)
{
    private const int Many = 1500;
    private const int Parallel = 8;
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan StuckSend = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task A_target_still_sending_when_the_server_side_peer_closes_is_told_at_once_never_left_on_a_zero_window()
    {
        using var target = FloodingTarget.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var forward = session.OpenRemoteForward(new TcpEndpoint(SshdFixture.Loopback, 0), target.Endpoint);
        var serverPort = forward.ServerEndpoint.Port;
        var watch = Stopwatch.StartNew();
        var next = -1;
        var workers = Enumerable.Range(0, Parallel).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < Many && session.IsConnected)
            {
                await ReadThenCloseAsync(serverPort, i);
            }
        }));
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(300));
        var peersDone = watch.Elapsed;
        await target.AllEndedAsync().WaitAsync(Functional + StuckSend);
        output.WriteLine($"{Many} connections in {peersDone.TotalSeconds:0.0} s (the target's sends all ended {watch.Elapsed.TotalSeconds:0.0} s after the start); target accepted {target.Accepted}: {target.Reset} told by a reset or error, {target.Stuck} whose send was stuck {StuckSend.TotalSeconds:0} s after the peer closed, {target.NeverClosed} still open after {Functional.TotalSeconds:0} s");
        foreach (var evidence in target.Evidence)
        {
            output.WriteLine(evidence);
        }

        Assert.Equal(Many, target.Accepted);
        Assert.Equal(0, target.Stuck);
        Assert.Equal(0, target.NeverClosed);
        Assert.True(session.IsConnected);
    }

    /// <summary>
    /// What a peer on the SSH server's side does: connects to sshd's listener, reads 16 to 256 KiB
    /// of the target's stream, then closes with data unread (a reset), half the time with
    /// SO_LINGER 0: sshd then sends SSH_MSG_CHANNEL_EOF and CLOSE while the target is still sending.
    /// </summary>
    private static async Task ReadThenCloseAsync(int serverPort, int i)
    {
        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await peer.ConnectAsync(IPAddress.Loopback, serverPort).WaitAsync(Functional);
        var wanted = 16 * 1024 * (1 + (i % 16));
        var buffer = new byte[64 * 1024];
        var total = 0;
        while (total < wanted)
        {
            var n = await peer.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(Functional);
            Assert.True(n > 0, $"connection {i}: the relay closed after {total} bytes, before the peer did");
            total += n;
        }

        if (i % 2 == 0)
        {
            peer.LingerState = new LingerOption(true, 0);
        }
    }

    /// <summary>
    /// The local target: writes to each connection without pause until a send fails (the relay's
    /// close reached it) or waits <see cref="StuckSend"/> (counted, with the kernel's view of both
    /// ends of that connection from <c>ss -tnio</c>).
    /// </summary>
    private sealed class FloodingTarget : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly ConcurrentBag<Task> _floods = [];
        private int _accepted;
        private int _reset;
        private int _stuck;
        private int _neverClosed;

        private FloodingTarget()
        {
            _listener.Start(512);
            _ = AcceptAsync();
        }

        public TcpEndpoint Endpoint => new("127.0.0.1", Port);

        public int Accepted => Volatile.Read(ref _accepted);

        public int Reset => Volatile.Read(ref _reset);

        public int Stuck => Volatile.Read(ref _stuck);

        public int NeverClosed => Volatile.Read(ref _neverClosed);

        public ConcurrentQueue<string> Evidence { get; } = new();

        private int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public static FloodingTarget Start() => new();

        public Task AllEndedAsync() => Task.WhenAll(_floods);

        public void Dispose() => _listener.Stop();

        private async Task AcceptAsync()
        {
            while (true)
            {
                Socket relay;
                try
                {
                    relay = await _listener.AcceptSocketAsync();
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                    return;
                }

                Interlocked.Increment(ref _accepted);
                _floods.Add(Task.Run(() => FloodAsync(relay)));
            }
        }

        private async Task FloodAsync(Socket relay)
        {
            using var _ = relay;
            relay.NoDelay = true;
            var relayPort = ((IPEndPoint)relay.RemoteEndPoint!).Port;
            var chunk = new byte[16 * 1024];
            var since = Stopwatch.StartNew();
            try
            {
                while (since.Elapsed < Functional)
                {
                    await relay.SendAsync(chunk).WaitAsync(StuckSend);
                }

                Interlocked.Increment(ref _neverClosed);
            }
            catch (SocketException)
            {
                // The relay closed with what we sent unread: the expected end.
                Interlocked.Increment(ref _reset);
            }
            catch (TimeoutException)
            {
                Interlocked.Increment(ref _stuck);
                var filter = $"( sport = :{Port} and dport = :{relayPort} ) or ( sport = :{relayPort} and dport = :{Port} )";
                var ss = ProcessRunner.Run("/usr/bin/ss", ["-tnio", "state", "all", filter]);
                Evidence.Enqueue($"stuck after {since.Elapsed.TotalSeconds:0.0} s (relay port {relayPort}):\n{ss.StandardOutput.Trim()}");
            }
        }
    }
}
