using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using ZmqAspire.Tunneling;
using Tunnel = ZmqAspire.Tunneling.SshTunnel;

namespace ZmqAspire.SshTunnel.Tests;

/// <summary>
/// AddSshTunnel registers its ActivitySource and Meter with OpenTelemetry itself: a service that
/// adds only an exporter gets the tunnel's spans and measurements (OpenTelemetry's in-memory
/// exporter, a real exporter of the real SDK).
/// </summary>
[Collection(TunnelSshdCollection.Name)]
public sealed class TelemetryTests(TunnelSshd sshd)
{
    [Fact]
    public async Task ConnectSpansAndSessionCountersReachAnExporterWithoutAddSource()
    {
        using var server = ReplyServer.Start();
        var spans = new List<Activity>();
        var metrics = new List<Metric>();
        var builder = TunnelHost.Builder(("ConnectionStrings:telemetry", sshd.ConnectionString(server.Endpoint)));
        // The service's own OpenTelemetry setup: exporters only, no AddSource/AddMeter for the tunnel.
        builder.Services.AddOpenTelemetry()
            .WithTracing(t => t.AddInMemoryExporter(spans))
            .WithMetrics(m => m.AddInMemoryExporter(metrics));
        builder.AddSshTunnel("telemetry");
        using var host = builder.Build();
        await host.StartAsync();
        var tunnel = host.Services.GetRequiredService<Tunnel>();
        await tunnel.WaitUntilUpAsync(TunnelHost.Patience);
        tunnel.Reconnect();
        await TunnelHost.WaitUntilAsync(() => tunnel.State is { Status: SshTunnelStatus.Up, SessionCount: 2 }, TunnelHost.Patience);
        host.Services.GetRequiredService<TracerProvider>().ForceFlush();
        host.Services.GetRequiredService<MeterProvider>().ForceFlush();

        var connects = spans.Where(s => s.Source.Name == SshTunnelTelemetry.Name && Equals(s.GetTagItem(SshTunnelTelemetry.TunnelName), "telemetry")).ToList();
        Assert.Equal(2, connects.Count);
        Assert.All(connects, span =>
        {
            Assert.Equal(SshTunnelTelemetry.ConnectSpanName, span.DisplayName);
            Assert.Equal(ActivityKind.Client, span.Kind);
            Assert.Equal("127.0.0.1", span.GetTagItem("server.address"));
            Assert.Equal(sshd.Port, span.GetTagItem("server.port"));
            Assert.Equal(sshd.HostKeyFingerprint, span.GetTagItem(SshTunnelTelemetry.HostKey));
            Assert.NotEqual(ActivityStatusCode.Error, span.Status);
        });

        Assert.Equal(2, Sum(metrics, SshTunnelTelemetry.SessionConnects, "telemetry"));
        Assert.Equal(1, Sum(metrics, SshTunnelTelemetry.SessionDisconnects, "telemetry", (SshTunnelTelemetry.DisconnectReason, "reconnect")));
        await host.StopAsync();
    }

    [Fact]
    public async Task AFailedLoginIsAnErrorSpanAndCountedByErrorType()
    {
        var spans = new List<Activity>();
        var metrics = new List<Metric>();
        var builder = TunnelHost.Builder(("ConnectionStrings:refused", sshd.ConnectionString("tcp://127.0.0.1:5556", hostKeyFingerprint: sshd.OtherHostKeyFingerprint)));
        builder.Services.AddOpenTelemetry()
            .WithTracing(t => t.AddInMemoryExporter(spans))
            .WithMetrics(m => m.AddInMemoryExporter(metrics));
        builder.AddSshTunnel("refused");
        using var host = builder.Build();
        await host.StartAsync();
        var tunnel = host.Services.GetRequiredService<Tunnel>();
        await Assert.ThrowsAsync<SshHostKeyRejectedException>(() => tunnel.WaitUntilUpAsync(TunnelHost.Patience));
        host.Services.GetRequiredService<TracerProvider>().ForceFlush();
        host.Services.GetRequiredService<MeterProvider>().ForceFlush();

        var span = Assert.Single(spans, s => s.Source.Name == SshTunnelTelemetry.Name && Equals(s.GetTagItem(SshTunnelTelemetry.TunnelName), "refused"));
        Assert.Equal(ActivityStatusCode.Error, span.Status);
        Assert.Equal(typeof(SshHostKeyRejectedException).FullName, span.GetTagItem("error.type"));
        Assert.Contains(span.Events, e => e.Name == "exception");
        Assert.Equal(1, Sum(metrics, SshTunnelTelemetry.SessionConnectFailures, "refused", ("error.type", typeof(SshHostKeyRejectedException).FullName!)));
        await host.StopAsync();
    }

    [Fact]
    public async Task DisableTracingAndDisableMetricsRecordNothingEvenWhenSomeoneListens()
    {
        using var server = ReplyServer.Start();
        var spans = new List<Activity>();
        var metrics = new List<Metric>();
        var builder = TunnelHost.Builder(
            ("ConnectionStrings:quiet", sshd.ConnectionString(server.Endpoint)),
            ("ZmqAspire:SshTunnel:quiet:DisableTracing", "true"),
            ("ZmqAspire:SshTunnel:quiet:DisableMetrics", "true"));
        // As the ServiceDefaults' ZmqAspire.* wildcard would: the source and meter are listened to anyway.
        builder.Services.AddOpenTelemetry()
            .WithTracing(t => t.AddSource(SshTunnelTelemetry.Name).AddInMemoryExporter(spans))
            .WithMetrics(m => m.AddMeter(SshTunnelTelemetry.Name).AddInMemoryExporter(metrics));
        builder.AddSshTunnel("quiet");
        using var host = builder.Build();
        await host.StartAsync();
        var tunnel = host.Services.GetRequiredService<Tunnel>();
        await tunnel.WaitUntilUpAsync(TunnelHost.Patience);
        host.Services.GetRequiredService<TracerProvider>().ForceFlush();
        host.Services.GetRequiredService<MeterProvider>().ForceFlush();

        Assert.DoesNotContain(spans, s => Equals(s.GetTagItem(SshTunnelTelemetry.TunnelName), "quiet"));
        Assert.Equal(0, Sum(metrics, SshTunnelTelemetry.SessionConnects, "quiet"));
        Assert.Equal(server.ExpectedGreeting, await TunnelHost.RequestAsync(tunnel.LocalEndpoint));
        await host.StopAsync();
    }

    /// <summary>Adds up a counter's points for one tunnel (and one more attribute, if given).</summary>
    private static long Sum(List<Metric> exported, string instrument, string tunnel, (string Key, string Value)? attribute = null)
    {
        long sum = 0;
        // The in-memory exporter adds the cumulative state at each export: take the last one.
        foreach (var metric in exported.Where(m => m.MeterName == SshTunnelTelemetry.Name && m.Name == instrument).TakeLast(1))
        {
            foreach (ref readonly var point in metric.GetMetricPoints())
            {
                var tags = new Dictionary<string, object?>();
                foreach (var tag in point.Tags)
                {
                    tags[tag.Key] = tag.Value;
                }

                if (Equals(tags.GetValueOrDefault(SshTunnelTelemetry.TunnelName), tunnel)
                    && (attribute is not { } a || Equals(tags.GetValueOrDefault(a.Key), a.Value)))
                {
                    sum += point.GetSumLong();
                }
            }
        }

        return sum;
    }
}
