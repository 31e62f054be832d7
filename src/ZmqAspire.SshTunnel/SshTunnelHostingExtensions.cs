using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using ZmqAspire.Tunneling;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Adds an SSH tunnel to a service, the way Aspire's client integrations add a client: one call
/// binds and checks its settings, keeps the tunnel up as a hosted service, and registers its
/// health check, ActivitySource and Meter.
/// </summary>
public static class SshTunnelHostingExtensions
{
    /// <summary>The prefix of a tunnel's health check name; the connection name follows.</summary>
    public const string HealthCheckNamePrefix = "ZmqAspire.SshTunnel_";

    /// <summary>
    /// Registers the SSH tunnel <paramref name="connectionName"/> as a singleton
    /// <see cref="SshTunnel"/>: its settings come from <c>ConnectionStrings:{connectionName}</c>
    /// (which the AppHost sets) and the sections <c>ZmqAspire:SshTunnel</c> and
    /// <c>ZmqAspire:SshTunnel:{connectionName}</c> (<see cref="SshTunnelSettings"/> says which
    /// wins). When the host starts, the settings are checked (a missing or wrong value fails the
    /// start with <see cref="OptionsValidationException"/>, one failure per problem naming the
    /// configuration key, such as <c>ConnectionStrings:server: SshServer is missing</c>), the local
    /// endpoints open and the tunnel logs in to the bastion, again with backoff whenever the
    /// session dies; it closes when the host stops. Also registers the health check
    /// <c>ZmqAspire.SshTunnel_{connectionName}</c> and adds <see cref="SshTunnelTelemetry.Name"/>
    /// to OpenTelemetry's tracing and metrics, unless the settings turn them off.
    /// </summary>
    /// <param name="builder">The service's builder.</param>
    /// <param name="connectionName">The connection name: the key under <c>ConnectionStrings</c>, for example <c>server</c>.</param>
    /// <param name="configureSettings">Changes the bound settings; runs last, when this method is called.</param>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="connectionName"/> is null, empty or white space.</exception>
    /// <exception cref="InvalidOperationException">An unkeyed tunnel was already added (add several with
    /// <see cref="AddKeyedSshTunnel"/>), or a tunnel named <paramref name="connectionName"/> was.</exception>
    public static void AddSshTunnel(this IHostApplicationBuilder builder, string connectionName, Action<SshTunnelSettings>? configureSettings = null) =>
        Add(builder, connectionName, configureSettings, keyed: false);

    /// <summary>
    /// Registers the SSH tunnel <paramref name="name"/> as a keyed singleton
    /// <see cref="SshTunnel"/> (service key <paramref name="name"/>: inject it with
    /// <c>[FromKeyedServices("name")]</c>), as <see cref="AddSshTunnel"/> does otherwise; call it
    /// once per tunnel for several tunnels in one service.
    /// </summary>
    /// <param name="builder">The service's builder.</param>
    /// <param name="name">The connection name, which is also the service key.</param>
    /// <param name="configureSettings">Changes the bound settings; runs last, when this method is called.</param>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null, empty or white space.</exception>
    /// <exception cref="InvalidOperationException">A tunnel named <paramref name="name"/> was already added.</exception>
    public static void AddKeyedSshTunnel(this IHostApplicationBuilder builder, string name, Action<SshTunnelSettings>? configureSettings = null) =>
        Add(builder, name, configureSettings, keyed: true);

    private static void Add(IHostApplicationBuilder builder, string connectionName, Action<SshTunnelSettings>? configureSettings, bool keyed)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionName);
        Claim(builder, $"{SshTunnelTelemetry.Name}:{connectionName}", $"An SSH tunnel named '{connectionName}' was already added to this service.");
        if (!keyed)
        {
            Claim(builder, $"{SshTunnelTelemetry.Name}:unkeyed", $"AddSshTunnel was already called; the SshTunnel service can be one tunnel only. Use AddKeyedSshTunnel(\"{connectionName}\") for each of several tunnels.");
        }

        var binding = SshTunnelBinding.Bind(builder.Configuration, connectionName, configureSettings);
        var settings = binding.Settings;
        var healthCheckName = settings.DisableHealthChecks ? null : HealthCheckNamePrefix + connectionName;
        SshTunnel Create(IServiceProvider services)
        {
            var plan = binding.Validate();
            // The tunnel logs in as soon as it is made: build OpenTelemetry's providers first (as
            // its own hosted service would, later), or the first spans and counts would be lost.
            if (!settings.DisableTracing)
            {
                _ = services.GetService<TracerProvider>();
            }

            if (!settings.DisableMetrics)
            {
                _ = services.GetService<MeterProvider>();
            }

            var instruments = new SshTunnelInstruments(settings.DisableMetrics ? null : SshTunnelInstruments.CreateMeter(services.GetService<IMeterFactory>()), plan, tracing: !settings.DisableTracing);
            var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(SshTunnelTelemetry.Name);
            return new SshTunnel(plan, healthCheckName, instruments, logger, services.GetService<TimeProvider>() ?? TimeProvider.System);
        }

        SshTunnel Resolve(IServiceProvider services) =>
            keyed ? services.GetRequiredKeyedService<SshTunnel>(connectionName) : services.GetRequiredService<SshTunnel>();

        if (keyed)
        {
            builder.Services.AddKeyedSingleton(connectionName, (services, _) => Create(services));
        }
        else
        {
            builder.Services.AddSingleton(Create);
        }

        // Added, not TryAdded: one hosted service per tunnel (TryAddEnumerable would keep the first).
        builder.Services.AddSingleton<IHostedService>(services => new SshTunnelHostedService(() => Resolve(services)));
        if (healthCheckName is not null)
        {
            builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(healthCheckName, services => new SshTunnelHealthCheck(Resolve(services)), failureStatus: null, tags: null));
        }

        if (!settings.DisableTracing)
        {
            builder.Services.AddOpenTelemetry().WithTracing(tracing => tracing.AddSource(SshTunnelTelemetry.Name));
        }

        if (!settings.DisableMetrics)
        {
            builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(SshTunnelTelemetry.Name));
        }
    }

    private static void Claim(IHostApplicationBuilder builder, string key, string error)
    {
        if (!builder.Properties.TryAdd(key, true))
        {
            throw new InvalidOperationException(error);
        }
    }
}
