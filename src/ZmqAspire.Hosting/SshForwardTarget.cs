using System.Globalization;

namespace Aspire.Hosting.ApplicationModel;

/// <summary>
/// A TCP endpoint the bastion may forward to, named as the bastion reaches it: a container by its
/// resource name on the container network and its port inside the container; any other resource
/// (a project, an executable) at <c>host.docker.internal</c> and its allocated port. What a
/// consumer asks the bastion for (<c>RemoteEndpoint</c>) and what <c>PermitOpen</c> allows are
/// the same <c>host:port</c>, because sshd matches them literally.
/// </summary>
public sealed class SshForwardTarget
{
    /// <summary>The host name containers reach the host by (Docker Desktop; on Linux DCP adds it to the container's hosts).</summary>
    public const string HostGatewayName = "host.docker.internal";

    private SshForwardTarget(IResource resource, string key, ReferenceExpression hostAndPort)
    {
        Resource = resource;
        Key = key;
        HostAndPort = hostAndPort;
    }

    /// <summary>Gets the resource that serves the endpoint.</summary>
    public IResource Resource { get; }

    /// <summary>Gets <c>host:port</c> as the bastion reaches the target (resolved when the app starts for non-container targets).</summary>
    public ReferenceExpression HostAndPort { get; }

    /// <summary>Gets an identity for duplicate detection: resource name and endpoint name or port.</summary>
    internal string Key { get; }

    /// <summary>Makes a target of an endpoint of any resource with endpoints.</summary>
    /// <param name="endpoint">The endpoint, e.g. <c>server.GetEndpoint("tcp")</c>.</param>
    /// <returns>The target.</returns>
    /// <exception cref="ArgumentException">The endpoint is not TCP, or is a container endpoint with no target port.</exception>
    public static SshForwardTarget FromEndpoint(EndpointReference endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var annotation = endpoint.Resource.Annotations.OfType<EndpointAnnotation>().FirstOrDefault(e => e.Name == endpoint.EndpointName)
            ?? throw new ArgumentException($"Resource '{endpoint.Resource.Name}' has no endpoint named '{endpoint.EndpointName}'.", nameof(endpoint));
        if (annotation.Protocol != System.Net.Sockets.ProtocolType.Tcp)
        {
            throw new ArgumentException($"Endpoint '{endpoint.Resource.Name}/{endpoint.EndpointName}' is not TCP: an SSH local forward carries TCP only (RFC 4254 section 7.2).", nameof(endpoint));
        }

        var key = $"{endpoint.Resource.Name}/{endpoint.EndpointName}";
        if (endpoint.Resource is ContainerResource)
        {
            var port = annotation.TargetPort
                ?? throw new ArgumentException($"Container endpoint '{key}' has no target port: give it one (WithEndpoint(targetPort: ...)).", nameof(endpoint));
            return new SshForwardTarget(endpoint.Resource, key, ReferenceExpression.Create($"{endpoint.Resource.Name}:{port.ToString(CultureInfo.InvariantCulture)}"));
        }

        return new SshForwardTarget(endpoint.Resource, key, ReferenceExpression.Create($"{HostGatewayName}:{endpoint.Property(EndpointProperty.Port)}"));
    }

    /// <summary>
    /// Makes a target of a port a container listens on without an Aspire endpoint, so that nothing
    /// publishes it on the host and only the container network (the bastion) reaches it.
    /// </summary>
    /// <param name="container">The container.</param>
    /// <param name="port">The port inside the container, 1-65535.</param>
    /// <returns>The target.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="port"/> is not 1-65535.</exception>
    public static SshForwardTarget FromContainerPort(ContainerResource container, int port)
    {
        ArgumentNullException.ThrowIfNull(container);
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        var text = port.ToString(CultureInfo.InvariantCulture);
        return new SshForwardTarget(container, $"{container.Name}:{text}", ReferenceExpression.Create($"{container.Name}:{text}"));
    }

    /// <summary>Converts an endpoint to a target (<see cref="FromEndpoint"/>).</summary>
    /// <param name="endpoint">The endpoint.</param>
    public static implicit operator SshForwardTarget(EndpointReference endpoint) => FromEndpoint(endpoint);

    /// <inheritdoc/>
    public override string ToString() => HostAndPort.ValueExpression;
}
