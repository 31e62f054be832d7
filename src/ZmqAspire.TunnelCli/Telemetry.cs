using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using ZmqAspire.Tunneling;

namespace ZmqAspire.TunnelCli;

/// <summary>
/// zmq-tunnel's spans and counters (ActivitySource and Meter <see cref="Name"/>), exported over
/// OTLP only when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set; the exporter reads the standard
/// variables itself (<c>OTEL_EXPORTER_OTLP_PROTOCOL</c>, <c>OTEL_SERVICE_NAME</c>,
/// <c>OTEL_RESOURCE_ATTRIBUTES</c>, ...). Names and attributes are the client's
/// (docs/telemetry.md), so one dashboard reads both.
/// </summary>
public sealed class Telemetry : IDisposable
{
    /// <summary>The ActivitySource and Meter name.</summary>
    public const string Name = "ZmqAspire.TunnelCli";

    private static readonly ActivitySource Source = new(Name);
    private static readonly Meter Meter = new(Name);
    private static readonly Counter<long> Connects = Meter.CreateCounter<long>("zmqaspire.ssh.session.connects", "{connect}", "SSH sessions logged in.");
    private static readonly Counter<long> ConnectFailures = Meter.CreateCounter<long>("zmqaspire.ssh.session.connect_failures", "{attempt}", "Failed SSH login attempts.");
    private static readonly Counter<long> Disconnects = Meter.CreateCounter<long>("zmqaspire.ssh.session.disconnects", "{disconnect}", "SSH sessions lost.");
    private static readonly Counter<long> ForwardFailures = Meter.CreateCounter<long>("zmqaspire.ssh.forward.failures", "{failure}", "Connections the bastion would not relay.");

    private readonly TracerProvider? _tracing;
    private readonly MeterProvider? _metrics;
    private Activity? _session;

    private Telemetry(bool export)
    {
        if (export)
        {
            _tracing = Sdk.CreateTracerProviderBuilder().AddSource(Name).AddOtlpExporter().Build();
            _metrics = Sdk.CreateMeterProviderBuilder().AddMeter(Name, TunnelMeter.Name).AddOtlpExporter().Build();
        }
    }

    /// <summary>Starts exporting when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set; otherwise the instruments cost nothing (no listener).</summary>
    public static Telemetry FromEnvironment() =>
        new(!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT")));

    /// <summary>Logs in with an <c>ssh connect</c> span around the attempt (the forward's login hook).</summary>
    public static async Task<SshTunnelSession> ConnectAsync(SshTunnelOptions options, CancellationToken cancellationToken)
    {
        using var activity = Source.StartActivity("ssh connect", ActivityKind.Client);
        activity?.SetTag("server.address", options.Server.Host);
        activity?.SetTag("server.port", options.Server.Port);
        try
        {
            var session = await SshTunnelSession.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
            activity?.SetTag("zmqaspire.ssh.host_key", session.HostKeyFingerprint);
            return session;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            activity?.SetTag("error.type", ex.GetType().FullName);
            activity?.AddException(ex);
            ConnectFailures.Add(1, new KeyValuePair<string, object?>("error.type", ex.GetType().FullName));
            throw;
        }
    }

    /// <summary>A session is up: counts it and opens its <c>ssh session</c> span, which lasts until <see cref="Disconnected"/>.</summary>
    public void Connected(SshTunnelSession session, int count)
    {
        Connects.Add(1);
        _session?.Dispose();
        // A root span of its own, and not the parent of what the forward does next (the next login).
        var previous = Activity.Current;
        Activity.Current = null;
        _session = Source.StartActivity("ssh session", ActivityKind.Client);
        Activity.Current = previous;
        _session?.SetTag("server.address", session.Server.Host);
        _session?.SetTag("server.port", session.Server.Port);
        _session?.SetTag("zmqaspire.ssh.host_key", session.HostKeyFingerprint);
        _session?.SetTag("zmqaspire.ssh.session.number", count.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>The session was lost: counts it and ends its span with the reason.</summary>
    public void Disconnected(string reason, bool reconnectRequested)
    {
        Disconnects.Add(1, new KeyValuePair<string, object?>("zmqaspire.ssh.disconnect.reason", reconnectRequested ? "reconnect" : "error"));
        if (_session is { } session)
        {
            session.SetStatus(ActivityStatusCode.Error, reason);
            session.Dispose();
            _session = null;
        }
    }

    /// <summary>The bastion would not relay a connection.</summary>
    public static void ForwardFailed(SshForwardException error) =>
        ForwardFailures.Add(1, new KeyValuePair<string, object?>("error.type", error.GetType().FullName));

    /// <summary>
    /// Ends the open session span (shutdown) and flushes what is left to the collector, traces and
    /// metrics side by side, for at most <see cref="FlushBudget"/> milliseconds: a collector that
    /// is down must not hold up an exit that SIGTERM asked for (within a second, issue #17), yet a
    /// loaded machine needs more than a moment to send the last spans.
    /// </summary>
    public void Dispose()
    {
        _session?.Dispose();
        _session = null;
        Task.WaitAll(
            Task.Run(() => _tracing?.Shutdown(FlushBudget)),
            Task.Run(() => _metrics?.Shutdown(FlushBudget)));
        _tracing?.Dispose();
        _metrics?.Dispose();
    }

    private const int FlushBudget = 600;
}
