using System.Diagnostics;
using System.Globalization;
using Xunit.Abstractions;

namespace ZmqAspire.Messaging.Tests;

/// <summary>
/// A requester whose request timed out sends the next one on the same object, and never takes
/// the late reply to the old request for the new one's. Replays zeromq/netmq#817 ("TrySend/TryReceive
/// with timeout: socket becomes unusable after timeout"; the maintainer: a new socket is needed,
/// else "you might get an old reply") and FastCrest/tether#282 (a REQ client bricked by one
/// timeout, EFSM forever), against a libzmq peer (pyzmq) that answers the timed-out request
/// late, just before the next one's: plain one-frame requests, so no envelope sequence
/// number can catch the mix-up.
/// </summary>
public sealed class TimedOutRequestTests(ITestOutputHelper output)
{
    [Fact]
    public async Task After_a_timeout_the_next_request_gets_its_own_reply_not_the_late_one()
    {
        // A ROUTER holding request 1 until request 2 arrives, then answering 1 (late) and 2, in that order.
        var python = PyzmqPeerTests.Start("""
            import zmq
            s = zmq.Context().socket(zmq.ROUTER)
            s.setsockopt(zmq.LINGER, 0)
            port = s.bind_to_random_port("tcp://127.0.0.1")
            print(port, flush=True)
            first = s.recv_multipart()
            second = s.recv_multipart()
            s.send_multipart([first[0], b"", b"late reply to " + first[-1]])
            s.send_multipart([second[0], b"", b"reply to " + second[-1]])
            print("routing ids differ" if first[0] != second[0] else "same routing id", flush=True)
            s.recv_multipart()
            """);
        try
        {
            var port = int.Parse((await python.StandardOutput.ReadLineAsync())!, CultureInfo.InvariantCulture);
            using var requester = new ZmqRequester(new ZmqRequesterOptions
            {
                Endpoint = $"tcp://127.0.0.1:{port}",
                UseEnvelope = false,
                RequestTimeout = TimeSpan.FromSeconds(2),
                MaxRetries = 0,
            });

            var watch = Stopwatch.StartNew();
            var timeout = Assert.Throws<ZmqRequestTimeoutException>(() => requester.Send("one", 1));
            output.WriteLine($"request 1 timed out after {watch.Elapsed.TotalSeconds:0.00} s: {timeout.Message}");

            var reply = requester.Send("two", 2);
            Assert.Equal("reply to two", reply.BodyText);
            Assert.Equal("routing ids differ", await python.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10)));

            // And the socket goes on: a third request is not refused (EFSM) either.
            Assert.Throws<ZmqRequestTimeoutException>(() => requester.Send("three", 3));
        }
        finally
        {
            python.Kill(entireProcessTree: true);
            await python.WaitForExitAsync();
            python.Dispose();
        }
    }
}
