namespace ZmqAspire.AppHost;

/// <summary>How this application's clients reach its ZeroMQ servers: through the bastion.</summary>
public static class ZmqServerTunnel
{
    /// <summary>
    /// Makes <paramref name="client"/> reach every one of <paramref name="servers"/> through
    /// <paramref name="bastion"/> under one connection name (the hosting package's
    /// <c>WithSshTunnel</c>: PermitOpen, <c>ConnectionStrings__{connectionName}</c>, waits for the
    /// bastion), hands it the servers' CURVE public key when they have one
    /// (<c>Client__CurveServerKey</c>), and starts it after every server.
    /// </summary>
    /// <typeparam name="T">The client resource type.</typeparam>
    /// <param name="client">The client.</param>
    /// <param name="bastion">The bastion.</param>
    /// <param name="servers">The server replicas; at least one.</param>
    /// <param name="connectionName">The connection name; default: the first server's name.</param>
    /// <param name="password">When given, the client logs in with this password instead of its key.</param>
    /// <returns>The same builder.</returns>
    public static IResourceBuilder<T> WithZmqServerTunnel<T>(
        this IResourceBuilder<T> client,
        IResourceBuilder<SshBastionResource> bastion,
        IReadOnlyList<IResourceBuilder<ZmqServerResource>> servers,
        string? connectionName = null,
        IResourceBuilder<ParameterResource>? password = null)
        where T : IResourceWithEnvironment, IResourceWithWaitSupport
    {
        ArgumentNullException.ThrowIfNull(servers);
        ArgumentOutOfRangeException.ThrowIfZero(servers.Count);
        client.WithSshTunnel(bastion, [.. servers.Select(s => s.Resource.ForwardTarget)], connectionName ?? servers[0].Resource.Name, password);
        // Read when the client starts, so WithCurve may come before or after this call.
        client.WithEnvironment(context =>
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
        foreach (var server in servers)
        {
            client.WaitFor(server);
        }

        return client;
    }

    /// <inheritdoc cref="WithZmqServerTunnel{T}(IResourceBuilder{T}, IResourceBuilder{SshBastionResource}, IReadOnlyList{IResourceBuilder{ZmqServerResource}}, string?, IResourceBuilder{ParameterResource}?)"/>
    /// <param name="client">The client.</param>
    /// <param name="bastion">The bastion.</param>
    /// <param name="server">The server.</param>
    public static IResourceBuilder<T> WithZmqServerTunnel<T>(
        this IResourceBuilder<T> client, IResourceBuilder<SshBastionResource> bastion, IResourceBuilder<ZmqServerResource> server)
        where T : IResourceWithEnvironment, IResourceWithWaitSupport =>
        client.WithZmqServerTunnel(bastion, [server]);
}
