namespace ZmqAspire.Deployment.Tests;

/// <summary>
/// The compose deployment with CurveZMQ added (docker-compose.curve.yml and
/// <c>ZMQASPIRE_CURVE=yes make-keys.sh</c>): the trimmed images talk CURVE end to end, the
/// server reading its certificate from a mounted secret.
/// </summary>
public sealed class ComposeCurveTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Compose_deployment_with_curve_answers_over_curve()
    {
        var project = await ComposeProject.CreateAsync(
            "zmqcurve",
            new Dictionary<string, string?> { ["ZMQASPIRE_CURVE"] = "yes" },
            Path.Combine(Repo.Root, "deploy", "compose", "docker-compose.curve.yml"));
        try
        {
            var env = await File.ReadAllTextAsync(Path.Combine(project.KeyDirectory, "compose.env"));
            var publicKey = env.Split('\n').Single(l => l.StartsWith("ZMQASPIRE_CURVE_SERVER_KEY=", StringComparison.Ordinal)).Split('=', 2)[1].Trim('\'');
            Assert.Equal(40, publicKey.Length);
            await project.UpAsync();

            var serverLog = await project.WaitForLogAsync("server", "CurveZMQ on", TimeSpan.FromSeconds(60));
            Assert.Contains($"clients need the server public key {publicKey}", serverLog, StringComparison.Ordinal);
            var clientLog = await project.WaitForLogAsync("client", "Received reply 2 [ World from 5556 ]", TimeSpan.FromSeconds(90));
            output.WriteLine(string.Join('\n', clientLog.Split('\n').Where(l => l.Contains("Received reply", StringComparison.Ordinal)).Take(3)));
            Assert.Contains("Received reply 2 [ World from 5556 ]", clientLog, StringComparison.Ordinal);

            // The secret is a file, not a setting: its key is in no container's configuration.
            var secret = (await File.ReadAllLinesAsync(Path.Combine(project.KeyDirectory, "curve_server.key_secret")))
                .Single(l => l.Trim().StartsWith("secret-key", StringComparison.Ordinal)).Split('=', 2)[1].Trim().Trim('"');
            foreach (var service in new[] { "server", "client", "bastion" })
            {
                var inspect = await Cli.RunCheckedAsync("docker", ["inspect", await project.ContainerIdAsync(service)]);
                Assert.DoesNotContain(secret, inspect.StandardOutput, StringComparison.Ordinal);
            }
        }
        finally
        {
            var down = await project.DownAsync();
            var left = await project.LeftoversAsync();
            await project.DisposeAsync();
            Assert.True(down.ExitCode == 0, "docker-compose down failed:\n" + down.Output);
            Assert.True(left.Count == 0, "left behind: " + string.Join(", ", left));
        }
    }
}
