using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ZmqAspire.Messaging;

/// <summary>
/// The names under which this library reports: one <see cref="ActivitySource"/> and one
/// <see cref="Meter"/>, both <see cref="Name"/>. Register them with OpenTelemetry
/// (<c>AddSource(MessagingTelemetry.Name)</c>, <c>AddMeter(MessagingTelemetry.Name)</c>); the
/// ServiceDefaults' <c>ZmqAspire.*</c> wildcard already covers them.
/// </summary>
/// <remarks>
/// Spans and metrics follow the OpenTelemetry semantic conventions for RPC (v1.45: client span
/// kind CLIENT, server span kind SERVER, <c>rpc.client.call.duration</c> and
/// <c>rpc.server.call.duration</c> in seconds); docs/telemetry.md lists every name and why RPC
/// rather than messaging conventions describe a REQ/REP exchange.
/// </remarks>
public static class MessagingTelemetry
{
    /// <summary>The name of the library's ActivitySource and of its Meter.</summary>
    public const string Name = "ZmqAspire.Messaging";

    /// <summary>The value of <c>rpc.system.name</c>: not a well-known value of the conventions, so a custom one.</summary>
    public const string RpcSystemName = "zeromq";

    /// <summary>
    /// The default fully-qualified logical method (<c>rpc.method</c>, also the span name):
    /// the one operation a REQ/REP server offers, "answer a request".
    /// </summary>
    public const string DefaultMethod = "zmqaspire.ReplyService/Request";

    /// <summary>
    /// The explicit bucket boundaries of the duration histograms, in seconds: 10 µs to 10 s in
    /// 1-2.5-5 steps, so that an in-process round trip (tens of µs) and a slow server (seconds)
    /// both land in buckets of their own. OpenTelemetry's default boundaries start at 5 (meant
    /// for milliseconds) and would put every sub-5-second call in one bucket.
    /// </summary>
    public static IReadOnlyList<double> DurationBucketBoundaries { get; } =
    [
        0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
        0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ];

    /// <summary>Gets the ActivitySource of the client and server spans.</summary>
    internal static ActivitySource Source { get; } = new(Name, typeof(MessagingTelemetry).Assembly.GetName().Version?.ToString());

    /// <summary>Gets the Meter of the library's instruments.</summary>
    internal static Meter Meter { get; } = new(Name, typeof(MessagingTelemetry).Assembly.GetName().Version?.ToString());
}
