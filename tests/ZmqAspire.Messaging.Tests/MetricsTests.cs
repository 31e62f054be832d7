using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace ZmqAspire.Messaging.Tests;

/// <summary>The instruments: names, semconv units, bucket advice, and what one request records.</summary>
public sealed class MetricsTests : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<(Instrument Instrument, double Value, Dictionary<string, object?> Tags)> _measurements = new();

    public MetricsTests()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == MessagingTelemetry.Name)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
    }

    public void Dispose() => _listener.Dispose();

    [Fact]
    public void One_request_records_durations_counts_and_bytes_on_both_sides()
    {
        using var server = new ResponderHost();
        using (var requester = new ZmqRequester(new ZmqRequesterOptions { Endpoint = server.Endpoint, UseEnvelope = true }))
        {
            requester.Send("Hello", 1);
        }

        // The server records its duration when its span ends, just after the reply is sent.
        SpinWait.SpinUntil(() => Of("rpc.server.call.duration", server.Port).Count > 0, TimeSpan.FromSeconds(10));

        var clientDuration = Assert.Single(Of("rpc.client.call.duration", server.Port));
        Assert.Equal("s", clientDuration.Instrument.Unit);
        Assert.InRange(clientDuration.Value, 0.000001, 10);
        Assert.Equal("zeromq", clientDuration.Tags["rpc.system.name"]);
        Assert.Equal(MessagingTelemetry.DefaultMethod, clientDuration.Tags["rpc.method"]);
        Assert.False(clientDuration.Tags.ContainsKey("error.type"));
        var serverDuration = Assert.Single(Of("rpc.server.call.duration", server.Port));
        Assert.Equal("s", serverDuration.Instrument.Unit);
        Assert.Single(Of("zmqaspire.rpc.client.requests", server.Port));
        Assert.Single(Of("zmqaspire.rpc.server.requests", server.Port));
        Assert.Empty(Of("zmqaspire.rpc.client.errors", server.Port));

        var io = _measurements.Where(m => m.Instrument.Name == "zmqaspire.rpc.client.io").ToList();
        Assert.All(io, m => Assert.Equal("By", m.Instrument.Unit));
        Assert.Contains(io, m => (string?)m.Tags["network.io.direction"] == "transmit");
        Assert.Contains(io, m => (string?)m.Tags["network.io.direction"] == "receive");
    }

    [Fact]
    public void A_failed_request_counts_as_an_error_with_its_type()
    {
        using var server = new ResponderHost(silent: true);
        using (var requester = new ZmqRequester(new ZmqRequesterOptions { Endpoint = server.Endpoint, RequestTimeout = TimeSpan.FromMilliseconds(200), MaxRetries = 1 }))
        {
            Assert.Throws<ZmqRequestTimeoutException>(() => requester.Send("Hello", 1));
        }

        var error = Assert.Single(Of("zmqaspire.rpc.client.errors", server.Port));
        Assert.Equal(typeof(ZmqRequestTimeoutException).FullName, error.Tags["error.type"]);
        Assert.Equal(typeof(ZmqRequestTimeoutException).FullName, Assert.Single(Of("rpc.client.call.duration", server.Port)).Tags["error.type"]);
        Assert.Single(Of("zmqaspire.rpc.client.retries", server.Port));
    }

    [Fact]
    public void Duration_histograms_advise_buckets_from_10_microseconds_to_10_seconds()
    {
        var boundaries = MessagingTelemetry.DurationBucketBoundaries;
        Assert.Equal(0.00001, boundaries[0]);
        Assert.Equal(10, boundaries[^1]);
        Assert.Equal(boundaries.Order(), boundaries);

        using var server = new ResponderHost();
        using (var requester = new ZmqRequester(new ZmqRequesterOptions { Endpoint = server.Endpoint }))
        {
            requester.Send("Hello", 1);
        }

        var histogram = Assert.IsType<Histogram<double>>(Of("rpc.client.call.duration", server.Port).First().Instrument);
        Assert.Equal(boundaries, histogram.Advice?.HistogramBucketBoundaries);
    }

    private List<(Instrument Instrument, double Value, Dictionary<string, object?> Tags)> Of(string name, int port) =>
        [.. _measurements.Where(m => m.Instrument.Name == name && m.Tags.TryGetValue("server.port", out var p) && p is int n && n == port)];

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags) =>
        _measurements.Enqueue((instrument, value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value)));
}
