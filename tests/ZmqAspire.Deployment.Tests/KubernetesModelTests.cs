using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ZmqAspire.Deployment.Tests;

/// <summary>
/// Keeps deploy/kubernetes in step with the AppHost, as <see cref="ComposeModelTests"/> does for
/// compose: kustomize renders the manifests (<c>kubectl kustomize</c>, with keys made by
/// deploy/kubernetes/make-keys.sh) and they must agree with the AppHost's manifest and the
/// compose file on services, images, ports, environment, secrets and the PermitOpen targets;
/// only the bastion may be reachable from outside, and every pod has probes and a hardened
/// securityContext. No cluster runs here: this checks the manifests, not a deployment.
/// </summary>
public sealed class KubernetesModelTests(ModelFixture model, KubernetesFixture kubernetes) : IClassFixture<ModelFixture>, IClassFixture<KubernetesFixture>
{
    // Environment variables only the Kubernetes side has, and why (as in compose).
    private static readonly Dictionary<string, string[]> KubernetesOnly = new()
    {
        // (The bastion's BASTION_PERMIT_OPEN comes from the AppHost's model too, as in compose.)
        // The pin from the ConfigMap, expanded into ConnectionStrings__server ($(...)).
        ["client"] = [PinVariable],
    };

    private const string PinVariable = "ZMQASPIRE_HOST_KEY_FINGERPRINT";

    // Environment variables only the AppHost sets: the dashboard's command token (as in compose).
    private static readonly Dictionary<string, string[]> AppHostOnly = new()
    {
        ["client"] = ["Client__CommandToken"],
    };

    private Dictionary<string, JsonObject> Resources => model.Manifest["resources"]!.AsObject()
        .Where(r => (string?)r.Value!["type"] != "parameter.v0")
        .ToDictionary(r => r.Key, r => r.Value!.AsObject());

    [Fact]
    public void Kubernetes_has_a_Deployment_and_a_Service_for_each_AppHost_resource_and_nothing_else_that_runs()
    {
        var names = Resources.Keys.Order(StringComparer.Ordinal).ToList();
        Assert.Equal(names, kubernetes.OfKind("Deployment").Keys.Order(StringComparer.Ordinal));
        Assert.Equal(names, kubernetes.OfKind("Service").Keys.Order(StringComparer.Ordinal));
        var kinds = kubernetes.Objects.Select(o => (string)o["kind"]!).Distinct().Order(StringComparer.Ordinal);
        Assert.Equal(["ConfigMap", "Deployment", "Namespace", "NetworkPolicy", "Secret", "Service"], kinds);
        Assert.Equal(3, (int)kubernetes.OfKind("Deployment")["server"]["spec"]!["replicas"]!);
    }

    [Fact]
    public void Each_Deployment_runs_the_compose_services_image()
    {
        foreach (var (name, deployment) in kubernetes.OfKind("Deployment"))
        {
            Assert.Equal((string)model.Compose["services"]![name]!["image"]!, (string)Container(deployment)["image"]!);
        }
    }

    [Fact]
    public void Kubernetes_sets_the_AppHost_environment()
    {
        foreach (var (name, resource) in Resources)
        {
            var appHostOnly = AppHostOnly.GetValueOrDefault(name, []);
            var expected = (resource["env"]?.AsObject() ?? []).Where(e => !appHostOnly.Contains(e.Key)).ToDictionary(e => e.Key, e => (string)e.Value!);
            var actual = Env(kubernetes.OfKind("Deployment")[name]);
            var kubernetesOnly = KubernetesOnly.GetValueOrDefault(name, []);
            Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Where(k => !kubernetesOnly.Contains(k)).Order(StringComparer.Ordinal));
            foreach (var (variable, value) in expected)
            {
                var kubernetesValue = actual[variable] ?? string.Empty;
                if (variable == TunnelConnection.Variable)
                {
                    // Key by key; the pin and the key file differ by design; the client's lanes:
                    // one RemoteEndpoint entry per lane, each the endpoint the AppHost gives.
                    var appHostParts = TunnelConnection.Parse(value);
                    var kubernetesParts = TunnelConnection.Parse(kubernetesValue);
                    Assert.Equal(appHostParts.Keys.Order(StringComparer.OrdinalIgnoreCase), kubernetesParts.Keys.Order(StringComparer.OrdinalIgnoreCase));
                    foreach (var (key, part) in appHostParts.Where(p => !TunnelConnection.PerDeployment.Contains(p.Key)))
                    {
                        string[] parts = key.Equals("RemoteEndpoint", StringComparison.OrdinalIgnoreCase) ? kubernetesParts[key].Split(',') : [kubernetesParts[key]];
                        Assert.True(parts.All(v => Regex.IsMatch(v, "^" + Resolve(part) + "$")), $"{name}: {variable} {key} is '{kubernetesParts[key]}', the AppHost's is '{part}'");
                    }

                    continue;
                }

                var pattern = "^" + Resolve(value) + "$";
                Assert.True(Regex.IsMatch(kubernetesValue, pattern), $"{name}: {variable} is '{kubernetesValue}', the AppHost's is '{value}'");
            }
        }

        // The pin is read from the generated ConfigMap, not written in the manifests.
        var client = Container(kubernetes.OfKind("Deployment")["client"]);
        var pin = client["env"]!.AsArray().Single(e => (string)e!["name"]! == PinVariable)!;
        var configMap = kubernetes.OfKind("ConfigMap")[(string)pin["valueFrom"]!["configMapKeyRef"]!["name"]!];
        Assert.Equal(kubernetes.HostKeyFingerprint, (string)configMap["data"]![PinVariable]!);
        Assert.Equal($"$({PinVariable})", TunnelConnection.Get(Env(kubernetes.OfKind("Deployment")["client"])[TunnelConnection.Variable]!, "HostKeyFingerprint"));
    }

    [Fact]
    public void Ports_are_the_AppHost_endpoints_and_each_Service_targets_a_container_port()
    {
        foreach (var (name, deployment) in kubernetes.OfKind("Deployment"))
        {
            var container = Container(deployment);
            var containerPorts = container["ports"]!.AsArray().ToDictionary(p => (string)p!["name"]!, p => (int)p!["containerPort"]!);
            // A port is an AppHost endpoint's target port, or the port the AppHost tells the process to listen on.
            var bindings = Resources[name]["bindings"]?.AsObject().Select(b => (int?)b.Value!["targetPort"]).OfType<int>().ToHashSet() ?? [];
            var listening = Env(deployment).Where(e => e.Key.EndsWith("Port", StringComparison.Ordinal) || e.Key == "HTTP_PORTS")
                .Select(e => int.TryParse(e.Value, out var p) ? p : -1).ToHashSet();
            Assert.All(containerPorts, p => Assert.True(bindings.Contains(p.Value) || listening.Contains(p.Value), $"{name}: container port {p.Value} is no AppHost endpoint"));
            var service = kubernetes.OfKind("Service")[name];
            Assert.All(service["spec"]!["ports"]!.AsArray(), p => Assert.Contains((string)p!["targetPort"]!, containerPorts.Keys));
        }

        Assert.Equal(5556, (int)kubernetes.OfKind("Service")["server"]["spec"]!["ports"]![0]!["port"]!);
        Assert.Equal(22, (int)kubernetes.OfKind("Service")["bastion"]["spec"]!["ports"]![0]!["port"]!);
    }

    [Fact]
    public void Bastion_permits_exactly_the_targets_the_AppHost_clients_ask_for()
    {
        // PermitOpen matches literally: it must name host:port as the client sends it.
        var asked = Resources.Values.Select(r => (string?)r["env"]?[TunnelConnection.Variable]).OfType<string>()
            .SelectMany(c => TunnelConnection.Get(c, "RemoteEndpoint").Split(',')).Select(e => e.Replace("tcp://", string.Empty, StringComparison.Ordinal)).Distinct().Order(StringComparer.Ordinal);
        var lanes = TunnelConnection.Get(Env(kubernetes.OfKind("Deployment")["client"])[TunnelConnection.Variable]!, "RemoteEndpoint").Split(',')
            .Select(e => e.Replace("tcp://", string.Empty, StringComparison.Ordinal)).Distinct().Order(StringComparer.Ordinal);
        var permitted = Env(kubernetes.OfKind("Deployment")["bastion"])["BASTION_PERMIT_OPEN"]!.Split(' ', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal);
        Assert.Equal(asked, permitted);
        Assert.Equal(asked, lanes);
    }

    [Fact]
    public void Only_the_bastion_is_reachable_from_outside_and_only_the_bastion_reaches_the_server()
    {
        // Nothing is published by the manifests themselves: ClusterIP Services, no host ports.
        foreach (var (name, service) in kubernetes.OfKind("Service"))
        {
            Assert.Equal("ClusterIP", (string?)service["spec"]!["type"]);
            Assert.Null(service["spec"]!["externalIPs"]);
        }

        foreach (var (name, deployment) in kubernetes.OfKind("Deployment"))
        {
            var pod = deployment["spec"]!["template"]!["spec"]!;
            Assert.NotEqual(true, (bool?)pod["hostNetwork"]);
            Assert.All(Container(deployment)["ports"]!.AsArray(), p => Assert.Null(p!["hostPort"]));
        }

        var policies = kubernetes.OfKind("NetworkPolicy").Values.ToList();
        // Default deny: a policy selecting every pod with no ingress rule.
        Assert.Contains(policies, p => p["spec"]!["podSelector"]!.AsObject().Count == 0 && p["spec"]!["ingress"] is null
            && p["spec"]!["policyTypes"]!.AsArray().Any(t => (string)t! == "Ingress"));

        // Rules that let any source in (no "from") select only the bastion, on its SSH port.
        foreach (var policy in policies)
        {
            foreach (var rule in policy["spec"]!["ingress"]?.AsArray() ?? [])
            {
                if (rule!["from"] is null)
                {
                    Assert.Equal("bastion", App(policy["spec"]!["podSelector"]!));
                    Assert.Equal([22], rule["ports"]!.AsArray().Select(p => (int)p!["port"]!));
                }
            }
        }

        // The server's pods: in from bastion pods on the REP port only; out to nowhere (compose's internal network).
        var server = policies.Where(p => App(p["spec"]!["podSelector"]!) == "server").ToList();
        var ingress = server.SelectMany(p => p["spec"]!["ingress"]?.AsArray() ?? []).ToList();
        Assert.Single(ingress);
        Assert.Equal(["bastion"], ingress[0]!["from"]!.AsArray().Select(f => App(f!["podSelector"]!)));
        Assert.Equal([5556], ingress[0]!["ports"]!.AsArray().Select(p => (int)p!["port"]!));
        Assert.Contains(server, p => p["spec"]!["egress"] is JsonArray { Count: 0 } && p["spec"]!["policyTypes"]!.AsArray().Any(t => (string)t! == "Egress"));
    }

    [Fact]
    public async Task Keys_are_generated_Secrets_mounted_where_compose_mounts_them_and_never_committed()
    {
        var secrets = kubernetes.OfKind("Secret");
        foreach (var (deploymentName, expectedFiles) in new[] { ("bastion", new[] { "authorized_keys", "ssh_host_ed25519_key" }), ("client", ["client_ed25519_key"]) })
        {
            var deployment = kubernetes.OfKind("Deployment")[deploymentName];
            var mount = Container(deployment)["volumeMounts"]!.AsArray().Single(m => (string)m!["mountPath"]! == "/run/secrets")!;
            var volume = deployment["spec"]!["template"]!["spec"]!["volumes"]!.AsArray().Single(v => (string)v!["name"]! == (string)mount["name"]!)!;
            var secret = secrets[(string)volume["secret"]!["secretName"]!];
            Assert.Equal(expectedFiles, secret["data"]!.AsObject().Select(d => d.Key).Order(StringComparer.Ordinal));
            // The same file names as compose's secret targets.
            var composeTargets = model.Compose["services"]![deploymentName]!["secrets"]!.AsArray().Select(s => (string?)s!["target"] ?? (string)s["source"]!).Order(StringComparer.Ordinal);
            Assert.Equal(expectedFiles, composeTargets);
            Assert.True((int)volume["secret"]!["defaultMode"]! is 256 or 288, $"{deploymentName}: key mode {volume["secret"]!["defaultMode"]} (0400 or 0440 expected)");
        }

        Assert.Equal("/run/secrets/client_ed25519_key", TunnelConnection.Get(Env(kubernetes.OfKind("Deployment")["client"])[TunnelConnection.Variable]!, "PrivateKeyPath"));
        // No key material outside the Secrets.
        foreach (var o in kubernetes.Objects.Where(o => (string)o["kind"]! != "Secret"))
        {
            Assert.DoesNotContain("PRIVATE KEY", o.ToJsonString(), StringComparison.Ordinal);
        }

        // The keys folder is ignored by git, and nothing in deploy/kubernetes holds a key.
        var ignored = await Cli.RunAsync("git", ["check-ignore", "-q", "deploy/kubernetes/keys/client_ed25519_key"]);
        Assert.True(ignored.ExitCode == 0, "deploy/kubernetes/keys/ is not ignored by git");
        var tracked = (await Cli.RunAsync("git", ["ls-files", "deploy/kubernetes"])).StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.DoesNotContain(tracked, f => f.StartsWith("deploy/kubernetes/keys/", StringComparison.Ordinal));
    }

    [Fact]
    public void Every_pod_has_probes_and_the_compose_hardening()
    {
        var composeServices = model.Compose["services"]!;
        foreach (var (name, deployment) in kubernetes.OfKind("Deployment"))
        {
            var pod = deployment["spec"]!["template"]!["spec"]!;
            var container = Container(deployment);
            Assert.NotNull(container["readinessProbe"]);
            Assert.NotNull(container["livenessProbe"]);
            var security = container["securityContext"]!;
            Assert.False((bool)security["allowPrivilegeEscalation"]!);
            Assert.Equal(["ALL"], security["capabilities"]!["drop"]!.AsArray().Select(c => (string)c!));
            // The capabilities compose gives back (the bastion's sshd), and no others.
            var composeAdd = composeServices[name]!["cap_add"]?.AsArray().Select(c => (string)c!).Order(StringComparer.Ordinal).ToList() ?? [];
            var added = security["capabilities"]!["add"]?.AsArray().Select(c => (string)c!).Order(StringComparer.Ordinal).ToList() ?? [];
            Assert.Equal(composeAdd, added);
            Assert.Equal("RuntimeDefault", (string?)pod["securityContext"]!["seccompProfile"]!["type"]);
            Assert.False((bool?)pod["automountServiceAccountToken"] ?? true, $"{name}: mounts a service account token");
            if ((bool?)composeServices[name]!["read_only"] != true)
            {
                continue; // the bastion: root, as in compose (sshd's privilege separation)
            }

            Assert.True((bool)security["readOnlyRootFilesystem"]!, $"{name}: root file system writable");
            Assert.True((bool)pod["securityContext"]!["runAsNonRoot"]!, $"{name}: may run as root");
            // The user the image declares (its Dockerfile's USER).
            var dockerfile = File.ReadAllText(Path.Combine(Repo.Root, "src", $"ZmqAspire.{char.ToUpperInvariant(name[0])}{name[1..]}", "Dockerfile"));
            Assert.Contains($"USER {(int)pod["securityContext"]!["runAsUser"]!}:{(int)pod["securityContext"]!["runAsGroup"]!}", dockerfile, StringComparison.Ordinal);
            Assert.Contains(container["volumeMounts"]!.AsArray(), m => (string)m!["mountPath"]! == "/tmp");
        }

        // The probes ask what compose's healthchecks ask: the REP port, the client's /health.
        Assert.Equal("zmq", (string)Container(kubernetes.OfKind("Deployment")["server"])["readinessProbe"]!["tcpSocket"]!["port"]!);
        Assert.Equal("/health", (string)Container(kubernetes.OfKind("Deployment")["client"])["readinessProbe"]!["httpGet"]!["path"]!);
        Assert.Equal("/alive", (string)Container(kubernetes.OfKind("Deployment")["client"])["livenessProbe"]!["httpGet"]!["path"]!);
    }

    private static JsonObject Container(JsonObject deployment) => deployment["spec"]!["template"]!["spec"]!["containers"]!.AsArray().Single()!.AsObject();

    private static Dictionary<string, string?> Env(JsonObject deployment) =>
        Container(deployment)["env"]!.AsArray().ToDictionary(e => (string)e!["name"]!, e => (string?)e!["value"]);

    private static string? App(JsonNode selector) => (string?)selector["matchLabels"]?["app.kubernetes.io/name"];

    // As ComposeModelTests: {resource.bindings.name.property} as a regular expression; Kubernetes
    // reaches a resource by its Service name and its target port.
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

        var port = Resources.GetValueOrDefault(placeholder.Groups[1].Value)?["bindings"]?[placeholder.Groups[2].Value]?["targetPort"];
        return port is null ? @"\d+" : port.ToString();
    }));
}

/// <summary>deploy/kubernetes rendered by <c>kubectl kustomize</c>, with fresh keys from its make-keys.sh, once for <see cref="KubernetesModelTests"/>.</summary>
public sealed class KubernetesFixture : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("zmqaspire-k8s-").FullName;

    public List<JsonObject> Objects { get; private set; } = [];

    public string HostKeyFingerprint { get; private set; } = string.Empty;

    public Dictionary<string, JsonObject> OfKind(string kind) =>
        Objects.Where(o => (string)o["kind"]! == kind).ToDictionary(o => NameOf(o), o => o);

    public async Task InitializeAsync()
    {
        // The manifests as committed, beside keys made as the docs say (never in the repository).
        var copy = Path.Combine(_root, "kubernetes");
        Directory.CreateDirectory(copy);
        foreach (var file in Directory.GetFiles(Path.Combine(Repo.Root, "deploy", "kubernetes"), "*.yaml"))
        {
            File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        }

        await Cli.RunCheckedAsync(Path.Combine(Repo.Root, "deploy", "kubernetes", "make-keys.sh"), [Path.Combine(copy, "keys")]);
        HostKeyFingerprint = File.ReadAllText(Path.Combine(copy, "keys", "host-key-pin.env")).Trim().Split('=', 2)[1];
        var yaml = await Cli.RunCheckedAsync("kubectl", ["kustomize", copy]);
        var json = await Cli.RunAsync(
            "/usr/bin/python3", ["-c", "import json, sys, yaml; json.dump(list(yaml.safe_load_all(sys.stdin)), sys.stdout)"], standardInput: yaml.StandardOutput);
        Assert.True(json.ExitCode == 0, json.Output);
        Objects = [.. JsonNode.Parse(json.StandardOutput)!.AsArray().Select(o => o!.AsObject())];
        Assert.All(Objects, o => Assert.Equal("zmqaspire", (string?)o["metadata"]!["namespace"] ?? (string)o["metadata"]!["name"]!));
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_root, recursive: true);
        return Task.CompletedTask;
    }

    // Generated Secrets and ConfigMaps get a content hash suffix; the Deployments name them with it.
    private static string NameOf(JsonObject o) => (string)o["metadata"]!["name"]!;
}
