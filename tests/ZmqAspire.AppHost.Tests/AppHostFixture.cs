using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ZmqAspire.AppHost;
using ZmqAspire.Testing;
using ZmqAspire.Tunneling;

namespace ZmqAspire.AppHost.Tests;

/// <summary>
/// Runs the real AppHost once for the test collection: real bastion and server containers and
/// the real client process, with fresh keys in a temporary folder and a short work time.
/// </summary>
public class AppHostFixture : IAsyncLifetime
{
    /// <summary>How many requests the client sends in the test run.</summary>
    public const int RequestCount = 5;

    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(5);
    private DistributedApplication? _app;

    public DistributedApplication App => _app ?? throw new InvalidOperationException("not started");

    public string KeyDirectory { get; } = Directory.CreateTempSubdirectory("zmqaspire-test-keys-").FullName;

    public SshKeyMaterial Keys => SshKeyMaterial.EnsureCreated(KeyDirectory);

    /// <summary>Gets more AppHost arguments, for fixtures that run another configuration (later values win).</summary>
    protected virtual IEnumerable<string> ExtraArguments => [];

    /// <summary>Changes the application model before it is built (for example a resource's environment), for fixtures that need more than arguments.</summary>
    /// <param name="builder">The AppHost's builder.</param>
    protected virtual void Configure(IDistributedApplicationTestingBuilder builder)
    {
    }

    /// <summary>Gets the names of the REP server resources the configuration runs.</summary>
    public virtual IReadOnlyList<string> Servers => ["server"];

    public async Task InitializeAsync()
    {
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.ZmqAspire_AppHost>(
        [
            $"--ZmqAspire:KeyDirectory={KeyDirectory}",
            "--ZmqAspire:BastionPort=0", // any free port: the default 2222 may be taken
            "--ZmqAspire:ServerWorkSeconds=0.05",
            $"--ZmqAspire:RequestCount={RequestCount}",
            .. ExtraArguments,
        ]);
        // The AppHost's own log lines (what its console shows), for the tests that read them.
        builder.Services.AddFakeLogging();
        Configure(builder);
        _app = await builder.BuildAsync();
        using var cts = new CancellationTokenSource(StartTimeout);
        await _app.StartAsync(cts.Token);
        await _app.ResourceNotifications.WaitForResourceHealthyAsync("bastion", cts.Token);
        foreach (var server in Servers)
        {
            await _app.ResourceNotifications.WaitForResourceAsync(server, KnownResourceStates.Running, cts.Token);
        }
    }

    /// <summary>Options for logging in to the bastion from the test, as the client does.</summary>
    public SshTunnelOptions BastionOptions(string? user = null)
    {
        var endpoint = App.GetEndpoint("bastion", SshBastionResource.SshEndpointName);
        return new SshTunnelOptions
        {
            Server = new SshServerAddress(user ?? "tunnel", endpoint.Host, endpoint.Port),
            HostKey = HostKeyPolicy.Pinned(Keys.HostKeyFingerprint),
            PrivateKeyPath = Keys.ClientPrivateKeyPath,
            ConnectTimeout = TimeSpan.FromSeconds(20),
        };
    }

    /// <summary>Gets the docker container id of a container resource.</summary>
    public async Task<string> ContainerIdAsync(string resource)
    {
        var e = await App.ResourceNotifications.WaitForResourceAsync(
            resource, e => e.Snapshot.Properties.Any(p => p.Name == "container.id" && p.Value is string { Length: > 0 }));
        return (string)e.Snapshot.Properties.First(p => p.Name == "container.id").Value!;
    }

    /// <summary>Collects a resource's log lines until <paramref name="done"/> holds or the timeout elapses.</summary>
    public async Task<List<string>> WatchLogsAsync(string resource, Func<List<string>, bool> done, TimeSpan timeout)
    {
        var lines = new List<string>();
        using var cts = new CancellationTokenSource(timeout);
        var logs = App.Services.GetRequiredService<ResourceLoggerService>();
        // Watch by resource, not by name: DCP names each instance with a suffix (client-abcd).
        var model = App.Services.GetRequiredService<DistributedApplicationModel>();
        var target = model.Resources.Single(r => r.Name == resource);
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
public sealed class AppHostCollection : ICollectionFixture<AppHostFixture>
{
    public const string Name = "AppHost";
}
