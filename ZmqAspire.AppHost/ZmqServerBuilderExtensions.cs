using System.Globalization;

namespace ZmqAspire.AppHost;

/// <summary>
/// This application's ZeroMQ containers (app code, not part of the hosting package): the NetMQ
/// REP server and the pattern demo's binding peers, built from this repository's publish output
/// (artifacts/*-image, made by the AppHost's build) and reachable only on the container network.
/// </summary>
public static class ZmqServerBuilderExtensions
{
    /// <summary>
    /// Adds the NetMQ REP server, built from <paramref name="dockerfilePath"/> with
    /// <paramref name="contextPath"/> (the server's publish folder) as build context. No port is
    /// published to the host. Its telemetry goes to the dashboard over OTLP.
    /// </summary>
    /// <param name="builder">The application builder.</param>
    /// <param name="name">The resource name; also the server's DNS name on the container network.</param>
    /// <param name="contextPath">The build context (the server's self-contained publish output).</param>
    /// <param name="dockerfilePath">The server's Dockerfile.</param>
    /// <param name="port">The port the REP socket binds in the container. Default: 5556, as the seed.</param>
    /// <returns>The server resource builder.</returns>
    public static IResourceBuilder<ZmqServerResource> AddZmqServer(
        this IDistributedApplicationBuilder builder, string name, string contextPath, string dockerfilePath, int port = 5556)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddResource(new ZmqServerResource(name, port))
            .WithImage("zmqaspire/server")
            .WithDockerfile(contextPath, dockerfilePath)
            .WithEnvironment("Server__Port", port.ToString(CultureInfo.InvariantCulture))
            // The name clients reach it by, recorded as server.address on its spans (not the container id).
            .WithEnvironment("Server__Address", name)
            .WithIconName("Server")
            .WithOtlpExporter();
    }

    /// <summary>
    /// Adds a container that binds a ZeroMQ socket on <paramref name="port"/> inside the container
    /// network, with no port published to the host (for example the PUB/SUB and PUSH/PULL demo's
    /// publisher and puller). Clients reach it like the server, through the bastion (<see cref="ZmqServerResource.ForwardTarget"/>).
    /// Its telemetry goes to the dashboard over OTLP.
    /// </summary>
    /// <param name="builder">The application builder.</param>
    /// <param name="name">The resource name; also its DNS name on the container network.</param>
    /// <param name="contextPath">The build context (the program's self-contained publish output).</param>
    /// <param name="dockerfilePath">The Dockerfile.</param>
    /// <param name="port">The port the socket binds in the container.</param>
    /// <returns>The resource builder.</returns>
    public static IResourceBuilder<ZmqServerResource> AddZmqContainer(
        this IDistributedApplicationBuilder builder, string name, string contextPath, string dockerfilePath, int port)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddResource(new ZmqServerResource(name, port))
            .WithImage($"zmqaspire/{name}")
            .WithDockerfile(contextPath, dockerfilePath)
            .WithOtlpExporter();
    }

    /// <summary>Sets the server's simulated work per request.</summary>
    /// <param name="server">The server.</param>
    /// <param name="workTime">The time spent before each reply; zero or more.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="workTime"/> is negative.</exception>
    public static IResourceBuilder<ZmqServerResource> WithWorkTime(this IResourceBuilder<ZmqServerResource> server, TimeSpan workTime)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentOutOfRangeException.ThrowIfLessThan(workTime, TimeSpan.Zero);
        return server.WithEnvironment("Server__WorkTime", workTime.ToString("c", CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// Turns on CurveZMQ (ZeroMQ RFC 26) between the server and every client wired to it with
    /// <c>WithZmqServerTunnel</c>: the server gets its secret certificate as a file owned by its user,
    /// mode 0400, under <c>/run/zmqaspire/</c> (<c>Server__CurveSecretKeyFile</c> names the path,
    /// never the key: nothing secret is on a command line, in the environment or in a log), and
    /// clients get only its public key (<c>Client__CurveServerKey</c>). The bastion then relays
    /// only ciphertext. Off unless called with keys; give every replica of a client the same keys.
    /// </summary>
    /// <param name="server">The server.</param>
    /// <param name="keys">The server's key pair (<see cref="CurveKeyMaterial.EnsureCreated"/>); null leaves CURVE off.</param>
    /// <returns>The same builder.</returns>
    public static IResourceBuilder<ZmqServerResource> WithCurve(this IResourceBuilder<ZmqServerResource> server, CurveKeyMaterial? keys)
    {
        ArgumentNullException.ThrowIfNull(server);
        if (keys is null)
        {
            return server;
        }

        server.Resource.Curve = keys;
        const string directory = "/run/zmqaspire";
        var file = Path.GetFileName(keys.SecretKeyPath);
        return server
            .WithContainerFiles(
                directory,
                [new ContainerFile { Name = file, SourcePath = keys.SecretKeyPath, Mode = UnixFileMode.UserRead }],
                defaultOwner: ZmqServerResource.ContainerUserId,
                defaultGroup: ZmqServerResource.ContainerUserId,
                umask: UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute)
            .WithEnvironment("Server__CurveSecretKeyFile", $"{directory}/{file}");
    }
}
