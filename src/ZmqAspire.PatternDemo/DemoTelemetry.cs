using System.Diagnostics;
using System.Diagnostics.Metrics;
using ZmqAspire.Messaging;

namespace ZmqAspire.PatternDemo;

/// <summary>
/// Spans and metrics of the demo peers per the OpenTelemetry messaging conventions (v1.45):
/// PUB/SUB and PUSH/PULL hand a message on and do not wait for an answer, which is what those
/// conventions model (docs/telemetry.md explains why REQ/REP uses the RPC ones instead). A
/// producer makes a PRODUCER span <c>send {destination}</c> and puts its W3C Trace Context in the
/// message's ZQA1 header frame; a consumer makes a CONSUMER span <c>process {destination}</c>,
/// child of the producer's, so one trace shows both sides of the tunnel.
/// </summary>
internal static class DemoTelemetry
{
    /// <summary>The ActivitySource and Meter name (covered by the ServiceDefaults' <c>ZmqAspire.*</c>).</summary>
    public const string Name = "ZmqAspire.PatternDemo";

    /// <summary><c>messaging.system</c>: not a well-known value of the conventions, so a custom one, as <c>rpc.system.name</c> is.</summary>
    public const string System = "zeromq";

    public const string MessagingSystem = "messaging.system";
    public const string OperationType = "messaging.operation.type";
    public const string OperationName = "messaging.operation.name";
    public const string DestinationName = "messaging.destination.name";
    public const string MessageId = "messaging.message.id";
    public const string BodySize = "messaging.message.body.size";

    /// <summary>The socket type on both spans (<c>PUB</c>, <c>SUB</c>, <c>PUSH</c>, <c>PULL</c>): the project's own attribute.</summary>
    public const string SocketType = "zmqaspire.socket.type";

    public static readonly ActivitySource Source = new(Name);

    public static readonly Meter Meter = new(Name);

    /// <summary><c>messaging.client.sent.messages</c> (semconv): messages a producer sent.</summary>
    public static readonly Counter<long> Sent = Meter.CreateCounter<long>(
        "messaging.client.sent.messages", "{message}", "Messages the publisher or pusher sent.");

    /// <summary><c>messaging.client.consumed.messages</c> (semconv): messages a consumer received.</summary>
    public static readonly Counter<long> Consumed = Meter.CreateCounter<long>(
        "messaging.client.consumed.messages", "{message}", "Messages the subscriber or puller received.");

    /// <summary><c>messaging.process.duration</c> (semconv), seconds: how long a consumer took over one message.</summary>
    public static readonly Histogram<double> ProcessDuration = Meter.CreateHistogram(
        "messaging.process.duration", "s", "Time a consumer spent processing one message.", tags: null,
        new InstrumentAdvice<double> { HistogramBucketBoundaries = MessagingTelemetry.DurationBucketBoundaries });

    /// <summary>The low-cardinality attributes every measurement carries.</summary>
    public static TagList Tags(string operation, string destination) => new()
    {
        { MessagingSystem, System },
        { OperationName, operation },
        { DestinationName, destination },
    };
}
