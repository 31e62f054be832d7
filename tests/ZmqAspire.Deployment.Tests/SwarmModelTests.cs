using System.Text.Json.Nodes;

namespace ZmqAspire.Deployment.Tests;

/// <summary>
/// Keeps deploy/swarm/stack.yml in step with deploy/compose/docker-compose.yml (which
/// <see cref="ComposeModelTests"/> keeps in step with the AppHost): <c>docker stack config</c>
/// renders the stack (no swarm needed) and it must have compose's services, images, environment,
/// networks, secrets, published ports and hardening; what the stack adds (replicas, update and
/// restart policies) is checked too.
/// </summary>
public sealed class SwarmModelTests(ModelFixture model) : IClassFixture<ModelFixture>, IAsyncLifetime
{
    private JsonObject _stack = new();

    private JsonObject Stack => _stack["services"]!.AsObject();

    private JsonObject Compose => model.Compose["services"]!.AsObject();

    public async Task InitializeAsync() => _stack = await RenderAsync("stack.yml");

    /// <summary><c>docker stack config</c> of deploy/swarm/ files (merged in order), with the stack's defaults, as JSON.</summary>
    private async Task<JsonObject> RenderAsync(params string[] files)
    {
        var environment = new Dictionary<string, string?>
        {
            ["ZMQASPIRE_KEY_DIR"] = Path.Combine(model.WorkDirectory, "keys"),
            ["ZMQASPIRE_HOST_KEY_FINGERPRINT"] = "SHA256:pin",
        };
        foreach (var name in new[] { "ZMQASPIRE_TAG", "ZMQASPIRE_SERVER_WORK_TIME", "ZMQASPIRE_REQUEST_COUNT", "ZMQASPIRE_REQUEST_INTERVAL", "ZMQASPIRE_SSH_PORT", "ZMQASPIRE_SERVER_REPLICAS", "ZMQASPIRE_REMOTE_ENDPOINTS" })
        {
            environment[name] = null; // the stack's defaults
        }

        var yaml = await Cli.RunCheckedAsync("docker", ["stack", "config", .. files.SelectMany(f => new[] { "-c", Path.Combine(Repo.Root, "deploy", "swarm", f) })], environment);
        var json = await Cli.RunAsync("/usr/bin/python3", ["-c", "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"], standardInput: yaml.StandardOutput);
        Assert.True(json.ExitCode == 0, json.Output);
        return JsonNode.Parse(json.StandardOutput)!.AsObject();
    }

    [Fact]
    public async Task Multinode_override_only_places_the_server_on_workers_and_the_bastion_and_client_on_a_manager()
    {
        // deploy/swarm/multinode.yml (eng/swarm.sh up --nodes N): the same stack plus placement.
        var multinode = await RenderAsync("stack.yml", "multinode.yml");
        var expected = new Dictionary<string, string> { ["server"] = "node.role == worker", ["bastion"] = "node.role == manager", ["client"] = "node.role == manager" };
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), multinode["services"]!.AsObject().Select(s => s.Key).Order(StringComparer.Ordinal));
        foreach (var (name, constraint) in expected)
        {
            var deploy = multinode["services"]![name]!["deploy"]!.AsObject();
            Assert.Equal([constraint], deploy["placement"]!["constraints"]!.AsArray().Select(c => (string)c!));
            deploy.Remove("placement");
        }

        Assert.True(JsonNode.DeepEquals(SecretsInOrder(_stack), SecretsInOrder(multinode)), "multinode.yml changes more than placement:\n" + multinode.ToJsonString());
    }

    // docker stack config lists a service's secrets in another order when it merges files (by
    // source name); the order means nothing to swarm.
    private static JsonNode SecretsInOrder(JsonObject stack)
    {
        var copy = stack.DeepClone();
        foreach (var (_, service) in copy["services"]!.AsObject())
        {
            if (service!["secrets"] is JsonArray secrets)
            {
                service["secrets"] = new JsonArray([.. secrets.OrderBy(s => (string)s!["source"]!, StringComparer.Ordinal).Select(s => s!.DeepClone())]);
            }
        }

        return copy;
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public void Stack_has_the_compose_services_images_and_environment()
    {
        Assert.Equal(Compose.Select(s => s.Key).Order(StringComparer.Ordinal), Stack.Select(s => s.Key).Order(StringComparer.Ordinal));
        foreach (var (name, compose) in Compose)
        {
            var stack = Stack[name]!;
            Assert.Equal((string)compose!["image"]!, (string)stack["image"]!);
            var expected = compose["environment"]!.AsObject();
            var actual = stack["environment"]!.AsObject();
            Assert.Equal(expected.Select(e => e.Key).Order(StringComparer.Ordinal), actual.Select(e => e.Key).Order(StringComparer.Ordinal));
            foreach (var (variable, value) in expected)
            {
                var stackValue = (string)actual[variable]!;
                if (variable == TunnelConnection.Variable)
                {
                    // The client's lanes: one RemoteEndpoint entry per lane, each compose's one endpoint.
                    var composeParts = TunnelConnection.Parse((string)value!);
                    var stackParts = TunnelConnection.Parse(stackValue);
                    Assert.Equal(composeParts.Keys.Order(StringComparer.OrdinalIgnoreCase), stackParts.Keys.Order(StringComparer.OrdinalIgnoreCase));
                    foreach (var (key, part) in composeParts)
                    {
                        string[] values = key.Equals("RemoteEndpoint", StringComparison.OrdinalIgnoreCase) ? stackParts[key].Split(',') : [stackParts[key]];
                        Assert.All(values, v => Assert.Equal(part, v));
                    }

                    continue;
                }

                Assert.Equal((string)value!, stackValue);
            }
        }

        Assert.Equal(6, TunnelConnection.Get((string)Stack["client"]!["environment"]![TunnelConnection.Variable]!, "RemoteEndpoint").Split(',').Length);
    }

    [Fact]
    public void Stack_has_the_compose_networks_secrets_ports_and_hardening()
    {
        foreach (var (name, compose) in Compose)
        {
            var stack = Stack[name]!;
            Assert.Equal(Keys(compose!["networks"]), Keys(stack["networks"]));
            Assert.Equal(Targets(compose["secrets"]), Targets(stack["secrets"]));
            Assert.Equal(Strings(compose["cap_drop"]), Strings(stack["cap_drop"]));
            Assert.Equal(Strings(compose["cap_add"]), Strings(stack["cap_add"]));
            Assert.Equal((bool?)compose["read_only"], (bool?)stack["read_only"]);
            Assert.Equal(
                compose["ports"]?.AsArray().Select(TargetPort) ?? [],
                stack["ports"]?.AsArray().Select(TargetPort) ?? []);
            if ((bool?)compose["read_only"] == true)
            {
                // compose's tmpfs /tmp, as a tmpfs mount.
                Assert.Contains(stack["volumes"]!.AsArray(), v => (string)v!["type"]! == "tmpfs" && (string)v["target"]! == "/tmp");
            }
        }

        Assert.True((bool?)_stack["networks"]!["backend"]!["internal"] == true, "the backend network must be internal");
        Assert.Equal("overlay", (string?)_stack["networks"]!["backend"]!["driver"]);
        Assert.Equal(Keys(model.Compose["secrets"]), Keys(_stack["secrets"]));
        Assert.Equal(
            model.Compose["secrets"]!.AsObject().Select(s => Path.GetFileName((string)s.Value!["file"]!)),
            model.Compose["secrets"]!.AsObject().Select(s => Path.GetFileName((string)_stack["secrets"]![s.Key]!["file"]!)));
        // docker-compose 1.29 prints compose's escaped "$$" as it is; docker stack config unescapes it.
        Assert.Equal(
            Compose["bastion"]!["healthcheck"]!["test"]!.AsArray().Select(t => ((string)t!).Replace("$$", "$", StringComparison.Ordinal)),
            Stack["bastion"]!["healthcheck"]!["test"]!.AsArray().Select(t => (string)t!));
        Assert.Equal((string)Compose["bastion"]!["environment"]!["BASTION_PERMIT_OPEN"]!, (string)Stack["bastion"]!["environment"]!["BASTION_PERMIT_OPEN"]!);
    }

    [Fact]
    public void Server_is_replicated_healthchecked_restarted_and_updated_one_task_at_a_time_new_first()
    {
        var deploy = Stack["server"]!["deploy"]!;
        Assert.Equal(3, (int)deploy["replicas"]!);
        Assert.Equal("dnsrr", (string?)deploy["endpoint_mode"]);
        Assert.Equal("any", (string?)deploy["restart_policy"]!["condition"]);
        Assert.Equal(1, (int)deploy["update_config"]!["parallelism"]!);
        Assert.Equal("start-first", (string?)deploy["update_config"]!["order"]);
        Assert.Equal("rollback", (string?)deploy["update_config"]!["failure_action"]);
        Assert.NotNull(Stack["server"]!["healthcheck"]!["test"]);
        Assert.Equal("10001", (string?)Stack["client"]!["secrets"]![0]!["uid"]);
    }

    private static List<string> Keys(JsonNode? node) => node switch
    {
        JsonObject o => [.. o.Select(e => e.Key).Order(StringComparer.Ordinal)],
        JsonArray a => [.. a.Select(e => (string)e!).Order(StringComparer.Ordinal)],
        _ => [],
    };

    private static int TargetPort(JsonNode? port) =>
        port is JsonObject o ? (int)o["target"]! : int.Parse(((string)port!).Split('/')[0].Split(':')[^1], System.Globalization.CultureInfo.InvariantCulture);

    private static List<string> Strings(JsonNode? node) => node is JsonArray a ? [.. a.Select(e => (string)e!).Order(StringComparer.Ordinal)] : [];

    private static List<string> Targets(JsonNode? node) =>
        node is JsonArray a ? [.. a.Select(s => s is JsonObject o ? (string?)o["target"] ?? (string)o["source"]! : (string)s!).Order(StringComparer.Ordinal)] : [];
}
