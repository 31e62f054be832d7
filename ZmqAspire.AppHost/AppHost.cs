using Microsoft.Extensions.Configuration;
using ZmqAspire.Hosting;

// ZmqAspire: a NetMQ REP server that only an SSH bastion can reach, and a REQ client that
// reaches it through an SSH tunnel. Settings (command line, environment or appsettings.json):
//   ZmqAspire:KeyDirectory       where the SSH keys live (default ~/.zmqaspire/keys)
//   ZmqAspire:ServerWorkSeconds  simulated work per request (default 1, as the seed)
//   ZmqAspire:RequestCount       requests the client sends (default 0: keeps sending)
//   ZmqAspire:RequestInterval    seconds between a reply and the next request (default 0)
var builder = DistributedApplication.CreateBuilder(args);
var settings = builder.Configuration.GetSection("ZmqAspire");
var repoRoot = Path.GetFullPath(Path.Combine(builder.AppHostDirectory, ".."));

var keys = SshKeyMaterial.EnsureCreated(settings["KeyDirectory"] ?? SshKeyMaterial.DefaultDirectory);

var server = builder.AddZmqServer(
        "server",
        contextPath: Path.Combine(repoRoot, "artifacts", "server-image"),
        dockerfilePath: Path.Combine(repoRoot, "src", "ZmqAspire.Server", "Dockerfile"))
    .WithWorkTime(TimeSpan.FromSeconds(settings.GetValue("ServerWorkSeconds", 1.0)));

var bastion = builder.AddSshBastion("bastion", Path.Combine(repoRoot, "src", "ZmqAspire.Bastion"), keys);

builder.AddProject<Projects.ZmqAspire_Client>("client", launchProfileName: null)
    .WithHttpEndpoint(name: "http")
    .WithHttpHealthCheck("/health")
    .WithSshTunnel(bastion, server)
    .WithEnvironment("Client__RequestCount", settings["RequestCount"] ?? "0")
    .WithEnvironment("Client__Interval", TimeSpan.FromSeconds(settings.GetValue("RequestInterval", 0.0)).ToString("c"));

builder.Build().Run();
