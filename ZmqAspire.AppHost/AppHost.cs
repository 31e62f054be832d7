using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ZmqAspire.AppHost;

// ZmqAspire: a NetMQ REP server that only an SSH bastion can reach, and a REQ client that
// reaches it through an SSH tunnel. Settings (command line, environment or appsettings.json):
//   ZmqAspire:KeyDirectory       where the SSH keys live (default ~/.zmqaspire/keys)
//   ZmqAspire:ServerWorkSeconds  simulated work per request (default 1, as the seed)
//   ZmqAspire:ServerReplicas     REP server replicas (default 1: "server"; more: server-1 ... server-N),
//                                each reached through its own forward over the client's one SSH session
//   ZmqAspire:RequestCount       requests the client sends (default 0: keeps sending)
//   ZmqAspire:RequestInterval    seconds between a reply and the next request (default 0)
//   ZmqAspire:PatternDemos       true: adds the PUB/SUB and PUSH/PULL demo peers (off by default)
//   ZmqAspire:RemoteForwardPort  a port the bastion may listen on for remote forwards (ssh -R); 0: none (default)
//   ZmqAspire:PasswordLogin      true: the client logs in with a password, as the seed did (opt-in;
//                                the password is the secret parameter Parameters:bastion-password)
//   ZmqAspire:BastionPort        the host port of the bastion's SSH endpoint (default 2222, so pyzmq and
//                                ssh -L can be pointed at it; 0: any free port)
//   ZmqAspire:AesCtrCiphers      true: the bastion also offers AES-CTR (ETM MACs only) for SSH clients
//                                without AEAD ciphers, e.g. Debian 12's paramiko 2.12 (opt-in)
//   ZmqAspire:ClientFromProject  true: runs the client as a project (dotnet run, Debug) instead of its
//                                trimmed self-contained publish, for a debugger (off by default)
//   ZmqAspire:Curve              true: CurveZMQ between client and server, so the bastion relays
//                                only ciphertext (opt-in; the server's key pair is kept with the SSH keys)
var builder = DistributedApplication.CreateBuilder(args);
var settings = builder.Configuration.GetSection("ZmqAspire");
var repoRoot = Path.GetFullPath(Path.Combine(builder.AppHostDirectory, ".."));

// The SSH keys (made by the bastion when the app starts) and the CURVE keys share this folder.
var keyDirectory = settings["KeyDirectory"] ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".zmqaspire", "keys");

// One key pair for every replica: the client holds one server public key.
var curve = settings.GetValue("Curve", false) ? CurveKeyMaterial.EnsureCreated(keyDirectory) : null;
var replicas = settings.GetValue("ServerReplicas", 1);
ArgumentOutOfRangeException.ThrowIfLessThan(replicas, 1, "ZmqAspire:ServerReplicas");
var servers = Enumerable.Range(1, replicas)
    .Select(i => builder.AddZmqServer(
            replicas == 1 ? "server" : $"server-{i}",
            contextPath: Path.Combine(repoRoot, "artifacts", "server-image"),
            dockerfilePath: Path.Combine(repoRoot, "src", "ZmqAspire.Server", "Dockerfile"))
        .WithWorkTime(TimeSpan.FromSeconds(settings.GetValue("ServerWorkSeconds", 1.0)))
        .WithCurve(curve))
    .ToList();

var bastion = builder.AddSshBastion("bastion")
    .WithKeyDirectory(keyDirectory)
    .WithUrlForEndpoint(SshBastionResource.SshEndpointName, url => url.DisplayText = "SSH: user tunnel, key login, local forwards to the server only");
if (settings.GetValue("BastionPort", 2222) is > 0 and var bastionPort)
{
    bastion.WithHostPort(bastionPort);
}

if (settings.GetValue("AesCtrCiphers", false))
{
    bastion.WithAesCtrCiphers();
}

var password = settings.GetValue("PasswordLogin", false) ? builder.AddParameter("bastion-password", secret: true) : null;
if (password is not null)
{
    bastion.WithPasswordLogin(password);
}

if (settings.GetValue("RemoteForwardPort", 0) is > 0 and var remoteForwardPort)
{
    bastion.WithRemoteForwarding(remoteForwardPort);
}

if (settings.GetValue("PatternDemos", false))
{
    builder.AddPatternDemos(bastion, repoRoot);
}

// The client runs from its trimmed, self-contained publish (what the image ships, and about 40 MiB
// less RSS than a Debug project); ZmqAspire:ClientFromProject=true runs the project instead, for a
// debugger or dotnet watch. Publish mode always describes the project.
if (settings.GetValue("ClientFromProject", false) || builder.ExecutionContext.IsPublishMode)
{
    ConfigureClient(builder.AddProject<Projects.ZmqAspire_Client>("client", launchProfileName: null).WithHttpEndpoint(name: "http"));
}
else
{
    ConfigureClient(builder.AddTrimmedClient("client", Path.Combine(repoRoot, "artifacts", "client-app")));
}

builder.Build().Run();

void ConfigureClient<T>(IResourceBuilder<T> client)
    where T : IResourceWithEnvironment, IResourceWithEndpoints, IResourceWithWaitSupport
{
    client
        .WithUrlForEndpoint("http", url => url.DisplayText = "client (commands endpoint)")
        .WithHttpHealthCheck("/health")
        .WithZmqServerTunnel(bastion, servers, connectionName: "server", password)
        // Our server reads the ZQA1 envelope, so the client may send trace context in it; a plain
        // libzmq REP peer could not take the two-frame request (docs/wire-format.md).
        .WithEnvironment("Client__Envelope", "true")
        .WithEnvironment("Client__RequestCount", settings["RequestCount"] ?? "0")
        .WithEnvironment("Client__Interval", TimeSpan.FromSeconds(settings.GetValue("RequestInterval", 0.0)).ToString("c"))
        .WithIconName("PlugConnected")
        .WithClientCommands();
    client.WithUrl(ReferenceExpression.Create($"{client.GetEndpoint("http")}/health"), "health report (SSH session, forward, last request)");

    // Without a browser the dashboard's Resources page is out of reach, and the port is random:
    // the console says where the health report is, next to the login URL.
    builder.Eventing.Subscribe<ResourceEndpointsAllocatedEvent>(client.Resource, (e, _) =>
    {
        e.Services.GetRequiredService<ILoggerFactory>().CreateLogger("ZmqAspire.AppHost")
            .LogInformation("The client's health report (SSH session, forward, last request): {HealthUrl}/health", client.GetEndpoint("http").Url);
        return Task.CompletedTask;
    });
}
