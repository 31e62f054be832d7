using System.Diagnostics;
using NetMQ;
using NetMQ.Monitoring;
using NetMQ.Sockets;

namespace ZmqAspire.Messaging.Tests;

/// <summary>
/// Pins an upstream fault, so that we notice when a NetMQ upgrade fixes it: with NetMQ 4.0.4.5,
/// ZMTP heartbeats (ZMQ_HEARTBEAT_IVL) on a REQ socket drop its connection about once a second
/// even though the REP peer answers every PING (libzmq has the same report), so a reply that
/// takes longer than that is lost with the dropped pipe. This is why no setting of ours turns
/// heartbeats on (docs/reliability.md). When the first test fails after an upgrade, the fault is
/// fixed upstream: heartbeats could then be offered again.
/// </summary>
public sealed class NetMQHeartbeatPinTests
{
    private static readonly TimeSpan ReplyAfter = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan WaitForReply = TimeSpan.FromSeconds(10);

    [Fact]
    public void NetMQ_4_0_4_5_REQ_with_heartbeats_reconnects_and_loses_a_slow_reply()
    {
        var outcome = AskSlowServer(heartbeat: TimeSpan.FromSeconds(1));

        // Upstream behaviour as of NetMQ 4.0.4.5; if this fails, the upgrade fixed it.
        Assert.Null(outcome.Reply);
        Assert.True(outcome.Accepted >= 2, $"the REQ connected {outcome.Accepted} time(s): heartbeats no longer drop its connection");
    }

    [Fact]
    public void The_same_REQ_without_heartbeats_gets_the_slow_reply_on_one_connection()
    {
        // The control: same peer, same wait, no heartbeats.
        var outcome = AskSlowServer(heartbeat: TimeSpan.Zero);

        Assert.Equal("World", outcome.Reply);
        Assert.Equal(1, outcome.Accepted);
    }

    private static (string? Reply, int Accepted) AskSlowServer(TimeSpan heartbeat)
    {
        using var rep = new ResponseSocket();
        rep.Options.Linger = TimeSpan.Zero;
        rep.Bind("tcp://127.0.0.1:*");
        var endpoint = rep.Options.LastEndpoint!;
        var accepted = 0;
        using var monitor = new NetMQMonitor(rep, $"inproc://heartbeat-pin-{Guid.NewGuid():N}", SocketEvents.Accepted);
        monitor.Accepted += (_, _) => Interlocked.Increment(ref accepted);
        monitor.StartAsync();

        using var stop = new CancellationTokenSource();
        var server = Task.Factory.StartNew(
            () =>
            {
                // NetMQ sockets belong to one thread: the REP is only used here from now on.
                while (!stop.IsCancellationRequested)
                {
                    if (rep.TryReceiveFrameString(TimeSpan.FromMilliseconds(100), out _))
                    {
                        stop.Token.WaitHandle.WaitOne(ReplyAfter);
                        rep.TrySendFrame("World");
                    }
                }
            },
            TaskCreationOptions.LongRunning);

        string? reply;
        using (var req = new RequestSocket())
        {
            req.Options.Linger = TimeSpan.Zero;
            if (heartbeat > TimeSpan.Zero)
            {
                req.Options.HeartbeatInterval = heartbeat;
                req.Options.HeartbeatTimeout = heartbeat * 3;
                req.Options.HeartbeatTtl = heartbeat * 3;
            }

            req.Connect(endpoint);
            req.SendFrame("Hello");
            var watch = Stopwatch.StartNew();
            reply = null;
            while (reply is null && watch.Elapsed < WaitForReply)
            {
                req.TryReceiveFrameString(TimeSpan.FromMilliseconds(100), out reply);
            }
        }

        stop.Cancel();
        server.Wait(TimeSpan.FromSeconds(10));
        monitor.Stop();
        return (reply, Volatile.Read(ref accepted));
    }
}
