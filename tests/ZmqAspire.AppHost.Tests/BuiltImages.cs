using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using CliWrap;
using CliWrap.Buffered;
using Microsoft.Extensions.DependencyInjection;

namespace ZmqAspire.Testing;

/// <summary>
/// The images an AppHost run had built from Dockerfiles (server, bastion, server-N, publisher,
/// puller). Every run tags them anew (<c>server:&lt;hash&gt;</c>), so without this each test run
/// would leave a tag per resource behind (issue #21). Only the tags are removed: the layers stay
/// in the build cache, so the next run's build is still a cache hit.
/// </summary>
public static class BuiltImages
{
    /// <summary>Gets <c>name:tag</c> of every image the application builds from a Dockerfile.</summary>
    public static IReadOnlyList<string> Of(DistributedApplication app) =>
        app.Services.GetRequiredService<DistributedApplicationModel>().Resources
            .Where(r => r.Annotations.OfType<DockerfileBuildAnnotation>().Any())
            .Select(r => r.TryGetLastAnnotation<ContainerImageAnnotation>(out var image) ? $"{image.Image}:{image.Tag}" : null)
            .OfType<string>()
            .ToList();

    /// <summary>
    /// Removes image tags (from <see cref="Of"/>, taken before the application stops: its
    /// services are gone after). Call it once the application stopped and its containers are gone.
    /// </summary>
    public static async Task RemoveAsync(IReadOnlyList<string> images)
    {
        if (images.Count == 0)
        {
            return;
        }

        // No --force: an image that a container still uses (another AppHost on this machine) stays.
        var result = await Cli.Wrap("docker").WithArguments(["image", "rm", .. images])
            .WithValidation(CommandResultValidation.None)
            .ExecuteBufferedAsync();

        // An image that never got built (a start that failed early) is not an error here.
        var errors = result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(line => !line.Contains("No such image", StringComparison.Ordinal))
            .ToList();
        if (errors.Count > 0)
        {
            throw new InvalidOperationException("docker image rm " + string.Join(' ', images) + " failed:\n" + string.Join('\n', errors));
        }
    }
}
