using System.Diagnostics;
using NetMQ;
using NetMQ.Sockets;

namespace ZmqAspire.Messaging.Tests;

/// <summary>Client and server spans over real NetMQ sockets: one trace per enveloped request, plain peers still served.</summary>
public sealed class TracePropagationTests : IDisposable
{
    private readonly ActivityCollector _spans = new();

    public void Dispose() => _spans.Dispose();

    [Fact]
    public void An_enveloped_request_makes_the_server_span_a_child_of_the_client_span()
    {
        using var server = new ResponderHost(reply: "World from test");
        using var requester = new ZmqRequester(new ZmqRequesterOptions
        {
            Endpoint = server.Endpoint,
            UseEnvelope = true,
            ClientId = "unit-test",
            SpanAttributes = { new(TelemetryAttributes.TunnelTarget, "server:5556") },
        });

        var reply = requester.Send("Hello", sequence: 5);

        Assert.Equal("World from test", reply.BodyText);
        var (client, serverSpan) = WaitForPair(server.Port);
        Assert.Equal(ActivityKind.Client, client.Kind);
        Assert.Equal(ActivityKind.Server, serverSpan.Kind);
        Assert.Equal(client.TraceId, serverSpan.TraceId);
        Assert.Equal(client.SpanId, serverSpan.ParentSpanId);
        Assert.Equal(reply.TraceId, client.TraceId.ToHexString());
        Assert.Equal(MessagingTelemetry.DefaultMethod, client.DisplayName);
        Assert.Equal(MessagingTelemetry.DefaultMethod, serverSpan.DisplayName);

        Assert.Equal("zeromq", client.GetTagItem(TelemetryAttributes.RpcSystemName));
        Assert.Equal(5L, client.GetTagItem(TelemetryAttributes.RequestSequence));
        Assert.Equal(0, client.GetTagItem(TelemetryAttributes.RequestRetryCount));
        Assert.Equal("127.0.0.1", client.GetTagItem(TelemetryAttributes.NetworkPeerAddress));
        Assert.Equal("server:5556", client.GetTagItem(TelemetryAttributes.TunnelTarget));
        Assert.True((long)client.GetTagItem(TelemetryAttributes.RequestSize)! > "Hello".Length, "the request size counts the header frame too");
        Assert.Equal("envelope", serverSpan.GetTagItem(TelemetryAttributes.MessageFormat));
        Assert.Equal(5L, serverSpan.GetTagItem(TelemetryAttributes.RequestSequence));
        Assert.Equal("unit-test", serverSpan.GetTagItem(TelemetryAttributes.ClientId));
        Assert.Equal(ActivityStatusCode.Unset, serverSpan.Status);
    }

    [Fact]
    public void Trace_state_and_baggage_cross_the_hop()
    {
        using var server = new ResponderHost();
        using var parent = new Activity("caller").SetIdFormat(ActivityIdFormat.W3C);
        parent.TraceStateString = "vendor=abc";
        parent.AddBaggage("tenant", "blue");
        parent.Start();
        using (var requester = new ZmqRequester(new ZmqRequesterOptions { Endpoint = server.Endpoint, UseEnvelope = true }))
        {
            requester.Send("Hello", 1);
        }

        parent.Stop();
        var (client, serverSpan) = WaitForPair(server.Port);
        Assert.Equal(parent.TraceId, serverSpan.TraceId);
        Assert.Equal("vendor=abc", serverSpan.TraceStateString);
        Assert.Equal("blue", serverSpan.GetBaggageItem("tenant"));
        Assert.Equal(client.SpanId, serverSpan.ParentSpanId);
    }

    [Fact]
    public void A_plain_single_frame_request_gets_a_plain_reply_and_a_trace_of_its_own()
    {
        using var server = new ResponderHost(reply: "World from test");
        using var socket = new RequestSocket();
        socket.Options.Linger = TimeSpan.Zero;
        socket.Connect(server.Endpoint);

        // What the seed's client and pyzmq send: one frame, no envelope.
        socket.SendFrame("Hello");
        var reply = new NetMQMessage();
        Assert.True(socket.TryReceiveMultipartMessage(TimeSpan.FromSeconds(10), ref reply), "no reply");

        Assert.Equal(1, reply.FrameCount);
        Assert.Equal("World from test", reply.First.ConvertToString());
        var span = WaitFor(() => _spans.ForPort(server.Port).SingleOrDefault(a => a.Kind == ActivityKind.Server));
        Assert.Equal(default, span.ParentSpanId);
        Assert.Equal("plain", span.GetTagItem(TelemetryAttributes.MessageFormat));
        Assert.Null(span.GetTagItem(TelemetryAttributes.RequestSequence));
    }

    [Fact]
    public void A_plain_requester_sends_one_frame()
    {
        using var server = new ResponderHost(reply: "World from test");
        using var requester = new ZmqRequester(new ZmqRequesterOptions { Endpoint = server.Endpoint, UseEnvelope = false });

        Assert.Equal("World from test", requester.Send("Hello", 3).BodyText);
        var serverSpan = WaitFor(() => _spans.ForPort(server.Port).SingleOrDefault(a => a.Kind == ActivityKind.Server));
        Assert.Equal("plain", serverSpan.GetTagItem(TelemetryAttributes.MessageFormat));
        Assert.Equal(["Hello"], server.Received);
    }

    [Fact]
    public void A_malformed_envelope_is_served_as_plain_and_marked_on_the_span()
    {
        using var server = new ResponderHost(reply: "World from test");
        using var socket = new RequestSocket();
        socket.Options.Linger = TimeSpan.Zero;
        socket.Connect(server.Endpoint);

        socket.SendMoreFrame("ZQA1\nNot A Field\n").SendFrame("Hello");
        var reply = new NetMQMessage();
        Assert.True(socket.TryReceiveMultipartMessage(TimeSpan.FromSeconds(10), ref reply), "no reply");

        Assert.Equal(1, reply.FrameCount);
        var span = WaitFor(() => _spans.ForPort(server.Port).SingleOrDefault(a => a.Kind == ActivityKind.Server));
        Assert.Equal(ActivityStatusCode.Error, span.Status);
        Assert.Equal("invalid_envelope", span.GetTagItem(TelemetryAttributes.ErrorType));
    }

    [Fact]
    public void A_request_nobody_answers_is_retried_then_fails_with_the_error_on_the_span()
    {
        using var server = new ResponderHost(silent: true);
        using var requester = new ZmqRequester(new ZmqRequesterOptions
        {
            Endpoint = server.Endpoint,
            UseEnvelope = true,
            RequestTimeout = TimeSpan.FromMilliseconds(300),
            MaxRetries = 2,
        });

        var error = Assert.Throws<ZmqRequestTimeoutException>(() => requester.Send("Hello", 9));

        Assert.Equal(3, error.Attempts);
        var client = WaitFor(() => _spans.ForPort(server.Port).SingleOrDefault(a => a.Kind == ActivityKind.Client));
        Assert.Equal(ActivityStatusCode.Error, client.Status);
        Assert.Equal(typeof(ZmqRequestTimeoutException).FullName, client.GetTagItem(TelemetryAttributes.ErrorType));
        Assert.Equal(2, client.GetTagItem(TelemetryAttributes.RequestRetryCount));
        Assert.Contains(client.Events, e => e.Name == "exception"
            && e.Tags.Any(t => t.Key == "exception.type" && (string?)t.Value == typeof(ZmqRequestTimeoutException).FullName));
        Assert.Equal(2, client.Events.Count(e => e.Name == "zmqaspire.retry"));
    }

    private (Activity Client, Activity Server) WaitForPair(int port)
    {
        var client = WaitFor(() => _spans.ForPort(port).SingleOrDefault(a => a.Kind == ActivityKind.Client));
        var server = WaitFor(() => _spans.ForPort(port).SingleOrDefault(a => a.Kind == ActivityKind.Server));
        return (client, server);
    }

    // The server span ends just after the reply is sent, so it may stop after the client has its reply.
    private static T WaitFor<T>(Func<T?> find)
        where T : class
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (find() is { } found)
            {
                return found;
            }

            Thread.Sleep(20);
        }

        throw new TimeoutException("span not recorded");
    }
}
