using System.Globalization;
using NetMQ;
using NetMQ.Sockets;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// Every ZeroMQ pattern with its connecting side behind a real SSH tunnel: the binding socket
/// listens on loopback, the connecting socket reaches it only through sshd's forward.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class PatternTests(SshdFixture sshd)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Pub_sub_delivers_the_subscribed_topic_only_and_in_order()
    {
        using var pub = new PublisherSocket();
        pub.Options.Linger = TimeSpan.Zero;
        var port = pub.BindRandomPort("tcp://127.0.0.1");
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var sub = new SubscriberSocket();
        sub.Options.Linger = TimeSpan.Zero;
        using var forward = sub.ConnectThroughTunnel(Endpoint(port), session);
        sub.Subscribe("a.");

        // A subscription takes a moment to reach the publisher (the "slow joiner"): publish
        // markers until one arrives, then the numbered stream.
        var joined = false;
        for (var i = 0; i < 200 && !joined; i++)
        {
            pub.SendMoreFrame("a.sync").SendFrame("sync");
            NetMQMessage? marker = null;
            joined = sub.TryReceiveMultipartMessage(TimeSpan.FromMilliseconds(100), ref marker);
        }

        Assert.True(joined, "the subscription never reached the publisher through the tunnel");
        for (var n = 0; n < 100; n++)
        {
            pub.SendMoreFrame("b.other").SendFrame(n.ToString(CultureInfo.InvariantCulture));
            pub.SendMoreFrame("a.data").SendFrame(n.ToString(CultureInfo.InvariantCulture));
        }

        pub.SendMoreFrame("a.end").SendFrame("end");
        var received = new List<string>();
        while (true)
        {
            var message = Receive(sub);
            Assert.Equal(2, message.FrameCount); // multi-frame messages arrive whole
            var topic = message[0].ConvertToString();
            Assert.StartsWith("a.", topic, StringComparison.Ordinal);
            if (topic == "a.sync")
            {
                continue; // markers still in flight from the join loop
            }

            if (topic == "a.end")
            {
                break;
            }

            if (topic == "a.data")
            {
                received.Add(message[1].ConvertToString());
            }
        }

        Assert.Equal(Enumerable.Range(0, 100).Select(n => n.ToString(CultureInfo.InvariantCulture)), received);
    }

    [Fact]
    public async Task Push_pull_fan_in_keeps_each_senders_order()
    {
        using var pull = new PullSocket();
        pull.Options.Linger = TimeSpan.Zero;
        var port = pull.BindRandomPort("tcp://127.0.0.1");
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var pushA = new PushSocket();
        using var pushB = new PushSocket();
        using var forwardA = pushA.ConnectThroughTunnel(Endpoint(port), session);
        using var forwardB = pushB.ConnectThroughTunnel(Endpoint(port), session);

        for (var n = 0; n < 50; n++)
        {
            pushA.SendMoreFrame("A").SendFrame(n.ToString(CultureInfo.InvariantCulture));
            pushB.SendMoreFrame("B").SendFrame(n.ToString(CultureInfo.InvariantCulture));
        }

        var bySender = new Dictionary<string, List<int>> { ["A"] = [], ["B"] = [] };
        for (var i = 0; i < 100; i++)
        {
            var message = Receive(pull);
            bySender[message[0].ConvertToString()].Add(int.Parse(message[1].ConvertToString(), CultureInfo.InvariantCulture));
        }

        Assert.Equal(Enumerable.Range(0, 50), bySender["A"]);
        Assert.Equal(Enumerable.Range(0, 50), bySender["B"]);
    }

    [Fact]
    public async Task Push_pull_fan_out_spreads_work_over_tunnelled_workers()
    {
        using var push = new PushSocket();
        push.Options.Linger = TimeSpan.Zero;
        var port = push.BindRandomPort("tcp://127.0.0.1");
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var worker1 = new PullSocket();
        using var worker2 = new PullSocket();
        using var forward1 = worker1.ConnectThroughTunnel(Endpoint(port), session);
        using var forward2 = worker2.ConnectThroughTunnel(Endpoint(port), session);
        await WaitForPeersAsync(forward1, forward2);

        for (var n = 0; n < 100; n++)
        {
            push.SendFrame(n.ToString(CultureInfo.InvariantCulture));
        }

        var got1 = Drain(worker1);
        var got2 = Drain(worker2);
        Assert.Equal(100, got1.Count + got2.Count);
        Assert.NotEmpty(got1); // round-robin reached both workers
        Assert.NotEmpty(got2);
        Assert.Equal(got1.Order(), got1); // each worker sees its share in order
        Assert.Equal(got2.Order(), got2);
        Assert.Equal(Enumerable.Range(0, 100), got1.Concat(got2).Order());
    }

    [Fact]
    public async Task Pair_exchanges_messages_both_ways()
    {
        using var bound = new PairSocket();
        bound.Options.Linger = TimeSpan.Zero;
        var port = bound.BindRandomPort("tcp://127.0.0.1");
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var connected = new PairSocket();
        connected.Options.Linger = TimeSpan.Zero;
        using var forward = connected.ConnectThroughTunnel(Endpoint(port), session);

        for (var n = 0; n < 10; n++)
        {
            connected.SendMoreFrame("ping").SendFrame(n.ToString(CultureInfo.InvariantCulture));
            var ping = Receive(bound);
            Assert.Equal(["ping", n.ToString(CultureInfo.InvariantCulture)], ping.Select(f => f.ConvertToString()));
            bound.SendMoreFrame("pong").SendFrame(n.ToString(CultureInfo.InvariantCulture));
            var pong = Receive(connected);
            Assert.Equal(["pong", n.ToString(CultureInfo.InvariantCulture)], pong.Select(f => f.ConvertToString()));
        }
    }

    [Fact]
    public async Task Dealer_router_pipelines_requests_and_routes_replies_back()
    {
        using var router = new RouterSocket();
        router.Options.Linger = TimeSpan.Zero;
        var port = router.BindRandomPort("tcp://127.0.0.1");
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var dealer = new DealerSocket();
        dealer.Options.Linger = TimeSpan.Zero;
        dealer.Options.Identity = "dealer-1"u8.ToArray();
        using var forward = dealer.ConnectThroughTunnel(Endpoint(port), session);

        // Twenty requests in flight at once: DEALER does not wait for replies as REQ does.
        for (var n = 0; n < 20; n++)
        {
            dealer.SendMoreFrameEmpty().SendFrame(n.ToString(CultureInfo.InvariantCulture));
        }

        for (var n = 0; n < 20; n++)
        {
            var request = Receive(router);
            Assert.Equal("dealer-1", request[0].ConvertToString()); // ROUTER prefixes the peer's identity
            Assert.Equal(n.ToString(CultureInfo.InvariantCulture), request[2].ConvertToString());
            router.SendMoreFrame(request[0].ToByteArray()).SendMoreFrameEmpty().SendFrame("re:" + request[2].ConvertToString());
        }

        for (var n = 0; n < 20; n++)
        {
            var reply = Receive(dealer);
            Assert.Equal("re:" + n.ToString(CultureInfo.InvariantCulture), reply.Last.ConvertToString());
        }
    }

    private static string Endpoint(int port) => $"tcp://127.0.0.1:{port}";

    private NetMQMessage Receive(NetMQSocket socket)
    {
        NetMQMessage? message = null;
        Assert.True(socket.TryReceiveMultipartMessage(Timeout, ref message), $"nothing received within {Timeout}\n{sshd.LogTail()}");
        return message!;
    }

    private static List<int> Drain(PullSocket socket)
    {
        var got = new List<int>();
        while (socket.TryReceiveFrameString(TimeSpan.FromSeconds(2), out var text))
        {
            got.Add(int.Parse(text, CultureInfo.InvariantCulture));
        }

        return got;
    }

    // PUSH round-robins over peers that are connected now; wait until both tunnelled workers
    // have a live connection (each forward relays one established TCP connection).
    private static async Task WaitForPeersAsync(params LocalForward[] forwards)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (forwards.All(f => Established(f.LocalPort)))
            {
                await Task.Delay(200); // ZMTP handshake after TCP connect
                return;
            }

            await Task.Delay(50);
        }
    }

    private static bool Established(int localPort) =>
        ProcessRunner.Run("ss", ["-Htn", "state", "established", $"( sport = :{localPort} )"]).StandardOutput.Trim().Length > 0;
}
