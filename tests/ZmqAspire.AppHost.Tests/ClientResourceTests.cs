using Aspire.Hosting.ApplicationModel;

namespace ZmqAspire.AppHost.Tests;

/// <summary>
/// How the AppHost runs the client: by default the trimmed self-contained publish its build makes
/// (what the image ships: RSS under 120 MiB in the soak), the project only when asked. Builds the
/// model only; no container starts.
/// </summary>
public sealed class ClientResourceTests
{
    [Fact]
    public async Task By_default_the_client_runs_from_its_trimmed_publish()
    {
        var client = await ClientResourceAsync();

        var executable = Assert.IsType<ExecutableResource>(client);
        Assert.EndsWith(Path.Combine("artifacts", "client-app", "ZmqAspire.Client"), executable.Command, StringComparison.Ordinal);
        // The AppHost's build published it, self-contained: the apphost and the trimmed framework beside it.
        Assert.True(File.Exists(executable.Command), executable.Command);
        Assert.True(File.Exists(Path.Combine(executable.WorkingDirectory, "System.Private.CoreLib.dll")));
        Assert.False(File.Exists(Path.Combine(executable.WorkingDirectory, "System.Xml.XDocument.dll")), "the publish is not trimmed");
        Assert.Contains(executable.Annotations.OfType<EndpointAnnotation>(), e => e.Name == "http");
    }

    [Fact]
    public async Task ClientFromProject_runs_the_project_for_a_debugger()
    {
        var client = await ClientResourceAsync("--ZmqAspire:ClientFromProject=true");

        Assert.IsType<ProjectResource>(client);
    }

    private static async Task<IResource> ClientResourceAsync(params string[] extra)
    {
        var keys = Directory.CreateTempSubdirectory("zmqaspire-model-");
        try
        {
            var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.ZmqAspire_AppHost>(
                [$"--ZmqAspire:KeyDirectory={keys.FullName}", "--ZmqAspire:BastionPort=0", .. extra]);
            return builder.Resources.Single(r => r.Name == "client");
        }
        finally
        {
            keys.Delete(recursive: true);
        }
    }
}
