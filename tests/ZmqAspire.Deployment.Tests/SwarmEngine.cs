namespace ZmqAspire.Deployment.Tests;

/// <summary>
/// The Docker engine of one swarm node: this machine's (the manager), or a worker node's that
/// eng/swarm.sh up --nodes runs in a container (Docker-in-Docker), reached with
/// <c>docker exec WORKER docker ...</c>. Container ids are per engine.
/// </summary>
internal sealed record SwarmEngine(string Node, IReadOnlyList<string> Prefix)
{
    /// <summary>The label eng/swarm-nodes.sh puts on each worker container (value: its name, which is also its node's hostname).</summary>
    public const string WorkerLabel = "zmqaspire.swarm.node";

    public static SwarmEngine Manager { get; } = new("manager", []);

    public static SwarmEngine Worker(string container) => new(container, ["exec", container, "docker"]);

    /// <summary>The worker containers on this machine (running or not), by name.</summary>
    public static async Task<List<string>> WorkerContainersAsync() =>
        [.. (await Cli.RunCheckedAsync("docker", ["ps", "-a", "--filter", $"label={WorkerLabel}", "--format", "{{.Names}}"])).StandardOutput
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)];

    public Task<CliResult> DockerAsync(IEnumerable<string> arguments, TimeSpan? timeout = null) =>
        Cli.RunAsync("docker", [.. Prefix, .. arguments], timeout: timeout);

    public async Task<CliResult> DockerCheckedAsync(params string[] arguments)
    {
        var result = await DockerAsync(arguments);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"'docker {string.Join(' ', [.. Prefix, .. arguments])}' on {Node} exited with {result.ExitCode}:\n{result.Output}");
        }

        return result;
    }

    public async Task<System.Text.Json.JsonElement> InspectAsync(string containerId) =>
        System.Text.Json.JsonDocument.Parse((await DockerCheckedAsync("inspect", containerId)).StandardOutput).RootElement[0].Clone();

    public override string ToString() => Node;
}
