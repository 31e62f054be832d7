using System.Globalization;
using System.Net;
using System.Net.Sockets;
using NetMQ;
using NetMQ.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// Two forwards on one SSH session, one of whose local readers stops: the other forward must go
/// on answering (no head-of-line blocking on SSH.NET's receive thread), and the stalled channel
/// must be held by its SSH window (RFC 4254 section 5.2) so that the remote writer is slowed
/// instead of the server buffering without bound. OpenSSH's <c>ssh -L -L</c>, on the same sshd:
/// 75/75 round trips during the stall, the writer held to about 8 MiB.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class HeadOfLineTests(SshdFixture sshd, ITestOutputHelper output)
{
    private const int RoundTrips = 75;

    /// <summary>
    /// What the writer may push into a stalled channel: our window
    /// (<see cref="SshTunnelOptions.DefaultChannelWindowSize"/>, 8 MiB) plus the kernel buffers
    /// of the loopback connections on the way (writer to sshd, sshd to us, us to the reader),
    /// which Linux autotunes to a few MiB each, more on a loaded machine, and, since issue #19,
    /// the session socket's receive buffer at the autotuning ceiling (<see cref="SessionReceiveBuffer"/>).
    /// Measured: a PUSH held at 16.3-20.0 MiB on a quiet machine and at 26.25 MiB in a full CI
    /// run; 24 MiB allowed for them. Unbounded buffering passes this within a second on loopback
    /// (hundreds of MB/s).
    /// </summary>
    private const long WriterBound = SshTunnelOptions.DefaultChannelWindowSize + (24L * 1024 * 1024);

    private static readonly TimeSpan RoundTripTimeout = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_stalled_tcp_reader_does_not_stop_another_forward_and_holds_the_writer_back(bool selfHealing)
    {
        using var flood = FloodServer.Start();
        using var echo = EchoServer.Start();
        IReadOnlyList<TcpEndpoint> locals;
        IAsyncDisposable tunnel;
        if (selfHealing)
        {
            var forward = SelfHealingForward.Start(sshd.Options(ClientKey.Ed25519), [flood.Endpoint, echo.Endpoint]);
            tunnel = forward;
            await forward.WaitUntilUpAsync(TimeSpan.FromSeconds(20));
            locals = forward.LocalEndpoints;
        }
        else
        {
            var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
            tunnel = session;
            locals = LocalForwardSet.Open(session, [flood.Endpoint.ToString(), echo.Endpoint.ToString()]).LocalEndpoints;
        }

        await using var _ = tunnel;
        using var stalled = new TcpClient();
        await stalled.ConnectAsync(IPAddress.Loopback, locals[0].Port);
        await stalled.GetStream().ReadExactlyAsync(new byte[64 * 1024]).AsTask().WaitAsync(RoundTripTimeout);
        // ... and reads no more. Let the writer fill whatever the path takes.
        var stallWritten = await WaitUntilSteadyAsync(() => flood.Written);

        using var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(IPAddress.Loopback, locals[1].Port);
        var stream = client.GetStream();
        var answered = 0;
        var request = new byte[64];
        var reply = new byte[64];
        for (var i = 0; i < RoundTrips; i++)
        {
            request[0] = (byte)i;
            try
            {
                await stream.WriteAsync(request).AsTask().WaitAsync(RoundTripTimeout);
                await stream.ReadExactlyAsync(reply).AsTask().WaitAsync(RoundTripTimeout);
            }
            catch (TimeoutException)
            {
                break;
            }

            Assert.Equal(request, reply);
            answered++;
        }

        await Task.Delay(TimeSpan.FromSeconds(2));
        var written = flood.Written;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"forward 2: {answered}/{RoundTrips} round trips during the stall; writer: {stallWritten / 1048576.0:0.0} MiB when steady, {written / 1048576.0:0.0} MiB at the end; sshd session processes' RSS: {SessionRss()}"));
        Assert.True(answered == RoundTrips, $"Forward 2 answered {answered} of {RoundTrips} round trips while forward 1's reader was stalled.");
        Assert.True(written <= WriterBound, $"The writer pushed {written} bytes into a channel whose reader stopped after 64 KiB (bound {WriterBound}).");
    }

    [Fact]
    public async Task A_stalled_pull_does_not_stop_a_req_on_the_same_session()
    {
        using var rep = ReplyServer.Start();
        using var push = new PushServer();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));

        using var pull = new PullSocket();
        pull.Options.Linger = TimeSpan.Zero;
        pull.Options.ReceiveHighWatermark = 4;
        using var pullForward = pull.ConnectThroughTunnel(push.Endpoint, session);
        for (var i = 0; i < 3; i++)
        {
            Assert.True(pull.TryReceiveFrameBytes(RoundTripTimeout, out _), "The PULL socket received nothing through the tunnel.");
        }

        // The PULL socket reads no more: its queue fills, NetMQ stops reading, the channel stalls.
        var stallPushed = await WaitUntilSteadyAsync(() => push.Pushed);

        using var req = Requests.NewRequestSocket();
        using var reqForward = req.ConnectThroughTunnel(rep.Endpoint, session);
        var answered = 0;
        for (var i = 0; i < RoundTrips; i++)
        {
            if (!req.TrySendFrame(RoundTripTimeout, "Hello") || !req.TryReceiveFrameString(RoundTripTimeout, out var reply))
            {
                break;
            }

            Assert.Equal(rep.ExpectedGreeting, reply);
            answered++;
        }

        await Task.Delay(TimeSpan.FromSeconds(2));
        var pushed = push.Pushed;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"REQ: {answered}/{RoundTrips} round trips during the stall; PUSH: {stallPushed / 1048576.0:0.0} MiB when steady, {pushed / 1048576.0:0.0} MiB at the end"));
        Assert.True(answered == RoundTrips, $"The REQ got {answered} of {RoundTrips} replies while the PULL beside it was stalled.");
        Assert.True(pushed <= WriterBound, $"The PUSH socket sent {pushed} bytes to a PULL that stopped reading (bound {WriterBound}).");
    }

    /// <summary>The resident size of sshd's per-connection processes (for the test's output: how much sshd buffered).</summary>
    private string SessionRss() => string.Join(", ", sshd.SessionProcesses().SelectMany(ProcFs.Tree).Distinct().Select(pid =>
    {
        try
        {
            return File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal))?[6..].Trim() ?? "?";
        }
        catch (IOException)
        {
            return "gone";
        }
    }));

    /// <summary>Waits until <paramref name="count"/> has not grown for a second (at most 15 s); returns it.</summary>
    private static async Task<long> WaitUntilSteadyAsync(Func<long> count)
    {
        var last = count();
        for (var i = 0; i < 15; i++)
        {
            await Task.Delay(TimeSpan.FromSeconds(1));
            var now = count();
            if (now == last)
            {
                break;
            }

            last = now;
        }

        return last;
    }

    /// <summary>A NetMQ PUSH socket bound here, pushing 64 KiB messages as fast as they are taken, on its own thread.</summary>
    private sealed class PushServer : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly TaskCompletionSource<string> _bound = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Thread _thread;
        private long _pushed;

        public PushServer()
        {
            _thread = new Thread(Run) { IsBackground = true, Name = "NetMQ PUSH test peer" };
            _thread.Start();
            Endpoint = _bound.Task.Wait(TimeSpan.FromSeconds(20)) ? _bound.Task.Result : throw new TimeoutException("PUSH did not bind.");
        }

        public string Endpoint { get; }

        public long Pushed => Interlocked.Read(ref _pushed);

        public void Dispose()
        {
            _stop.Cancel();
            _thread.Join(TimeSpan.FromSeconds(10));
        }

        private void Run()
        {
            using var push = new PushSocket();
            push.Options.Linger = TimeSpan.Zero;
            // A small queue: what leaves it is what went into the connection.
            push.Options.SendHighWatermark = 4;
            push.Bind("tcp://127.0.0.1:*");
            _bound.SetResult(push.Options.LastEndpoint!);
            var message = new byte[64 * 1024];
            while (!_stop.IsCancellationRequested)
            {
                if (push.TrySendFrame(TimeSpan.FromMilliseconds(100), message))
                {
                    Interlocked.Add(ref _pushed, message.Length);
                }
            }
        }
    }
}
