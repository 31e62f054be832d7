using System.Diagnostics;
using System.Globalization;
using NetMQ;
using NetMQ.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// libzmq's own cure for a REQ socket stuck on a lost reply, run through the tunnel: a pyzmq REQ
/// with <c>ZMQ_REQ_RELAXED</c> and <c>ZMQ_REQ_CORRELATE</c> gives up on a slow request and sends
/// another; libzmq then drops the connection that carried the first (the pipe is terminated) and
/// reconnects, and the second request must reach the REP server on the new connection and be
/// answered, with the late reply to the first never delivered. Replays zeromq/libzmq#172
/// ("Reconnect over req-rep does not seem to work", whose answer was these two options) and
/// zeromq/libzmq#857 ("Reconnect REQ socket with REQ_RELAXED option").
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class RelaxedRequestTests(SshdFixture sshd, ITestOutputHelper output)
{
    [Fact]
    public async Task A_relaxed_correlated_pyzmq_req_gets_the_second_reply_after_giving_up_on_the_first()
    {
        using var stop = new CancellationTokenSource();
        using var bound = new ManualResetEventSlim();
        var port = 0;
        var received = new List<string>();
        var server = new Thread(() =>
        {
            using var rep = new ResponseSocket();
            rep.Options.Linger = TimeSpan.Zero;
            port = rep.BindRandomPort("tcp://127.0.0.1");
            bound.Set();
            var message = new NetMQMessage();
            while (!stop.IsCancellationRequested)
            {
                if (!rep.TryReceiveMultipartMessage(TimeSpan.FromMilliseconds(50), ref message))
                {
                    continue;
                }

                var body = message.Last.ConvertToString();
                lock (received)
                {
                    received.Add($"{message.FrameCount}:{body}");
                }

                if (body == "slow")
                {
                    Thread.Sleep(1500); // past the client's patience: its reply goes to a closed connection
                }

                rep.SendFrame($"reply to {body}");
            }
        }) { IsBackground = true };
        server.Start();
        Assert.True(bound.Wait(TimeSpan.FromSeconds(10)));

        await using var forward = SelfHealingForward.Start(
            sshd.Options(ClientKey.Ed25519), new TcpEndpoint("127.0.0.1", port));
        await forward.WaitUntilUpAsync(TimeSpan.FromSeconds(20));

        var clock = Stopwatch.StartNew();
        var result = await RunPythonAsync(string.Create(CultureInfo.InvariantCulture, $"""
            import zmq
            s = zmq.Context().socket(zmq.REQ)
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.REQ_RELAXED, 1)
            s.setsockopt(zmq.REQ_CORRELATE, 1)
            s.connect("{forward.LocalEndpoint}")
            s.send(b"slow")
            s.setsockopt(zmq.RCVTIMEO, 500)
            try:
                print("unexpected", s.recv())
            except zmq.Again:
                print("gave up on slow")
            s.setsockopt(zmq.RCVTIMEO, 10000)
            s.send(b"fast")
            print(s.recv_multipart())
            s.setsockopt(zmq.RCVTIMEO, 2500)
            s.send(b"third")
            print(s.recv_multipart())
            """));
        output.WriteLine($"{clock.Elapsed.TotalSeconds:0.0} s:\n{result}");
        stop.Cancel();
        server.Join(TimeSpan.FromSeconds(5));
        lock (received)
        {
            output.WriteLine("the REP server received: " + string.Join(", ", received));
        }

        Assert.Equal("gave up on slow\n[b'reply to fast']\n[b'reply to third']\n", result);
        Assert.True(forward.IsUp, "the tunnel itself must not have been disturbed");
    }

    private static async Task<string> RunPythonAsync(string script)
    {
        var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, await stderr);
        return await stdout;
    }
}
