using System.Net;
using System.Net.Sockets;

namespace ZmqAspire.Deployment.Tests;

/// <summary>
/// One Docker Compose deployment of deploy/compose under a project name of its own (so it never
/// touches another run's containers), with fresh keys made by deploy/compose/make-keys.sh in a
/// temporary 0700 folder and the bastion's SSH port on a free loopback port.
/// </summary>
internal sealed class ComposeProject : IAsyncDisposable
{
    public static readonly string[] Images = ["zmqaspire/server:local", "zmqaspire/client:local", "zmqaspire/bastion:local"];

    private readonly string _root;
    private readonly string[] _files;
    private bool _down;

    private ComposeProject(string prefix, string[] files)
    {
        Name = $"{prefix}{Guid.NewGuid():N}"[..(prefix.Length + 8)];
        _files = files;
        _root = Directory.CreateTempSubdirectory("zmqaspire-compose-").FullName;
        KeyDirectory = Path.Combine(_root, "keys");
        SshPort = ZmqAspire.Testing.Sshd.LoopbackPort.Free();
    }

    /// <summary>Gets the compose project name (container, network and volume names start with it).</summary>
    public string Name { get; }

    public string KeyDirectory { get; }

    public int SshPort { get; }

    /// <summary>Gets the pinned host key fingerprint that make-keys.sh wrote to compose.env.</summary>
    public string HostKeyFingerprint { get; private set; } = string.Empty;

    /// <summary>Gets or sets the server's simulated work per request (<c>Server__WorkTime</c>). Default: 0.1 s.</summary>
    public string ServerWorkTime { get; set; } = "00:00:00.1";

    public string ClientKeyPath => Path.Combine(KeyDirectory, "client_ed25519_key");

    public string HostPublicKey => File.ReadAllText(Path.Combine(KeyDirectory, "ssh_host_ed25519_key.pub")).Trim();

    /// <summary>Makes keys and checks the images exist; does not start anything.</summary>
    public static Task<ComposeProject> CreateAsync(string prefix, params string[] extraFiles) => CreateAsync(prefix, null, extraFiles);

    /// <summary>As <see cref="CreateAsync(string, string[])"/>, with settings for make-keys.sh (for example <c>ZMQASPIRE_CURVE=yes</c>).</summary>
    public static async Task<ComposeProject> CreateAsync(string prefix, IDictionary<string, string?>? keyEnvironment, params string[] extraFiles)
    {
        var missing = new List<string>();
        foreach (var image in Images)
        {
            if ((await Cli.RunAsync("docker", ["image", "inspect", image])).ExitCode != 0)
            {
                missing.Add(image);
            }
        }

        Assert.True(missing.Count == 0, $"missing images {string.Join(", ", missing)}: run eng/build-images.sh first (eng/test.sh does)");
        var project = new ComposeProject(prefix, [Repo.ComposeFile, .. extraFiles]);
        await Cli.RunCheckedAsync(Path.Combine(Repo.Root, "deploy", "compose", "make-keys.sh"), [project.KeyDirectory], keyEnvironment);
        project.HostKeyFingerprint = File.ReadAllLines(Path.Combine(project.KeyDirectory, "compose.env"))
            .Single(l => l.StartsWith("ZMQASPIRE_HOST_KEY_FINGERPRINT=", StringComparison.Ordinal)).Split('=', 2)[1];
        return project;
    }

    /// <summary>Runs docker-compose on this project.</summary>
    public Task<CliResult> ComposeAsync(IEnumerable<string> arguments, TimeSpan? timeout = null)
    {
        List<string> args = ["-p", Name, "--env-file", Path.Combine(KeyDirectory, "compose.env")];
        foreach (var file in _files)
        {
            args.AddRange(["-f", file]);
        }

        var environment = new Dictionary<string, string?>
        {
            ["ZMQASPIRE_SSH_PORT"] = SshPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["ZMQASPIRE_SERVER_WORK_TIME"] = ServerWorkTime,
            ["ZMQASPIRE_SSH_BIND"] = "127.0.0.1",
        };
        return Cli.RunAsync("docker-compose", [.. args, .. arguments], environment, timeout ?? TimeSpan.FromMinutes(3));
    }

    public async Task<CliResult> UpAsync()
    {
        // --no-build: images come from eng/build-images.sh; a test never builds the product.
        var result = await ComposeAsync(["up", "-d", "--no-build"]);
        Assert.True(result.ExitCode == 0, "docker-compose up failed:\n" + result.Output);
        return result;
    }

    /// <summary>Polls a service's log until it contains <paramref name="text"/>; returns the log either way.</summary>
    public async Task<string> WaitForLogAsync(string service, string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var log = string.Empty;
        while (DateTime.UtcNow < deadline)
        {
            log = (await ComposeAsync(["logs", "--no-color", service])).Output;
            if (log.Contains(text, StringComparison.Ordinal))
            {
                break;
            }

            await Task.Delay(1000);
        }

        return log;
    }

    public async Task<string> ContainerIdAsync(string service) =>
        (await ComposeAsync(["ps", "-q", service])).StandardOutput.Trim();

    public async Task<CliResult> DownAsync()
    {
        _down = true;
        return await ComposeAsync(["down", "-v", "--remove-orphans", "--timeout", "10"]);
    }

    /// <summary>Lists whatever of this project is left in Docker: containers, networks, volumes.</summary>
    public async Task<List<string>> LeftoversAsync()
    {
        var label = $"label=com.docker.compose.project={Name}";
        var left = new List<string>();
        foreach (var kind in new[] { "container", "network", "volume" })
        {
            var list = kind == "container" ? new[] { "ps", "-a" } : [kind, "ls"];
            var ids = await Cli.RunCheckedAsync("docker", [.. list, "-q", "--filter", label]);
            left.AddRange(ids.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(id => $"{kind} {id}"));
        }

        return left;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_down)
        {
            await DownAsync();
        }

        Directory.Delete(_root, recursive: true);
    }

}
