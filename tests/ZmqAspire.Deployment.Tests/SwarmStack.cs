using System.Globalization;
using System.Text.RegularExpressions;

namespace ZmqAspire.Deployment.Tests;

/// <summary>
/// One deployment of deploy/swarm/stack.yml on a swarm that it makes and leaves (one node, or
/// Docker-in-Docker workers beside this engine: eng/swarm.sh up --nodes N),
/// through eng/swarm.sh (as a user runs it), under a stack name of its own, with fresh keys in a
/// temporary 0700 folder and the bastion's SSH port on a free port.
/// </summary>
/// <remarks>
/// The swarm exists only while the test runs: the machine is shared, and eng/test.sh runs the
/// deployment tests one at a time, so the engine must be in no swarm when it starts.
/// </remarks>
internal sealed partial class SwarmStack : IAsyncDisposable
{
    private readonly string _root;
    private bool _down;

    private SwarmStack(string prefix)
    {
        Name = $"{prefix}{Guid.NewGuid():N}"[..(prefix.Length + 8)];
        _root = Directory.CreateTempSubdirectory("zmqaspire-swarm-").FullName;
        KeyDirectory = Path.Combine(_root, "keys");
        SshPort = ZmqAspire.Testing.Sshd.LoopbackPort.Free();
    }

    /// <summary>Gets the stack name (service, network and secret names start with it and '_').</summary>
    public string Name { get; }

    public string KeyDirectory { get; }

    public int SshPort { get; }

    public string HostKeyFingerprint { get; private set; } = string.Empty;

    public string ClientKeyPath => Path.Combine(KeyDirectory, "client_ed25519_key");

    /// <summary>Checks the images and that this engine is in no swarm; starts nothing.</summary>
    public static async Task<SwarmStack> CreateAsync(string prefix)
    {
        foreach (var image in ComposeProject.Images)
        {
            Assert.True((await Cli.RunAsync("docker", ["image", "inspect", image])).ExitCode == 0, $"missing image {image}: run eng/build-images.sh first (eng/test.sh does)");
        }

        var state = await SwarmStateAsync();
        Assert.True(state == "inactive", $"this engine's swarm state is '{state}': the swarm test makes its own single-node swarm and leaves it, so it needs an engine in no swarm");
        return new SwarmStack(prefix);
    }

    public static async Task<string> SwarmStateAsync() =>
        (await Cli.RunCheckedAsync("docker", ["info", "--format", "{{.Swarm.LocalNodeState}}"])).StandardOutput.Trim();

    public string Service(string name) => $"{Name}_{name}";

    /// <summary>
    /// eng/swarm.sh up: keys, swarm init, stack deploy, waits until the services converged. With
    /// <paramref name="nodes"/> above 1, <c>up --nodes N</c>: N-1 worker nodes in containers and
    /// the stack placed across them (deploy/swarm/multinode.yml).
    /// </summary>
    public async Task<CliResult> UpAsync(int serverReplicas, string serverWorkTime, int nodes = 1)
    {
        var result = await Cli.RunAsync(
            Path.Combine(Repo.Root, "eng", "swarm.sh"),
            nodes > 1 ? ["up", "--nodes", nodes.ToString(CultureInfo.InvariantCulture), KeyDirectory] : ["up", KeyDirectory],
            new Dictionary<string, string?>
            {
                ["ZMQASPIRE_STACK"] = Name,
                ["ZMQASPIRE_SSH_PORT"] = SshPort.ToString(CultureInfo.InvariantCulture),
                ["ZMQASPIRE_SERVER_REPLICAS"] = serverReplicas.ToString(CultureInfo.InvariantCulture),
                ["ZMQASPIRE_SERVER_WORK_TIME"] = serverWorkTime,
            },
            TimeSpan.FromMinutes(6));
        Assert.True(result.ExitCode == 0, "eng/swarm.sh up failed:\n" + result.Output);
        HostKeyFingerprint = File.ReadAllLines(Path.Combine(KeyDirectory, "compose.env"))
            .Single(l => l.StartsWith("ZMQASPIRE_HOST_KEY_FINGERPRINT=", StringComparison.Ordinal)).Split('=', 2)[1];
        return result;
    }

    /// <summary>eng/swarm.sh down: stack rm, waits until it is gone, swarm leave, docker_gwbridge removed.</summary>
    public async Task<CliResult> DownAsync()
    {
        _down = true;
        return await Cli.RunAsync(Path.Combine(Repo.Root, "eng", "swarm.sh"), ["down"], new Dictionary<string, string?> { ["ZMQASPIRE_STACK"] = Name }, TimeSpan.FromMinutes(4));
    }

    /// <summary>
    /// The safety net when <see cref="DownAsync"/> left the swarm this test made (the engine was in
    /// none before): removes worker node containers with their volumes, leaves the swarm and
    /// removes docker_gwbridge and the worker nodes' network, so that a failed run does not leave
    /// a swarm on a shared machine. Returns what it had to do (empty when nothing).
    /// </summary>
    public static async Task<List<string>> LeaveSwarmWeMadeAsync()
    {
        var done = new List<string>();
        foreach (var worker in await SwarmEngine.WorkerContainersAsync())
        {
            done.Add($"docker rm -f {worker}: " + (await Cli.RunAsync("docker", ["rm", "-f", worker])).Output.Trim());
            done.Add($"docker volume rm {worker}: " + (await Cli.RunAsync("docker", ["volume", "rm", worker])).Output.Trim());
        }

        if (await SwarmStateAsync() != "inactive")
        {
            done.Add("docker swarm leave --force: " + (await Cli.RunAsync("docker", ["swarm", "leave", "--force"])).Output.Trim());
        }

        if ((await Cli.RunAsync("docker", ["network", "inspect", "docker_gwbridge"])).ExitCode == 0)
        {
            done.Add("docker network rm docker_gwbridge: " + (await Cli.RunAsync("docker", ["network", "rm", "docker_gwbridge"])).Output.Trim());
        }

        if ((await Cli.RunAsync("docker", ["network", "inspect", NodeNetwork])).ExitCode == 0)
        {
            done.Add($"docker network rm {NodeNetwork}: " + (await Cli.RunAsync("docker", ["network", "rm", NodeNetwork])).Output.Trim());
        }

        return done;
    }

    /// <summary>
    /// The end of a swarm test, after <see cref="DownAsync"/> and <see cref="LeaveSwarmWeMadeAsync"/>:
    /// prints what the test had to clean up after <c>eng/swarm.sh down</c>, rethrows the test's own
    /// failure first (with what down left, for the diagnosis), then asserts that down succeeded
    /// and left nothing.
    /// </summary>
    public static void AssertTornDown(ITestOutputHelper output, CliResult down, List<string> left, List<string> cleaned, Exception? failure)
    {
        foreach (var line in cleaned)
        {
            output.WriteLine("cleaned up after eng/swarm.sh down: " + line);
        }

        if (failure is not null)
        {
            output.WriteLine($"left behind by down: {string.Join(", ", left)}");
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
        }

        Assert.True(down.ExitCode == 0, "eng/swarm.sh down failed:\n" + down.Output);
        Assert.True(left.Count == 0, "left behind: " + string.Join(", ", left));
    }

    public static Task<CliResult> DockerAsync(params string[] arguments) => Cli.RunAsync("docker", arguments, timeout: TimeSpan.FromMinutes(4));

    public async Task<string> ServiceLogsAsync(string service, DateTime? since = null)
    {
        List<string> args = ["service", "logs", "--no-trunc"];
        if (since is { } s)
        {
            args.AddRange(["--since", s.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture)]);
        }

        return (await Cli.RunAsync("docker", [.. args, Service(service)], timeout: TimeSpan.FromMinutes(1))).Output;
    }

    /// <summary>Polls a service's log until it contains <paramref name="text"/>; returns the log either way.</summary>
    public async Task<string> WaitForLogAsync(string service, string text, TimeSpan timeout, DateTime? since = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        var log = string.Empty;
        while (DateTime.UtcNow < deadline)
        {
            log = await ServiceLogsAsync(service, since);
            if (log.Contains(text, StringComparison.Ordinal))
            {
                break;
            }

            await Task.Delay(1000);
        }

        return log;
    }

    /// <summary>The engines of the swarm's nodes: the manager's, then each worker's (eng/swarm.sh up --nodes).</summary>
    public static async Task<List<SwarmEngine>> EnginesAsync() =>
        [SwarmEngine.Manager, .. (await SwarmEngine.WorkerContainersAsync()).Order(StringComparer.Ordinal).Select(SwarmEngine.Worker)];

    /// <summary>The containers of a service's tasks on every node (running ones, or all with <paramref name="all"/>), with the engine that runs each.</summary>
    public async Task<List<(SwarmEngine Engine, string Id)>> ContainersAsync(string service, bool all = false)
    {
        var found = new List<(SwarmEngine, string)>();
        foreach (var engine in await EnginesAsync())
        {
            var ps = await engine.DockerCheckedAsync([.. all ? new[] { "ps", "-a" } : ["ps"], "-q", "--filter", $"label=com.docker.swarm.service.name={Service(service)}"]);
            found.AddRange(ps.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(id => (engine, id)));
        }

        return found;
    }

    /// <summary>
    /// The server's work, from the logs of every container its tasks ran on any node (running and
    /// shut down, read one by one with docker logs: docker service logs of a busy service is
    /// slow): one entry per "Work done" line, with the task that did it (slot.task id), the client
    /// id and the request's sequence number.
    /// </summary>
    public async Task<List<(string Task, string Client, long Sequence)>> ServerWorkAsync(DateTime? since = null)
    {
        var work = new List<(string Task, string Client, long Sequence)>();
        foreach (var (engine, id) in await ContainersAsync("server", all: true))
        {
            var task = (await engine.DockerCheckedAsync("inspect", id, "--format", "{{index .Config.Labels \"com.docker.swarm.task.name\"}}")).StandardOutput.Trim();
            List<string> args = ["logs"];
            if (since is { } s)
            {
                args.AddRange(["--since", s.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture)]);
            }

            var log = (await engine.DockerAsync([.. args, id], TimeSpan.FromMinutes(2))).Output;
            task = task[(Service("server").Length + 1)..];
            work.AddRange(WorkLine().Matches(log).Select(m => (task, m.Groups["client"].Value, long.Parse(m.Groups["seq"].Value, CultureInfo.InvariantCulture))));
        }

        return work;
    }

    /// <summary>The network of the worker node containers (eng/swarm-nodes.sh).</summary>
    public const string NodeNetwork = "zmqaspire-swarm-nodes";

    /// <summary>
    /// Lists whatever of this stack, or of the swarm, is left in Docker: the swarm itself, services,
    /// secrets, configs, the stack's containers, overlay networks, ingress, docker_gwbridge, and of
    /// a multi-node swarm the worker containers, their volumes and their network.
    /// </summary>
    public async Task<List<string>> LeftoversAsync()
    {
        var label = $"label=com.docker.stack.namespace={Name}";
        var left = new List<string>();
        var state = await SwarmStateAsync();
        if (state != "inactive")
        {
            left.Add($"swarm state {state}");
            foreach (var kind in new[] { "service", "secret", "config" })
            {
                var ids = await Cli.RunCheckedAsync("docker", [kind, "ls", "-q"]);
                left.AddRange(ids.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(id => $"{kind} {id}"));
            }
        }

        var containers = await Cli.RunCheckedAsync("docker", ["ps", "-aq", "--filter", label]);
        left.AddRange(containers.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(id => $"container {id}"));
        var networks = await Cli.RunCheckedAsync("docker", ["network", "ls", "--format", "{{.Name}} {{.Driver}}"]);
        left.AddRange(networks.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(n => n.StartsWith(Name + "_", StringComparison.Ordinal) || n.StartsWith("ingress ", StringComparison.Ordinal)
                || n.StartsWith("docker_gwbridge ", StringComparison.Ordinal) || n.EndsWith(" overlay", StringComparison.Ordinal))
            .Select(n => $"network {n}"));
        left.AddRange(networks.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(n => n.StartsWith(NodeNetwork + " ", StringComparison.Ordinal)).Select(n => $"network {n}"));
        left.AddRange((await SwarmEngine.WorkerContainersAsync()).Select(w => $"worker container {w}"));
        var volumes = await Cli.RunCheckedAsync("docker", ["volume", "ls", "-q", "--filter", "label=zmqaspire.swarm"]);
        left.AddRange(volumes.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(v => $"volume {v}"));
        return left;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_down)
        {
            await DownAsync();
            await LeaveSwarmWeMadeAsync();
        }

        Directory.Delete(_root, recursive: true);
    }

    // The server logs one such line per request it worked on (ReplyServer.LogWorkDone).
    [GeneratedRegex(@"Work done for request (?<seq>\d+) of client (?<client>\S+)")]
    private static partial Regex WorkLine();
}
