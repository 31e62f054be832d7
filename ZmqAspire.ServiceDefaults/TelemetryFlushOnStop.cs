using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Sends the last logs, metrics and spans when the host stops, for at most
/// <see cref="FlushBudget"/>: without it they are flushed when the service provider is disposed,
/// with no bound but the OTLP exporter's own timeout (10 s), so a collector or dashboard that
/// accepts connections and never answers held a stopping client for 10.6 s after SIGTERM, and a
/// container runtime kills a container 10 s after asking it to stop. What is not sent within the
/// budget is dropped; the later disposal does not wait again (a provider shuts down once).
/// </summary>
/// <remarks>
/// Registered by <see cref="ServiceDefaultsExtensions.ConfigureOpenTelemetry{TBuilder}"/>, early
/// in a service's set-up, so it stops after the services registered later (hosted services stop
/// in reverse order) and their last spans and logs are included. Replays
/// open-telemetry/opentelemetry-dotnet#2402 and open-telemetry/opentelemetry-python#2024 (a
/// collector that is not there slows or hangs the instrumented application) for the shutdown path.
/// zmq-tunnel bounds its own flush the same way (issue #17).
/// </remarks>
internal sealed class TelemetryFlushOnStop(IServiceProvider services) : IHostedService
{
    /// <summary>How long the flush may take, in milliseconds: traces, metrics and logs side by side.</summary>
    internal const int FlushBudget = 1000;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken)
    {
        var tracing = services.GetService<TracerProvider>();
        var metrics = services.GetService<MeterProvider>();
        var logging = services.GetService<LoggerProvider>();
        return Task.WhenAll(
            Task.Run(() => tracing?.Shutdown(FlushBudget), CancellationToken.None),
            Task.Run(() => metrics?.Shutdown(FlushBudget), CancellationToken.None),
            Task.Run(() => logging?.Shutdown(FlushBudget), CancellationToken.None));
    }
}
