using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ZmqAspire.Deployment.Tests;

/// <summary>
/// Keeps deploy/compose/docker-compose.yml in step with the AppHost: the AppHost writes its
/// manifest (publish mode), compose renders its file (docker-compose config), and the two must
/// agree on services, Dockerfiles, environment variable names and values, and published ports.
/// A change to either side that the other lacks fails here.
/// </summary>
public sealed class ComposeModelTests(ModelFixture model) : IClassFixture<ModelFixture>
{
    // Environment variables only the compose side has, and why (none: the AppHost's published
    // bastion carries BASTION_PERMIT_OPEN from its model too).
    private static readonly Dictionary<string, string[]> ComposeOnly = [];

    // Environment variables only the AppHost sets, and why.
    private static readonly Dictionary<string, string[]> AppHostOnly = new()
    {
        // The dashboard's resource commands; without a dashboard the client leaves them unmapped.
        ["client"] = ["Client__CommandToken"],
    };

    // The AppHost's containers and projects; its parameters (secrets, settings) are not services.
    private JsonObject Resources => new(model.Manifest["resources"]!.AsObject()
        .Where(r => (string?)r.Value!["type"] != "parameter.v0")
        .Select(r => KeyValuePair.Create(r.Key, r.Value?.DeepClone())));

    [Fact]
    public void Command_token_is_a_secret_parameter_not_a_literal()
    {
        // A published manifest must not carry the secret that guards the client's commands.
        var env = model.Manifest["resources"]!["client"]!["env"]!;
        Assert.Equal("{client-command-token.value}", (string?)env["Client__CommandToken"]);
        var parameter = model.Manifest["resources"]!["client-command-token"]!;
        Assert.Equal("parameter.v0", (string?)parameter["type"]);
        Assert.True((bool?)parameter["inputs"]!["value"]!["secret"], "the command token parameter is not secret");
    }

    private JsonObject Services => model.Compose["services"]!.AsObject();

    [Fact]
    public void Compose_has_exactly_the_AppHost_resources()
    {
        Assert.Equal(Resources.Select(r => r.Key).Order(), Services.Select(s => s.Key).Order());
    }

    [Fact]
    public void Compose_builds_each_service_from_the_AppHost_Dockerfile()
    {
        foreach (var (name, node) in Resources)
        {
            var resource = node!.AsObject();
            var build = Services[name]!["build"]!;
            var context = (string)build["context"]!;
            var dockerfile = Path.GetFullPath(Path.Combine(context, (string?)build["dockerfile"] ?? "Dockerfile"));
            if ((string)resource["type"]! == "project.v0")
            {
                // A project runs as a process under the AppHost; deployed, it is the image built
                // from the Dockerfile beside the project, on its publish output.
                var projectDir = Path.GetDirectoryName((string)resource["path"]!)!;
                Assert.Equal(Path.Combine(projectDir, "Dockerfile"), dockerfile);
                Assert.Equal(Path.Combine(Repo.Root, "artifacts", "images", name), context);
            }
            else if (name == "bastion")
            {
                // The hosting package carries the bastion's recipe inside it and writes it beside
                // the manifest: the same files as the folder compose builds from.
                var appHostContext = (string)resource["build"]!["context"]!;
                foreach (var file in Directory.GetFiles(context))
                {
                    Assert.Equal(File.ReadAllText(file), File.ReadAllText(Path.Combine(appHostContext, Path.GetFileName(file))));
                }

                Assert.Equal(Path.Combine(appHostContext, "Dockerfile"), (string)resource["build"]!["dockerfile"]!);
            }
            else
            {
                Assert.Equal((string)resource["build"]!["dockerfile"]!, dockerfile);
                var appHostContext = (string)resource["build"]!["context"]!;
                // Same source context, or, for a .NET service, the trimmed publish of the same project
                // (the AppHost builds its image from an untrimmed publish, artifacts/<name>-image).
                Assert.True(
                    context == appHostContext
                    || (appHostContext == Path.Combine(Repo.Root, "artifacts", $"{name}-image") && context == Path.Combine(Repo.Root, "artifacts", "images", name)),
                    $"{name}: compose context {context}, AppHost context {appHostContext}");
            }
        }
    }

    [Fact]
    public void Compose_sets_the_AppHost_environment()
    {
        foreach (var (name, node) in Resources)
        {
            var appHostOnly = AppHostOnly.GetValueOrDefault(name, []);
            var expected = new JsonObject((node!["env"]?.AsObject() ?? []).Where(e => !appHostOnly.Contains(e.Key)).Select(e => KeyValuePair.Create(e.Key, e.Value?.DeepClone())));
            var actual = Services[name]!["environment"]?.AsObject() ?? [];
            var composeOnly = ComposeOnly.GetValueOrDefault(name, []);
            Assert.Equal(
                expected.Select(e => e.Key).Order(StringComparer.Ordinal),
                actual.Select(e => e.Key).Where(k => !composeOnly.Contains(k)).Order(StringComparer.Ordinal));
            foreach (var (variable, value) in expected)
            {
                var composeValue = (string?)actual[variable];
                if (variable == TunnelConnection.Variable && composeValue is not null)
                {
                    // Key by key: the pin and the key file differ by design (TunnelConnection.PerDeployment).
                    var appHostParts = TunnelConnection.Parse((string)value!);
                    var composeParts = TunnelConnection.Parse(composeValue);
                    Assert.Equal(appHostParts.Keys.Order(StringComparer.OrdinalIgnoreCase), composeParts.Keys.Order(StringComparer.OrdinalIgnoreCase));
                    foreach (var (key, part) in appHostParts.Where(p => !TunnelConnection.PerDeployment.Contains(p.Key)))
                    {
                        Assert.True(Regex.IsMatch(composeParts[key], "^" + Resolve(part) + "$"), $"{name}: {variable} {key} is '{composeParts[key]}', the AppHost's is '{part}'");
                    }

                    continue;
                }

                var pattern = "^" + Resolve((string)value!) + "$";
                Assert.True(composeValue is not null && Regex.IsMatch(composeValue, pattern), $"{name}: {variable} is '{composeValue}', the AppHost's is '{value}'");
            }
        }
    }

    [Fact]
    public void Only_the_bastion_publishes_a_port_and_only_its_AppHost_endpoints()
    {
        foreach (var (name, service) in Services)
        {
            var published = service!["ports"]?.AsArray().Select(p => Convert.ToInt32(TargetPort(p!), System.Globalization.CultureInfo.InvariantCulture)).ToList() ?? [];
            if (name != "bastion")
            {
                Assert.True(published.Count == 0, $"{name} publishes ports {string.Join(", ", published)}");
                continue;
            }

            var bindings = Resources[name]!["bindings"]!.AsObject().Select(b => (int)b.Value!["targetPort"]!).ToList();
            Assert.NotEmpty(published);
            Assert.All(published, port => Assert.Contains(port, bindings));
        }

        Assert.Null(Resources["server"]!["bindings"]); // the AppHost publishes nothing for it either
    }

    [Fact]
    public void Server_is_on_the_internal_network_and_only_the_bastion_bridges()
    {
        List<string> NetworksOf(string service) => [.. Services[service]!["networks"]!.AsObject().Select(n => n.Key).Order(StringComparer.Ordinal)];
        Assert.Equal(["backend"], NetworksOf("server"));
        Assert.Equal(["backend", "edge"], NetworksOf("bastion"));
        Assert.Equal(["edge"], NetworksOf("client"));
        Assert.True((bool?)model.Compose["networks"]!["backend"]!["internal"] == true, "the backend network must be internal");
    }

    [Fact]
    public void Bastion_permits_exactly_the_targets_the_AppHost_clients_ask_for()
    {
        // PermitOpen matches literally: it must name host:port as the client sends it.
        var asked = Resources
            .Select(r => (string?)r.Value!["env"]?[TunnelConnection.Variable])
            .OfType<string>()
            .SelectMany(c => TunnelConnection.Get(c, "RemoteEndpoint").Split(','))
            .Select(e => e.Replace("tcp://", string.Empty, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal);
        var permitted = ((string)Services["bastion"]!["environment"]!["BASTION_PERMIT_OPEN"]!).Split(' ', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal);
        Assert.Equal(asked, permitted);
    }

    [Fact]
    public void Keys_are_mounted_secrets_from_the_key_folder_never_environment_or_image()
    {
        var keys = Path.Combine(model.WorkDirectory, "keys");
        foreach (var (name, secret) in model.Compose["secrets"]!.AsObject())
        {
            Assert.Equal(keys, Path.GetDirectoryName((string)secret!["file"]!));
        }

        var all = Services.SelectMany(s => s.Value!["environment"]?.AsObject() ?? []).Select(e => (string?)e.Value ?? string.Empty);
        Assert.DoesNotContain(all, v => v.Contains("PRIVATE KEY", StringComparison.Ordinal));
        Assert.Equal("/run/secrets/client_ed25519_key", TunnelConnection.Get((string)Services["client"]!["environment"]![TunnelConnection.Variable]!, "PrivateKeyPath"));
        Assert.Contains(Services["client"]!["secrets"]!.AsArray(), s => (string?)s!["source"] == "client_ed25519_key");
    }

    // A manifest value with {resource.bindings.name.property} placeholders as a regular
    // expression: compose reaches a resource by its service name and its target port.
    private string Resolve(string value) => string.Concat(Regex.Split(value, @"(\{[\w-]+\.bindings\.[\w-]+\.\w+\})").Select(part =>
    {
        var placeholder = Regex.Match(part, @"^\{([\w-]+)\.bindings\.([\w-]+)\.(\w+)\}$");
        if (!placeholder.Success)
        {
            return Regex.Escape(part);
        }

        if (placeholder.Groups[3].Value == "host")
        {
            return Regex.Escape(placeholder.Groups[1].Value);
        }

        var port = Resources[placeholder.Groups[1].Value]?["bindings"]?[placeholder.Groups[2].Value]?["targetPort"];
        return port is null ? @"\d+" : port.ToString();
    }));

    private static object TargetPort(JsonNode port) =>
        port is JsonObject o ? (int)o["target"]! : ((string)port!).Split('/')[0].Split(':')[^1];
}

/// <summary>The AppHost's manifest and the rendered compose file, made once for <see cref="ComposeModelTests"/>.</summary>
public sealed class ModelFixture : IAsyncLifetime
{
    public string WorkDirectory { get; } = Directory.CreateTempSubdirectory("zmqaspire-model-").FullName;

    public JsonObject Manifest { get; private set; } = new();

    public JsonObject Compose { get; private set; } = new();

    public async Task InitializeAsync()
    {
        var manifestPath = Path.Combine(WorkDirectory, "aspire-manifest.json");
        var publish = await Cli.RunAsync(
            "dotnet",
            ["run", "--project", Path.Combine(Repo.Root, "ZmqAspire.AppHost"), "--no-build", "--no-launch-profile", "--",
             "--publisher", "manifest", "--output-path", manifestPath, $"--ZmqAspire:KeyDirectory={Path.Combine(WorkDirectory, "keys")}"],
            timeout: TimeSpan.FromMinutes(3));
        Assert.True(publish.ExitCode == 0 && File.Exists(manifestPath), "AppHost manifest publish failed (build the solution first):\n" + publish.Output);
        Manifest = JsonNode.Parse(await File.ReadAllTextAsync(manifestPath))!.AsObject();
        foreach (var resource in Manifest["resources"]!.AsObject())
        {
            ResolvePaths(resource.Value!.AsObject(), Path.GetDirectoryName(manifestPath)!);
        }

        // docker-compose checks that build contexts exist; eng/build-images.sh fills them.
        Directory.CreateDirectory(Path.Combine(Repo.Root, "artifacts", "images", "server"));
        Directory.CreateDirectory(Path.Combine(Repo.Root, "artifacts", "images", "client"));
        var environment = new Dictionary<string, string?>
        {
            ["ZMQASPIRE_KEY_DIR"] = Path.Combine(WorkDirectory, "keys"),
            ["ZMQASPIRE_HOST_KEY_FINGERPRINT"] = "SHA256:pin",
            ["ZMQASPIRE_CLIENT_KEY_GID"] = "10001",
        };
        foreach (var name in new[] { "ZMQASPIRE_TAG", "ZMQASPIRE_SERVER_WORK_TIME", "ZMQASPIRE_REQUEST_COUNT", "ZMQASPIRE_REQUEST_INTERVAL", "ZMQASPIRE_SSH_PORT", "ZMQASPIRE_SSH_BIND" })
        {
            environment[name] = null; // render compose's defaults, which must be the AppHost's
        }

        var yaml = await Cli.RunCheckedAsync("docker-compose", ["-f", Repo.ComposeFile, "config"], environment);
        var json = await Cli.RunAsync(
            "/usr/bin/python3", ["-c", "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"], standardInput: yaml.StandardOutput);
        Assert.True(json.ExitCode == 0, json.Output);
        Compose = JsonNode.Parse(json.StandardOutput)!.AsObject();
    }

    public Task DisposeAsync()
    {
        Directory.Delete(WorkDirectory, recursive: true);
        return Task.CompletedTask;
    }

    private static void ResolvePaths(JsonObject resource, string baseDir)
    {
        if (resource["path"] is JsonValue path)
        {
            resource["path"] = Path.GetFullPath(Path.Combine(baseDir, (string)path!));
        }

        if (resource["build"] is JsonObject build)
        {
            build["context"] = Path.GetFullPath(Path.Combine(baseDir, (string)build["context"]!));
            build["dockerfile"] = Path.GetFullPath(Path.Combine(baseDir, (string)build["dockerfile"]!));
        }
    }
}
