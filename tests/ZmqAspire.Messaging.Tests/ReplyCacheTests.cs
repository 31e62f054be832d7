using System.Text;
using Microsoft.Extensions.Time.Testing;
using NetMQ;
using NetMQ.Sockets;

namespace ZmqAspire.Messaging.Tests;

/// <summary>
/// Idempotency: a request the client sends again after a lost reply (Lazy Pirate) is answered
/// from the server's reply cache, not worked on twice; a reply is never taken for another request.
/// </summary>
public sealed class ReplyCacheTests
{
    private static readonly byte[] Hello = "Hello"u8.ToArray();

    [Fact]
    public void A_request_resent_after_a_timeout_is_answered_from_the_cache_and_worked_on_once()
    {
        // The work outlasts the client's timeout: the client gives up on the first socket and
        // resends on a new one; the server finishes the first (its reply goes nowhere) and then
        // sees the repeat.
        using var server = new ResponderHost(work: TimeSpan.FromMilliseconds(700), cache: new ReplyCache(), echo: true);
        using var requester = new ZmqRequester(new ZmqRequesterOptions
        {
            Endpoint = server.Endpoint,
            UseEnvelope = true,
            ClientId = "client-a",
            RequestTimeout = TimeSpan.FromMilliseconds(300),
            MaxRetries = 10,
        });

        var reply = requester.Send("Hello", 7);
        var next = requester.Send("Next", 8);

        Assert.Equal("World:Hello", reply.BodyText);
        Assert.True(reply.RetryCount >= 1, "the request was resent");
        Assert.Equal("World:Next", next.BodyText);
        lock (server.Received)
        {
            Assert.True(server.Received.Count(r => r == "Hello") >= 2, "the server received the repeat");
        }

        Assert.Equal(2, server.WorkDone);
    }

    [Fact]
    public void Without_a_cache_the_same_resends_are_worked_on_again_and_never_answered()
    {
        // The counterpart of the test above. Each resend's socket is closed before the server is
        // done with the previous copy, so every reply goes to a closed socket: work repeated, and
        // with a timeout shorter than the work, no reply ever arrives.
        // A request whose socket closed before the server read it is dropped with its pipe, so
        // the resends span well past the first piece of work (0.4 s apart, over 2.8 s): on a
        // loaded machine a new socket's handshake alone can take a few hundred milliseconds.
        using var server = new ResponderHost(work: TimeSpan.FromSeconds(1));
        using var requester = new ZmqRequester(new ZmqRequesterOptions
        {
            Endpoint = server.Endpoint,
            UseEnvelope = true,
            ClientId = "client-a",
            RequestTimeout = TimeSpan.FromMilliseconds(400),
            MaxRetries = 6,
        });

        Assert.Throws<ZmqRequestTimeoutException>(() => requester.Send("Hello", 7));

        SpinWait.SpinUntil(() => server.WorkDone >= 2, TimeSpan.FromSeconds(10));
        Assert.True(server.WorkDone >= 2, $"worked {server.WorkDone} time(s)");
    }

    [Fact]
    public void A_reused_client_id_and_sequence_with_another_body_gets_fresh_work_not_the_old_reply()
    {
        using var server = new ResponderHost(cache: new ReplyCache(), echo: true);
        var options = new ZmqRequesterOptions { Endpoint = server.Endpoint, UseEnvelope = true, ClientId = "host/1" };
        using (var first = new ZmqRequester(options))
        {
            Assert.Equal("World:Hello", first.Send("Hello", 0).BodyText);
        }

        // A restarted process with the same id numbers its requests from 0 again.
        using var second = new ZmqRequester(options);
        Assert.Equal("World:Other", second.Send("Other", 0).BodyText);
        Assert.Equal(2, server.WorkDone);
    }

    [Fact]
    public void Plain_requests_and_envelopes_without_a_client_id_are_never_cached()
    {
        using var server = new ResponderHost(cache: new ReplyCache());
        using (var plain = new ZmqRequester(new ZmqRequesterOptions { Endpoint = server.Endpoint }))
        {
            plain.Send("Hello", 0);
            plain.Send("Hello", 0);
        }

        using (var anonymous = new ZmqRequester(new ZmqRequesterOptions { Endpoint = server.Endpoint, UseEnvelope = true }))
        {
            anonymous.Send("Hello", 0);
            anonymous.Send("Hello", 0);
        }

        Assert.Equal(4, server.WorkDone);
    }

    [Fact]
    public async Task A_reply_echoing_another_sequence_is_never_returned()
    {
        // A ROUTER peer that answers request 2 with the reply of request 1, as a confused server
        // holding a late reply would.
        using var router = new RouterSocket();
        router.Options.Linger = TimeSpan.Zero;
        var port = router.BindRandomPort("tcp://127.0.0.1");
        var peer = Task.Run(() =>
        {
            var request = router.ReceiveMultipartMessage();
            var stale = new NetMQMessage();
            stale.Append(request[0]); // routing id
            stale.AppendEmptyFrame();
            stale.Append(new EnvelopeHeader { Sequence = 1 }.ToFrame());
            stale.Append("World (for request 1)");
            router.SendMultipartMessage(stale);
            return EnvelopeHeader.TryParse(request[2].ToByteArray(), out var header) ? header.Sequence : null;
        });
        using var requester = new ZmqRequester(new ZmqRequesterOptions
        {
            Endpoint = $"tcp://127.0.0.1:{port}",
            UseEnvelope = true,
            ClientId = "c",
            RequestTimeout = TimeSpan.FromSeconds(10),
            MaxRetries = 0,
        });

        var error = Assert.Throws<ZmqProtocolException>(() => requester.Send("Hello", 2));

        Assert.Contains("expected 2", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, await peer);
    }

    [Fact]
    public void The_cache_pushes_out_the_least_recently_used_reply_when_full()
    {
        var cache = new ReplyCache(capacity: 2);
        cache.Add("c", 1, Hello, [1]);
        cache.Add("c", 2, Hello, [2]);
        Assert.True(cache.TryGet("c", 1, Hello, out _)); // 1 is now the most recently used

        cache.Add("c", 3, Hello, [3]);

        Assert.Equal(2, cache.Count);
        Assert.False(cache.TryGet("c", 2, Hello, out _));
        Assert.True(cache.TryGet("c", 1, Hello, out var one));
        Assert.Equal([1], one);
        Assert.True(cache.TryGet("c", 3, Hello, out _));
    }

    [Fact]
    public void The_cache_forgets_a_reply_older_than_its_maximum_age()
    {
        var time = new FakeTimeProvider();
        var cache = new ReplyCache(maxAge: TimeSpan.FromSeconds(60), time: time);
        cache.Add("c", 1, Hello, Encoding.UTF8.GetBytes("World"));

        time.Advance(TimeSpan.FromSeconds(59));
        Assert.True(cache.TryGet("c", 1, Hello, out _));
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.False(cache.TryGet("c", 1, Hello, out _));
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void Clients_have_separate_sequence_spaces()
    {
        var cache = new ReplyCache();
        cache.Add("a", 1, Hello, [1]);

        Assert.False(cache.TryGet("b", 1, Hello, out _));
        Assert.True(cache.TryGet("a", 1, Hello, out _));
    }
}
