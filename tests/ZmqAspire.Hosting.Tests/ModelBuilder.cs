using System.Data.Common;

namespace ZmqAspire.Hosting.Tests;

/// <summary>Application models for the tests: run or publish mode, keys in a fresh temp folder.</summary>
internal sealed class ModelBuilder : IDisposable
{
    public ModelBuilder(bool publish = false)
    {
        KeyDirectory = Path.Combine(Directory.CreateTempSubdirectory("hosting-tests-").FullName, "keys");
        OutputDirectory = Path.GetDirectoryName(KeyDirectory)!;
        ManifestPath = Path.Combine(OutputDirectory, "aspire-manifest.json");
        Builder = DistributedApplication.CreateBuilder(new DistributedApplicationOptions
        {
            Args = publish ? ["--publisher", "manifest", "--output-path", ManifestPath] : [],
            DisableDashboard = true,
        });
    }

    public IDistributedApplicationBuilder Builder { get; }

    public string KeyDirectory { get; }

    public string OutputDirectory { get; }

    public string ManifestPath { get; }

    public IResourceBuilder<SshBastionResource> AddBastion(string name = "bastion") =>
        Builder.AddSshBastion(name).WithKeyDirectory(KeyDirectory);

    /// <summary>Pretends the app started: the bastion's SSH endpoint is allocated on the host.</summary>
    public static void Allocate(IResourceWithEndpoints resource, string endpointName, int port)
    {
        var endpoint = resource.Annotations.OfType<EndpointAnnotation>().Single(e => e.Name == endpointName);
        endpoint.AllocatedEndpoint = new AllocatedEndpoint(endpoint, "localhost", port);
    }

    /// <summary>The consumer's environment as run mode resolves it.</summary>
    // The one-call evaluator; its replacement (ExecutionConfigurationBuilder) needs a running app's services.
#pragma warning disable CS0618
    public static async Task<Dictionary<string, string>> EnvironmentAsync(IResourceWithEnvironment resource, DistributedApplicationOperation operation = DistributedApplicationOperation.Run) =>
        await resource.GetEnvironmentVariableValuesAsync(operation);
#pragma warning restore CS0618

    public static DbConnectionStringBuilder Parse(string connectionString) => new() { ConnectionString = connectionString };

    public void Dispose() => Directory.Delete(OutputDirectory, recursive: true);
}
