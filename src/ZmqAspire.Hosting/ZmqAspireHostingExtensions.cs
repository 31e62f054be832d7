using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ZmqAspire.Hosting;

/// <summary>
/// Adds ZmqAspire's resources to an Aspire application model: a ZeroMQ server reachable only
/// inside the container network, an SSH bastion that may forward to it, and the wiring that
/// makes a client reach the server through the bastion (RFC 4254 local forwarding).
/// </summary>
public static class ZmqAspireHostingExtensions
{
    private const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode PublicFile = PrivateFile | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode PublicDirectory = PublicFile | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

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
    /// publisher and puller). Clients reach it like the server: <see cref="WithSshTunnel{T}(IResourceBuilder{T}, IResourceBuilder{SshBastionResource}, IResourceBuilder{ZmqServerResource}, IResourceBuilder{ParameterResource}?)"/>.
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
    /// <c>WithSshTunnel</c>: the server gets its secret certificate as a file owned by its user,
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

    /// <summary>
    /// Adds the OpenSSH bastion built from the Dockerfile in <paramref name="contextPath"/>, with
    /// its host key and the client's public key copied in at container creation (root-owned;
    /// the private host key 0600). Its SSH endpoint is published to the host; the resource is
    /// healthy once sshd sends its SSH banner.
    /// </summary>
    /// <param name="builder">The application builder.</param>
    /// <param name="name">The resource name.</param>
    /// <param name="contextPath">The folder with the bastion's Dockerfile and sshd_config.</param>
    /// <param name="keys">The deployment's keys.</param>
    /// <returns>The bastion resource builder.</returns>
    public static IResourceBuilder<SshBastionResource> AddSshBastion(
        this IDistributedApplicationBuilder builder, string name, string contextPath, SshKeyMaterial keys)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(keys);
        var bastion = new SshBastionResource(name, keys);
        var healthCheckKey = $"{name}_ssh_banner";
        builder.Services.AddHealthChecks().AddAsyncCheck(healthCheckKey, ct => CheckSshBannerAsync(bastion.SshEndpoint, ct));

        return builder.AddResource(bastion)
            .WithImage("zmqaspire/bastion")
            .WithDockerfile(contextPath)
            .WithEndpoint(targetPort: 22, name: SshBastionResource.SshEndpointName, scheme: "tcp")
            .WithUrlForEndpoint(SshBastionResource.SshEndpointName, url => url.DisplayText = "SSH: user tunnel, key login, local forwards to the server only")
            .WithIconName("ShieldLock")
            .WithContainerFiles("/etc/zmqaspire", (_, ct) => BastionFilesAsync(bastion, ct))
            .WithHealthCheck(healthCheckKey);
    }

    /// <summary>
    /// Allows the bastion to forward to <paramref name="server"/> (sshd's <c>PermitOpen</c>,
    /// written exactly as clients request it: <c>name:port</c>). Nothing else may be forwarded.
    /// </summary>
    /// <param name="bastion">The bastion.</param>
    /// <param name="server">The server it may forward to.</param>
    /// <returns>The same bastion builder.</returns>
    public static IResourceBuilder<SshBastionResource> WithForwardTo(
        this IResourceBuilder<SshBastionResource> bastion, IResourceBuilder<ZmqServerResource> server)
    {
        ArgumentNullException.ThrowIfNull(bastion);
        ArgumentNullException.ThrowIfNull(server);
        bastion.Resource.PermittedTargets.Add(server.Resource.ForwardTarget);
        return bastion;
    }

    /// <summary>
    /// Opts into password login for the tunnel user (the seed's method), in addition to keys. The
    /// password reaches the container as a root-only file that is fed to <c>chpasswd</c> and
    /// removed at start, so it is never on a command line or in a log. Off unless called.
    /// </summary>
    /// <param name="bastion">The bastion.</param>
    /// <param name="password">A secret parameter holding the password.</param>
    /// <returns>The same bastion builder.</returns>
    public static IResourceBuilder<SshBastionResource> WithPasswordLogin(
        this IResourceBuilder<SshBastionResource> bastion, IResourceBuilder<ParameterResource> password)
    {
        ArgumentNullException.ThrowIfNull(bastion);
        ArgumentNullException.ThrowIfNull(password);
        bastion.Resource.Password = password.Resource;
        return bastion;
    }

    /// <summary>
    /// Opts into AES-CTR ciphers besides the AEAD ones (RFC 4344 <c>aes256-ctr</c> and
    /// <c>aes128-ctr</c>, offered after chacha20-poly1305 and AES-GCM and only with the
    /// encrypt-then-MAC <c>hmac-sha2-256/512-etm@openssh.com</c> MACs), for SSH clients without an
    /// AEAD cipher, such as paramiko before 3.5 (Debian 12's 2.12, pyzmq's <c>paramiko=True</c>
    /// tunnels). Clients that have AEAD keep negotiating it. Off unless called; the compose
    /// deployment's equivalent is <c>BASTION_CTR_CIPHERS=yes</c>.
    /// </summary>
    /// <param name="bastion">The bastion.</param>
    /// <returns>The same bastion builder.</returns>
    public static IResourceBuilder<SshBastionResource> WithAesCtrCiphers(this IResourceBuilder<SshBastionResource> bastion)
    {
        ArgumentNullException.ThrowIfNull(bastion);
        bastion.Resource.AesCtrCiphers = true;
        return bastion;
    }

    /// <summary>
    /// Publishes the bastion's SSH endpoint on a fixed host port, so that SSH clients outside the
    /// AppHost (OpenSSH, pyzmq's <c>tunnel_connection</c>) can be pointed at it; without this call
    /// the port is chosen when the AppHost starts.
    /// </summary>
    /// <param name="bastion">The bastion.</param>
    /// <param name="port">The host port, 1-65535.</param>
    /// <returns>The same bastion builder.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="port"/> is not 1-65535.</exception>
    public static IResourceBuilder<SshBastionResource> WithHostPort(this IResourceBuilder<SshBastionResource> bastion, int port)
    {
        ArgumentNullException.ThrowIfNull(bastion);
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        return bastion.WithEndpoint(SshBastionResource.SshEndpointName, endpoint => endpoint.Port = port);
    }

    /// <summary>
    /// Opts into remote forwards (RFC 4254 section 7.1, <c>ssh -R</c>): a client behind the
    /// bastion may ask it to listen on <paramref name="port"/> (on all of the bastion's
    /// addresses, so other containers reach it) and relay connections back to a socket the client
    /// binds. Off unless called; only the listed ports are allowed.
    /// </summary>
    /// <param name="bastion">The bastion.</param>
    /// <param name="port">The port the bastion may listen on, 1-65535.</param>
    /// <returns>The same bastion builder.</returns>
    public static IResourceBuilder<SshBastionResource> WithRemoteForwarding(this IResourceBuilder<SshBastionResource> bastion, int port)
    {
        ArgumentNullException.ThrowIfNull(bastion);
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        bastion.Resource.RemoteListenPorts.Add(port);
        return bastion;
    }

    /// <summary>
    /// Makes <paramref name="client"/> reach <paramref name="server"/> only through
    /// <paramref name="bastion"/>: allows the forward on the bastion, passes the client the
    /// bastion's address (<c>Tunnel__SshServer</c>), the pinned host key fingerprint
    /// (<c>Tunnel__HostKeyFingerprint</c>), its private key path and the server's endpoint as the
    /// bastion sees it (<c>Tunnel__RemoteEndpoint</c>), the server's CURVE public key when it has
    /// one (<c>Client__CurveServerKey</c>, <see cref="WithCurve"/>), and starts the client after both.
    /// </summary>
    /// <typeparam name="T">The client resource type.</typeparam>
    /// <param name="client">The client.</param>
    /// <param name="bastion">The bastion to tunnel through.</param>
    /// <param name="server">The server to reach.</param>
    /// <returns>The same client builder.</returns>
    /// <param name="password">When given, the client logs in with this password instead of its key (the seed's way; the bastion must have <see cref="WithPasswordLogin"/>).</param>
    public static IResourceBuilder<T> WithSshTunnel<T>(
        this IResourceBuilder<T> client,
        IResourceBuilder<SshBastionResource> bastion,
        IResourceBuilder<ZmqServerResource> server,
        IResourceBuilder<ParameterResource>? password = null)
        where T : IResourceWithEnvironment, IResourceWithWaitSupport
    {
        ArgumentNullException.ThrowIfNull(server);
        return client.WithSshTunnel(bastion, [server], password);
    }

    /// <summary>
    /// Makes <paramref name="client"/> reach every one of <paramref name="servers"/> (replicas of
    /// one service) through <paramref name="bastion"/>, as <see cref="WithSshTunnel{T}(IResourceBuilder{T}, IResourceBuilder{SshBastionResource}, IResourceBuilder{ZmqServerResource}, IResourceBuilder{ParameterResource}?)"/>
    /// does for one: the bastion's <c>PermitOpen</c> lists exactly the replicas' endpoints, and
    /// <c>Tunnel__RemoteEndpoint</c> lists them comma-separated, in order. The client opens one
    /// local forward per replica over one SSH session and keeps one REQ socket per forward busy
    /// (docs/patterns.md, "Scale-out"). It starts after the bastion and every replica.
    /// </summary>
    /// <typeparam name="T">The client resource type.</typeparam>
    /// <param name="client">The client.</param>
    /// <param name="bastion">The bastion to tunnel through.</param>
    /// <param name="servers">The server replicas to reach; at least one.</param>
    /// <param name="password">When given, the client logs in with this password instead of its key (the bastion must have <see cref="WithPasswordLogin"/>).</param>
    /// <returns>The same client builder.</returns>
    /// <exception cref="ArgumentException"><paramref name="servers"/> is empty.</exception>
    public static IResourceBuilder<T> WithSshTunnel<T>(
        this IResourceBuilder<T> client,
        IResourceBuilder<SshBastionResource> bastion,
        IReadOnlyList<IResourceBuilder<ZmqServerResource>> servers,
        IResourceBuilder<ParameterResource>? password = null)
        where T : IResourceWithEnvironment, IResourceWithWaitSupport
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(bastion);
        ArgumentNullException.ThrowIfNull(servers);
        if (servers.Count == 0)
        {
            throw new ArgumentException("Give at least one server.", nameof(servers));
        }

        var ssh = bastion.Resource.SshEndpoint;
        var keys = bastion.Resource.Keys;
        client
            .WithEnvironment("Tunnel__SshServer", ReferenceExpression.Create(
                $"{bastion.Resource.UserName}@{ssh.Property(EndpointProperty.Host)}:{ssh.Property(EndpointProperty.Port)}"))
            .WithEnvironment("Tunnel__HostKeyFingerprint", keys.HostKeyFingerprint)
            .WithEnvironment("Tunnel__RemoteEndpoint", string.Join(',', servers.Select(s => s.Resource.EndpointOnContainerNetwork)))
            // Read when the client starts, so WithCurve may come before or after this call.
            .WithEnvironment(context =>
            {
                var curveKeys = servers.Select(s => s.Resource.Curve?.PublicKey).Distinct().ToList();
                if (curveKeys.Count > 1)
                {
                    throw new InvalidOperationException("The client holds one CURVE server key: give every server replica the same CurveKeyMaterial, or none.");
                }

                if (curveKeys[0] is { } curveKey)
                {
                    context.EnvironmentVariables["Client__CurveServerKey"] = curveKey;
                }
            });
        _ = password is null
            ? client.WithEnvironment("Tunnel__PrivateKeyPath", keys.ClientPrivateKeyPath)
            : client.WithEnvironment("Tunnel__Password", password);
        client.WaitFor(bastion);
        foreach (var server in servers)
        {
            bastion.WithForwardTo(server);
            client.WaitFor(server);
        }

        return client;
    }

    private static async Task<IEnumerable<ContainerFileSystemItem>> BastionFilesAsync(SshBastionResource bastion, CancellationToken cancellationToken)
    {
        var config = new StringBuilder();
        if (bastion.PermittedTargets.Count > 0)
        {
            config.Append(CultureInfo.InvariantCulture, $"PermitOpen {string.Join(' ', bastion.PermittedTargets)}\n");
        }

        if (bastion.Password is not null)
        {
            // "publickey password" (a space, not a comma): either method alone is enough.
            config.Append("PasswordAuthentication yes\nAuthenticationMethods publickey password\n");
        }

        if (bastion.AesCtrCiphers)
        {
            // Same AEAD ciphers first, CTR last; the MACs stay ETM-only (sshd_config).
            config.Append("Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes128-ctr\n");
        }

        if (bastion.RemoteListenPorts.Count > 0)
        {
            config.Append(CultureInfo.InvariantCulture, $"AllowTcpForwarding yes\nGatewayPorts clientspecified\nPermitListen {string.Join(' ', bastion.RemoteListenPorts.Select(p => $"*:{p}"))}\n");
        }

        List<ContainerFileSystemItem> files =
        [
            new ContainerDirectory
            {
                Name = "keys",
                Mode = PublicDirectory,
                Entries =
                [
                    new ContainerFile { Name = "ssh_host_ed25519_key", SourcePath = bastion.Keys.HostPrivateKeyPath, Mode = PrivateFile },
                    new ContainerFile { Name = "ssh_host_ed25519_key.pub", Contents = bastion.Keys.HostPublicKey + "\n", Mode = PublicFile },
                ],
            },
            new ContainerFile { Name = "authorized_keys", Contents = bastion.Keys.ClientPublicKey + "\n", Mode = PublicFile },
            new ContainerDirectory
            {
                Name = "sshd_config.d",
                Mode = PublicDirectory,
                Entries = [new ContainerFile { Name = "deployment.conf", Contents = config.ToString(), Mode = PublicFile }],
            },
        ];
        if (bastion.Password is not null)
        {
            var password = await bastion.Password.GetValueAsync(cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"Parameter '{bastion.Password.Name}' (the bastion password) has no value.");
            files.Add(new ContainerDirectory
            {
                Name = "secrets",
                Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute,
                Entries = [new ContainerFile { Name = "tunnel-password", Contents = password, Mode = PrivateFile }],
            });
        }

        return files;
    }

    // Healthy once sshd itself answers: the host-side proxy accepts TCP before the container is up,
    // so only the "SSH-2.0-" banner (RFC 4253, section 4.2) proves sshd is serving.
    private static async Task<HealthCheckResult> CheckSshBannerAsync(EndpointReference endpoint, CancellationToken cancellationToken)
    {
        if (!endpoint.IsAllocated)
        {
            return HealthCheckResult.Unhealthy("SSH endpoint not allocated yet");
        }

        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(endpoint.Host, endpoint.Port, timeout.Token).ConfigureAwait(false);
            var buffer = new byte[256];
            var read = await tcp.GetStream().ReadAsync(buffer, timeout.Token).ConfigureAwait(false);
            var banner = Encoding.ASCII.GetString(buffer, 0, read).TrimEnd();
            return banner.StartsWith("SSH-2.0-", StringComparison.Ordinal)
                ? HealthCheckResult.Healthy(banner)
                : HealthCheckResult.Unhealthy($"no SSH banner (got {read} bytes)");
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy($"sshd not answering: {ex.Message}");
        }
    }
}
