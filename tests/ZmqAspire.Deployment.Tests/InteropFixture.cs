namespace ZmqAspire.Deployment.Tests;

/// <summary>
/// The compose deployment plus the interop additions (interop/docker-compose.interop.yml): our
/// bastion and NetMQ server, the seed's pyzmq REP server behind the same bastion, and a client
/// of ours pointed at it. Brought up once for the interop tests, torn down after them.
/// </summary>
public sealed class InteropFixture : IAsyncLifetime
{
    private const string PyrepImage = "zmqaspire/pyrep:test";
    private ComposeProject? _project;

    internal ComposeProject Project => _project ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        // The pyzmq peer image: Debian's python3-zmq from Debian's mirror; cached after the first build.
        await Cli.RunCheckedAsync(
            "docker",
            ["build", "-q", "-t", PyrepImage, Path.Combine(Repo.InteropDirectory, "pyrep")],
            new Dictionary<string, string?> { ["DOCKER_BUILDKIT"] = "1" },
            TimeSpan.FromMinutes(5));
        _project = await ComposeProject.CreateAsync("zmqinterop", Path.Combine(Repo.InteropDirectory, "docker-compose.interop.yml"));
        await _project.UpAsync();
        var pyrep = await _project.WaitForLogAsync("pyrep", "REP server on", TimeSpan.FromSeconds(60));
        Assert.Contains("REP server on", pyrep, StringComparison.Ordinal);
    }

    public async Task DisposeAsync()
    {
        if (_project is not null)
        {
            await _project.DisposeAsync();
        }

        // The image this fixture built (issue #21: tests remove what they build). Its layers stay
        // in the build cache, so the next run rebuilds it in seconds; eng/clean.sh clears that.
        await Cli.RunCheckedAsync("docker", ["image", "rm", PyrepImage], null, TimeSpan.FromMinutes(1));
    }
}

[CollectionDefinition(Name)]
public sealed class InteropCollection : ICollectionFixture<InteropFixture>
{
    public const string Name = "Interop";
}
