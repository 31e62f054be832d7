using System.Buffers.Binary;
using NetMQ;
using NetMQ.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// A subscriber that reconnects while its publisher streams three-frame messages must only ever
/// get whole messages of three frames, intact, whichever way the tunnel breaks under it: a new
/// login (Reconnect) or the server's session process killed mid-stream. A relay that handed a
/// reconnected socket the rest of a message from the old connection, or spliced two streams,
/// would deliver frames that belong to no message. Replays zeromq/netmq#614 ("Subscriber socket
/// received message with an extra frame" after a disconnect and reconnect while publishing).
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class MultipartAcrossHealsTests(SshdFixture sshd, ITestOutputHelper output)
{
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_subscriber_gets_only_whole_intact_three_frame_messages_across_reconnects_and_killed_sessions()
    {
        using var stop = new CancellationTokenSource();
        using var bound = new ManualResetEventSlim();
        var port = 0;
        var publisher = new Thread(() =>
        {
            using var pub = new PublisherSocket();
            pub.Options.Linger = TimeSpan.Zero;
            pub.Options.SendHighWatermark = 100;
            port = pub.BindRandomPort("tcp://127.0.0.1");
            bound.Set();
            var header = new byte[8];
            for (long seq = 0; !stop.IsCancellationRequested; seq++)
            {
                BinaryPrimitives.WriteInt64BigEndian(header, seq);
                pub.SendMoreFrame("t").SendMoreFrame(header).SendFrame(Payload(seq));
                if (seq % 8 == 0)
                {
                    Thread.Sleep(1);
                }
            }
        }) { IsBackground = true };
        publisher.Start();
        Assert.True(bound.Wait(TimeSpan.FromSeconds(10)));

        await using var forward = SelfHealingForward.Start(
            sshd.Options(ClientKey.Ed25519),
            new TcpEndpoint("127.0.0.1", port),
            new SelfHealingForwardOptions { ReconnectDelay = TimeSpan.FromMilliseconds(100), MaxReconnectDelay = TimeSpan.FromMilliseconds(500) });
        await forward.WaitUntilUpAsync(Functional);

        var received = 0L;
        var bad = new List<string>();
        var subscriber = new Thread(() =>
        {
            using var sub = new SubscriberSocket();
            sub.Options.Linger = TimeSpan.Zero;
            sub.Options.ReconnectInterval = TimeSpan.FromMilliseconds(50);
            sub.Subscribe("t");
            sub.Connect(forward.LocalEndpoint.ToString());
            var message = new NetMQMessage();
            while (!stop.IsCancellationRequested)
            {
                if (!sub.TryReceiveMultipartMessage(TimeSpan.FromMilliseconds(100), ref message))
                {
                    continue;
                }

                var problem = Check(message);
                if (problem is not null)
                {
                    lock (bad)
                    {
                        bad.Add(problem);
                    }
                }

                Interlocked.Increment(ref received);
            }
        }) { IsBackground = true };
        subscriber.Start();

        var counts = new List<long>();
        for (var round = 0; round < 6; round++)
        {
            var before = Interlocked.Read(ref received);
            await WaitForAsync(() => Interlocked.Read(ref received) > before + 200, Functional, $"round {round}: messages stopped");
            counts.Add(Interlocked.Read(ref received));
            if (round % 2 == 0)
            {
                forward.Reconnect();
            }
            else
            {
                sshd.KillSessions();
            }

            await Task.Delay(300);
        }

        stop.Cancel();
        subscriber.Join(TimeSpan.FromSeconds(5));
        publisher.Join(TimeSpan.FromSeconds(5));
        output.WriteLine($"received {Interlocked.Read(ref received)} messages over {forward.SessionCount} sessions; counts at each break: {string.Join(", ", counts)}");
        lock (bad)
        {
            Assert.True(bad.Count == 0, $"{bad.Count} broken messages, first: {string.Join(" | ", bad.Take(5))}");
        }
    }

    /// <summary>The message's payload: 0 to 70,000 bytes (so some span several SSH packets) derived from its sequence number.</summary>
    private static byte[] Payload(long seq)
    {
        var payload = new byte[(int)(seq * 7919 % 70_000)];
        for (var i = 0; i < payload.Length; i++)
        {
            payload[i] = (byte)((seq + i) % 251);
        }

        return payload;
    }

    private static string? Check(NetMQMessage message)
    {
        if (message.FrameCount != 3)
        {
            return $"{message.FrameCount} frames";
        }

        if (message[0].ConvertToString() != "t" || message[1].MessageSize != 8)
        {
            return $"bad topic or header ({message[0].MessageSize} B, {message[1].MessageSize} B)";
        }

        var seq = BinaryPrimitives.ReadInt64BigEndian(message[1].Buffer.AsSpan(0, 8));
        var expected = Payload(seq);
        return message[2].Buffer.AsSpan(0, message[2].MessageSize).SequenceEqual(expected) ? null : $"payload of #{seq} differs ({message[2].MessageSize} B)";
    }

    private static async Task WaitForAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, what);
            await Task.Delay(20);
        }
    }
}
