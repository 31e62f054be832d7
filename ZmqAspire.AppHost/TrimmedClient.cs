namespace ZmqAspire.AppHost;

/// <summary>
/// Runs the REQ client as the deployment ships it: the trimmed, self-contained publish that the
/// AppHost's build makes in <c>artifacts/client-app</c> (the same publish as the client image), so
/// the AppHost's client holds the memory a deployed one does (docs/benchmarks.md, the soak: a
/// framework-dependent Debug project maps the whole shared framework, about 140 MiB RSS).
/// </summary>
public static class TrimmedClient
{
    /// <summary>
    /// Adds the published client as an executable with an HTTP endpoint named <c>http</c> bound to
    /// localhost only (<c>ASPNETCORE_URLS</c>), telemetry to the dashboard over OTLP, and the
    /// Development environment, as Aspire gives a project.
    /// </summary>
    /// <param name="builder">The application builder.</param>
    /// <param name="name">The resource name.</param>
    /// <param name="publishDirectory">The folder holding the self-contained publish (its apphost <c>ZmqAspire.Client</c>).</param>
    /// <returns>The executable's resource builder.</returns>
    public static IResourceBuilder<ExecutableResource> AddTrimmedClient(
        this IDistributedApplicationBuilder builder, string name, string publishDirectory)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var client = builder.AddExecutable(name, Path.Combine(publishDirectory, "ZmqAspire.Client"), publishDirectory)
            .WithHttpEndpoint(name: "http", env: "CLIENT_HTTP_PORT")
            .WithOtlpExporter();
        var endpoint = client.GetEndpoint("http");
        return client
            // CLIENT_HTTP_PORT above only makes DCP allocate the port; Kestrel listens on loopback only.
            .WithEnvironment("ASPNETCORE_URLS", ReferenceExpression.Create($"http://localhost:{endpoint.Property(EndpointProperty.TargetPort)}"))
            .WithEnvironment("DOTNET_ENVIRONMENT", builder.Environment.EnvironmentName)
            .WithEnvironment("ASPNETCORE_ENVIRONMENT", builder.Environment.EnvironmentName);
    }
}
