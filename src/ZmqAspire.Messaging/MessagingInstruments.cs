using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ZmqAspire.Messaging;

/// <summary>
/// The library's instruments, on <see cref="MessagingTelemetry.Meter"/>. Durations are in
/// seconds and sizes in bytes, the units the OpenTelemetry conventions ask for (<c>s</c>,
/// <c>By</c>); counters use annotation units (<c>{request}</c>) as the conventions do.
/// </summary>
internal static class MessagingInstruments
{
    private static readonly InstrumentAdvice<double> DurationAdvice = new()
    {
        HistogramBucketBoundaries = MessagingTelemetry.DurationBucketBoundaries,
    };

    /// <summary><c>rpc.client.call.duration</c> (semconv): the client span's duration, retries included.</summary>
    public static readonly Histogram<double> ClientDuration = MessagingTelemetry.Meter.CreateHistogram(
        "rpc.client.call.duration", "s", "Duration of outgoing ZeroMQ requests, from first send to reply, retries included.", tags: null, DurationAdvice);

    /// <summary><c>rpc.server.call.duration</c> (semconv): from a request's arrival to its reply's send.</summary>
    public static readonly Histogram<double> ServerDuration = MessagingTelemetry.Meter.CreateHistogram(
        "rpc.server.call.duration", "s", "Duration of incoming ZeroMQ requests, from receipt to reply sent.", tags: null, DurationAdvice);

    /// <summary>Requests the client started (one per logical request, however many retries).</summary>
    public static readonly Counter<long> ClientRequests = MessagingTelemetry.Meter.CreateCounter<long>(
        "zmqaspire.rpc.client.requests", "{request}", "Requests the client sent (retries of one request count once).");

    /// <summary>Requests that ended without a reply (timeout after every retry, protocol error, cancellation).</summary>
    public static readonly Counter<long> ClientErrors = MessagingTelemetry.Meter.CreateCounter<long>(
        "zmqaspire.rpc.client.errors", "{request}", "Requests that failed; error.type says how.");

    /// <summary>Resends after a reply timeout (the Lazy Pirate pattern).</summary>
    public static readonly Counter<long> ClientRetries = MessagingTelemetry.Meter.CreateCounter<long>(
        "zmqaspire.rpc.client.retries", "{retry}", "Requests sent again on a new socket after a reply timeout.");

    /// <summary>Bytes the client sent and received, by <c>network.io.direction</c>.</summary>
    public static readonly Counter<long> ClientIo = MessagingTelemetry.Meter.CreateCounter<long>(
        "zmqaspire.rpc.client.io", "By", "Bytes of ZeroMQ frames the client sent (transmit) and received (receive).");

    /// <summary>Requests the server received.</summary>
    public static readonly Counter<long> ServerRequests = MessagingTelemetry.Meter.CreateCounter<long>(
        "zmqaspire.rpc.server.requests", "{request}", "Requests the server received, by zmqaspire.message.format.");

    /// <summary>Requests the server could not answer normally.</summary>
    public static readonly Counter<long> ServerErrors = MessagingTelemetry.Meter.CreateCounter<long>(
        "zmqaspire.rpc.server.errors", "{request}", "Requests the server failed or abandoned; error.type says how.");

    /// <summary>Repeated requests the server answered from its reply cache, without doing the work again.</summary>
    public static readonly Counter<long> ServerReplyCacheHits = MessagingTelemetry.Meter.CreateCounter<long>(
        "zmqaspire.rpc.server.reply_cache.hits", "{request}", "Repeated requests (same client-id and seq) answered from the reply cache, the work not done again.");

    /// <summary>Bytes the server received and sent, by <c>network.io.direction</c>.</summary>
    public static readonly Counter<long> ServerIo = MessagingTelemetry.Meter.CreateCounter<long>(
        "zmqaspire.rpc.server.io", "By", "Bytes of ZeroMQ frames the server received (receive) and sent (transmit).");

    /// <summary>The tags every measurement of one call shares: low-cardinality ones only.</summary>
    public static TagList CallTags(string method, string serverAddress, int? serverPort, string format, string? errorType)
    {
        var tags = new TagList
        {
            { TelemetryAttributes.RpcSystemName, MessagingTelemetry.RpcSystemName },
            { TelemetryAttributes.RpcMethod, method },
            { TelemetryAttributes.ServerAddress, serverAddress },
            { TelemetryAttributes.MessageFormat, format },
        };
        if (serverPort is { } port)
        {
            tags.Add(TelemetryAttributes.ServerPort, port);
        }

        if (errorType is not null)
        {
            tags.Add(TelemetryAttributes.ErrorType, errorType);
        }

        return tags;
    }

    /// <summary>Tags for a byte counter.</summary>
    public static TagList IoTags(string direction) => new() { { TelemetryAttributes.NetworkIoDirection, direction } };

    /// <summary>Bytes in a message's frames (ZMTP framing excluded).</summary>
    public static long Size(NetMQ.NetMQMessage message) => message.Sum(f => (long)f.MessageSize);
}
