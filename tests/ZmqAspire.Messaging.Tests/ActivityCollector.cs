using System.Collections.Concurrent;
using System.Diagnostics;

namespace ZmqAspire.Messaging.Tests;

/// <summary>Records every span of <see cref="MessagingTelemetry.Name"/> that ends while it lives.</summary>
internal sealed class ActivityCollector : IDisposable
{
    private readonly ActivityListener _listener;

    public ActivityCollector()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == MessagingTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = Stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public ConcurrentQueue<Activity> Stopped { get; } = new();

    /// <summary>The spans whose <c>server.port</c> is <paramref name="port"/> (tests run in parallel).</summary>
    public List<Activity> ForPort(int port) =>
        [.. Stopped.Where(a => a.GetTagItem(TelemetryAttributes.ServerPort) is int p && p == port)];

    public void Dispose() => _listener.Dispose();
}
