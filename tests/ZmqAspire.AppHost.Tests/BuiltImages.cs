using System.Text.RegularExpressions;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using CliWrap;
using CliWrap.Buffered;
using Microsoft.Extensions.DependencyInjection;

namespace ZmqAspire.Testing;

/// <summary>
/// The images an AppHost run built from Dockerfiles (server, bastion, server-N, publisher,
/// puller). Every run tags them anew (<c>server:&lt;hash&gt;</c>), so without this each test run
/// would leave a tag per resource behind (issue #21). Only the tags are removed: the layers stay
/// in the build cache, so the next run's build is still a cache hit. Aspire's tunnel proxy image
/// (dcptun_developer_ms) is kept: DCP reuses it across runs; eng/clean.sh removes it.
/// </summary>
public static partial class BuiltImages
{
    /// <summary>How long containers may take to go after their AppHost exited (README: up to about 20 s).</summary>
    private static readonly TimeSpan ContainerCleanup = TimeSpan.FromSeconds(45);

    /// <summary>
    /// Gets the images the application's Dockerfile resources run, as DCP built and tagged them
    /// (each snapshot's <c>container.image</c>; the model's image annotation still names the
    /// image the resource was declared with). Take it before the application stops.
    /// </summary>
    public static IReadOnlyList<string> Of(DistributedApplication app)
    {
        var notifications = app.Services.GetRequiredService<ResourceNotificationService>();
        return [.. app.Services.GetRequiredService<DistributedApplicationModel>().Resources
            .Where(r => r.Annotations.OfType<DockerfileBuildAnnotation>().Any())
            .Select(r => notifications.TryGetCurrentState(r.Name, out var state)
                ? state.Snapshot.Properties.FirstOrDefault(p => p.Name == "container.image")?.Value as string
                : null)
            .OfType<string>()];
    }

    /// <summary>
    /// Gets <c>name:tag</c> of every image in the engine whose repository is one the AppHost
    /// builds (server, server-N, bastion, publisher, puller): for a test that runs the AppHost as
    /// another process, alone, the difference before and after its run is what the run built.
    /// </summary>
    public static async Task<IReadOnlyList<string>> InEngineAsync()
    {
        var result = await Cli.Wrap("docker").WithArguments(["images", "--format", "{{.Repository}}:{{.Tag}}"]).ExecuteBufferedAsync();
        return [.. result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(r => AppHostRepository().IsMatch(r[..r.LastIndexOf(':')]))];
    }

    /// <summary>
    /// Removes image tags once the application stopped. Its containers may outlive it by seconds
    /// (DCP removes them after the AppHost exits), so a tag still in use is tried again for up
    /// to <see cref="ContainerCleanup"/>; after that the error is the test's.
    /// </summary>
    public static async Task RemoveAsync(IReadOnlyList<string> images)
    {
        var deadline = DateTime.UtcNow + ContainerCleanup;
        var left = images;
        while (left.Count > 0)
        {
            // No --force: a tag a container uses stays.
            var result = await Cli.Wrap("docker").WithArguments(["image", "rm", .. left])
                .WithValidation(CommandResultValidation.None)
                .ExecuteBufferedAsync();

            // An image that never got built (a start that failed early) is not an error here.
            var errors = result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Where(line => !line.Contains("No such image", StringComparison.Ordinal))
                .ToList();
            if (errors.Count == 0)
            {
                return;
            }

            if (DateTime.UtcNow > deadline || !errors.All(e => e.Contains("is using its referenced image", StringComparison.Ordinal)))
            {
                throw new InvalidOperationException("docker image rm " + string.Join(' ', left) + " failed:\n" + string.Join('\n', errors));
            }

            left = [.. left.Where(image => errors.Any(e => e.Contains($"\"{image}\"", StringComparison.Ordinal)))];
            await Task.Delay(TimeSpan.FromSeconds(2));
        }
    }

    [GeneratedRegex("^(server|server-[0-9]+|bastion|aspire-ssh-bastion|publisher|puller)$")]
    private static partial Regex AppHostRepository();
}
