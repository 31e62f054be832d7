using System.Security.Cryptography;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using ZmqAspire.Testing;

namespace ZmqAspire.Dashboard.Tests;

/// <summary>
/// Runs the real AppHost once for the collection, with the dashboard on (loopback, ports the OS
/// picks) and its telemetry API keyed with a per-run secret: real bastion and server
/// containers, the real client, fresh SSH keys in a temporary folder.
/// </summary>
public sealed class DashboardFixture : IAsyncLifetime
{
    /// <summary>How many requests the client sends on its own; more come from the send-request command.</summary>
    public const int RequestCount = 3;

    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(5);
    private readonly string _apiKey = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
    private DistributedApplication? _app;

    public DistributedApplication App => _app ?? throw new InvalidOperationException("not started");

    public string KeyDirectory { get; } = Directory.CreateTempSubdirectory("zmqaspire-dashboard-keys-").FullName;

    /// <summary>Gets the dashboard's login URL (it carries the browser token).</summary>
    public Uri LoginUrl { get; private set; } = null!;

    /// <summary>Gets the dashboard's telemetry HTTP API, authenticated with the run's API key.</summary>
    public TelemetryApi Telemetry { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.ZmqAspire_AppHost>(
            new DistributedApplicationTestingBuilderOptions { EnableDashboard = true },
            [
                $"--ZmqAspire:KeyDirectory={KeyDirectory}",
                "--ZmqAspire:BastionPort=0", // any free port: the default 2222 may be taken
                "--ZmqAspire:ServerWorkSeconds=0.05",
                $"--ZmqAspire:RequestCount={RequestCount}",
                $"--AppHost:DashboardApiKey={_apiKey}",
            ]);
        _app = await builder.BuildAsync();
        using var cts = new CancellationTokenSource(StartTimeout);
        await _app.StartAsync(cts.Token);
        LoginUrl = await _app.GetDashboardUrlAsync(cts.Token);
        Telemetry = new TelemetryApi(new Uri(LoginUrl.GetLeftPart(UriPartial.Authority)), _apiKey);
        await _app.ResourceNotifications.WaitForResourceHealthyAsync("client", cts.Token);
    }

    /// <summary>Waits until the client reports Healthy (its tunnel is up).</summary>
    public async Task WaitForClientHealthyAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await App.ResourceNotifications.WaitForResourceHealthyAsync("client", cts.Token);
    }

    /// <summary>Runs a resource command as the dashboard's button would.</summary>
    public async Task<ExecuteCommandResult> ExecuteCommandAsync(string resource, string command)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        return await App.Services.GetRequiredService<ResourceCommandService>().ExecuteCommandAsync(resource, command, cts.Token);
    }

    /// <summary>Collects a resource's log lines (from its start) until <paramref name="done"/> holds or the timeout elapses.</summary>
    public async Task<List<string>> WatchLogsAsync(string resource, Func<List<string>, bool> done, TimeSpan timeout)
    {
        var lines = new List<string>();
        using var cts = new CancellationTokenSource(timeout);
        var logs = App.Services.GetRequiredService<ResourceLoggerService>();
        var target = App.Services.GetRequiredService<DistributedApplicationModel>().Resources.Single(r => r.Name == resource);
        try
        {
            await foreach (var batch in logs.WatchAsync(target).WithCancellation(cts.Token))
            {
                lines.AddRange(batch.Select(l => l.Content));
                if (done(lines))
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Timed out: the caller asserts on what arrived.
        }

        return lines;
    }

    public async Task DisposeAsync()
    {
        Telemetry?.Dispose();
        if (_app is not null)
        {
            var images = BuiltImages.Of(_app);
            await _app.StopAsync();
            await _app.DisposeAsync();
            await BuiltImages.RemoveAsync(images);
        }

        Directory.Delete(KeyDirectory, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class DashboardCollection : ICollectionFixture<DashboardFixture>, ICollectionFixture<BrowserFixture>
{
    public const string Name = "Dashboard";
}
