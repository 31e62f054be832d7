using System.Collections.Concurrent;
using CliWrap;
using CliWrap.Buffered;

namespace ZmqAspire.Hosting.Tests;

/// <summary>
/// The packages as another team uses them: packs them into a local folder feed, writes a
/// brand-new AppHost and worker in a temp folder outside the repository (they reference only the
/// feed's packages, the Aspire SDK and NetMQ from nuget.org), and runs the AppHost. It runs a
/// pyzmq REP container of its own behind AddSshBastion; the worker, as a project and as a
/// container that runs as uid 1654 (published on the host, WithSshKeyOwner(1654)), gets a reply
/// through the tunnel and writes it to a file the test reads. A third consumer, the same
/// container without WithSshKeyOwner, must fail naming that fix. Starts containers and an
/// AppHost with the dashboard's fixed ports: run it under the shared lock (eng/test.sh does).
/// </summary>
[Trait("Category", "Package")]
public sealed class PackageEndToEndTests
{
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromMinutes(8);

    [Fact]
    public async Task Brand_new_AppHost_from_a_local_feed_gets_a_reply_through_the_bastion()
    {
        var root = RepositoryRoot();
        var work = Directory.CreateTempSubdirectory("zmqaspire-package-e2e-").FullName;
        Assert.False(work.StartsWith(root, StringComparison.Ordinal), "the temp folder must be outside the repository");
        // A version of its own: the global packages folder never serves a stale copy of 0.1.0.
        var version = $"0.1.0-e2e.{DateTime.UtcNow:yyyyMMddHHmmss}";
        var results = Path.Combine(work, "results");
        string[] resultFiles = ["project.txt", "container.txt", "container-without-owner.txt"];
        var imagesBefore = await ImagesAsync();
        try
        {
            var pack = await Cli.Wrap("bash").WithArguments(["eng/pack.sh", Path.Combine(work, "feed"), $"-p:Version={version}"])
                .WithWorkingDirectory(root).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
            Assert.True(pack.ExitCode == 0, pack.StandardOutput + pack.StandardError);
            Assert.Contains($"ZmqAspire.Hosting.{version}.nupkg", pack.StandardOutput, StringComparison.Ordinal);

            NewProjects.Write(work, version);
            Assert.DoesNotContain(
                Directory.EnumerateFiles(work, "*", SearchOption.AllDirectories).Where(f => !f.Contains("/feed/", StringComparison.Ordinal)),
                f => File.ReadAllText(f).Contains(root, StringComparison.Ordinal));

            using var buildTimeout = new CancellationTokenSource(BuildTimeout);
            // The container worker's files, as eng/build-images.sh makes them: an image build cannot reach NuGet.
            var publish = await Cli.Wrap("dotnet")
                .WithArguments(["publish", "Worker", "-c", "Release", "-r", "linux-x64", "--self-contained", "-p:DebugType=none", "-o", Path.Combine("worker-image", "app"), "-nologo", "-v", "minimal", "-clp:NoSummary"])
                .WithWorkingDirectory(work).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(buildTimeout.Token);
            Assert.True(publish.ExitCode == 0, publish.StandardOutput + publish.StandardError);

            var build = await Cli.Wrap("dotnet").WithArguments(["build", "AppHost", "-nologo", "-v", "minimal", "-clp:NoSummary"])
                .WithWorkingDirectory(work).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(buildTimeout.Token);
            Assert.True(build.ExitCode == 0, build.StandardOutput + build.StandardError);

            // The container workers run as uid 1654 and write their results here (a bind mount); the test runs as root.
            Directory.CreateDirectory(results);
            await Cli.Wrap("chown").WithArguments(["1654:1654", results]).ExecuteBufferedAsync();

            var output = new ConcurrentQueue<string>();
            using var forceful = new CancellationTokenSource(ReplyTimeout + TimeSpan.FromMinutes(2));
            // setsid: its own process group, so Ctrl+C (SIGINT) reaches the AppHost and DCP alike.
            // env --default-signal=INT: SIGINT handled as in a terminal's foreground job, even when
            // this test runs under a shell's background job, which starts with SIGINT ignored.
            var run = Cli.Wrap("setsid").WithArguments(["env", "--default-signal=INT", "dotnet", "run", "--project", "AppHost", "--no-build", "--", $"--ResultDirectory={results}"])
                .WithWorkingDirectory(work)
                .WithValidation(CommandResultValidation.None)
                .WithStandardOutputPipe(PipeTarget.ToDelegate(output.Enqueue))
                .WithStandardErrorPipe(PipeTarget.ToDelegate(output.Enqueue))
                .ExecuteAsync(forceful.Token);
            var started = DateTime.UtcNow;
            try
            {
                while (!resultFiles.All(f => File.Exists(Path.Combine(results, f))) && DateTime.UtcNow - started < ReplyTimeout && !run.Task.IsCompleted)
                {
                    await Task.Delay(TimeSpan.FromSeconds(1));
                }
            }
            finally
            {
                await Cli.Wrap("kill").WithArguments(["-INT", "--", $"-{run.ProcessId}"]).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
                await run;
            }

            var missing = resultFiles.Where(f => !File.Exists(Path.Combine(results, f))).ToList();
            Assert.True(missing.Count == 0, $"no {string.Join(", ", missing)} within {ReplyTimeout}:\n" + string.Join('\n', output));
            Console.WriteLine($"package e2e: all three results after {(DateTime.UtcNow - started).TotalSeconds:0} s from the AppHost's start (image builds included)");
            Assert.Equal("reply to hello through the bastion", (await File.ReadAllTextAsync(Path.Combine(results, "project.txt"))).Trim());
            Assert.Equal("reply to hello through the bastion", (await File.ReadAllTextAsync(Path.Combine(results, "container.txt"))).Trim());
            // Without WithSshKeyOwner the key is root's (0400): uid 1654 is refused, and told the fix.
            var refused = await File.ReadAllTextAsync(Path.Combine(results, "container-without-owner.txt"));
            Console.WriteLine("package e2e: without WithSshKeyOwner: " + refused);
            Assert.StartsWith("failed: ", refused, StringComparison.Ordinal);
            Assert.Contains("/run/aspire-ssh/bastion_client_ed25519_key", refused, StringComparison.Ordinal);
            Assert.Contains("may not read it", refused, StringComparison.Ordinal);
            Assert.Contains("WithSshKeyOwner(1654)", refused, StringComparison.Ordinal);
        }
        finally
        {
            await RemoveNewImagesAsync(imagesBefore);
            Directory.Delete(work, recursive: true);
            foreach (var id in new[] { "zmqaspire.hosting", "zmqaspire.tunneling", "zmqaspire.messaging", "zmqaspire.sshtunnel" })
            {
                var cached = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages", id, version);
                if (Directory.Exists(cached))
                {
                    Directory.Delete(cached, recursive: true);
                }
            }
        }
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ZmqAspire.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("ZmqAspire.sln not found above " + AppContext.BaseDirectory);
    }

    private static async Task<HashSet<string>> ImagesAsync()
    {
        var result = await Cli.Wrap("docker").WithArguments(["images", "--format", "{{.Repository}}:{{.Tag}}"]).ExecuteBufferedAsync();
        return [.. result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)];
    }

    // The tags this run's image builds added (the AppHost's four Dockerfile resources); the layers
    // stay in the build cache. The containers are gone once DCP has cleaned up, which may take a while.
    private static async Task RemoveNewImagesAsync(HashSet<string> before)
    {
        var added = (await ImagesAsync()).Except(before)
            .Where(i => new[] { "server:", "bastion:", "aspire-ssh-bastion:", "worker-app:", "worker-root-key:" }.Any(p => i.StartsWith(p, StringComparison.Ordinal)))
            .ToList();
        for (var attempt = 0; added.Count > 0 && attempt < 15; attempt++)
        {
            var rm = await Cli.Wrap("docker").WithArguments(["image", "rm", .. added]).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
            if (rm.ExitCode == 0)
            {
                return;
            }

            await Task.Delay(TimeSpan.FromSeconds(3));
            added = [.. (await ImagesAsync()).Intersect(added)];
        }
    }
}
