using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace ZmqAspire.Messaging.Tests;

/// <summary>
/// The ServiceDefaults' <c>ZmqAspire.*</c> registration, through the real OpenTelemetry SDK:
/// the wildcard must match the library's ActivitySource and Meter, and the client's.
/// </summary>
public sealed class ServiceDefaultsRegistrationTests
{
    [Fact]
    public void The_wildcard_registers_the_messaging_and_client_sources_and_meters()
    {
        var spans = new List<Activity>();
        var metrics = new List<Metric>();
        var builder = Host.CreateApplicationBuilder();
        builder.AddServiceDefaults();
        builder.Services.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(spans));
        builder.Services.ConfigureOpenTelemetryMeterProvider(m => m.AddInMemoryExporter(metrics));
        using var host = builder.Build();
        host.Start();

        using var clientSource = new ActivitySource("ZmqAspire.SshTunnel");
        using var clientMeter = new Meter("ZmqAspire.SshTunnel");
        using (var server = new ResponderHost())
        using (var requester = new ZmqRequester(new ZmqRequesterOptions { Endpoint = server.Endpoint, UseEnvelope = true }))
        {
            requester.Send("Hello", 1);
        }

        clientSource.StartActivity("ssh connect")?.Dispose();
        clientMeter.CreateCounter<long>("zmqaspire.ssh.session.connects").Add(1);
        host.Services.GetRequiredService<TracerProvider>().ForceFlush();
        host.Services.GetRequiredService<MeterProvider>().ForceFlush();

        Assert.Contains(spans, s => s.Source.Name == MessagingTelemetry.Name && s.Kind == ActivityKind.Client);
        Assert.Contains(spans, s => s.Source.Name == "ZmqAspire.SshTunnel");
        Assert.Contains(metrics, m => m.MeterName == MessagingTelemetry.Name && m.Name == "rpc.client.call.duration" && m.Unit == "s");
        Assert.Contains(metrics, m => m.MeterName == "ZmqAspire.SshTunnel" && m.Name == "zmqaspire.ssh.session.connects");

        // The SDK honours the library's bucket advice (10 µs ... 10 s), not its millisecond defaults.
        var duration = metrics.First(m => m.Name == "rpc.client.call.duration");
        foreach (ref readonly var point in duration.GetMetricPoints())
        {
            var bounds = new List<double>();
            foreach (var bucket in point.GetHistogramBuckets())
            {
                bounds.Add(bucket.ExplicitBound);
            }

            Assert.Equal([.. MessagingTelemetry.DurationBucketBoundaries, double.PositiveInfinity], bounds);
        }
    }
}
