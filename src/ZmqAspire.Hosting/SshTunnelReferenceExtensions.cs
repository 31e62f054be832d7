using Aspire.Hosting.ApplicationModel;

namespace Aspire.Hosting;

/// <summary>
/// The dev-tunnels grammar for SSH bastions: a consumer references a target <em>through</em> a
/// bastion, as Aspire's dev tunnels integration writes <c>web.WithReference(api, tunnel)</c>.
/// <c>worker.WithReference(server, bastion)</c> does what
/// <see cref="SshTunnelBuilderExtensions.WithSshTunnel{T}(IResourceBuilder{T}, IResourceBuilder{SshBastionResource}, SshForwardTarget)"/>
/// does: the bastion permits the forward (PermitOpen), the consumer receives
/// <c>ConnectionStrings__{target name}</c> (read by <c>builder.AddSshTunnel("{target name}")</c>)
/// and starts after the bastion is healthy.
/// </summary>
public static class SshTunnelReferenceExtensions
{
    /// <summary>
    /// Makes <paramref name="consumer"/> reach <paramref name="target"/>'s endpoint through
    /// <paramref name="bastion"/> (RFC 4254 local forwarding), under the connection name
    /// <c>ConnectionStrings__{target name}</c>. The target must have exactly one endpoint; for a
    /// target with several, reference the one to reach:
    /// <c>worker.WithReference(server.GetEndpoint("zmq"), bastion)</c>.
    /// </summary>
    /// <typeparam name="T">The consumer's resource type: a project, container or executable.</typeparam>
    /// <param name="consumer">The consumer.</param>
    /// <param name="target">The resource to reach, which only the bastion can reach.</param>
    /// <param name="bastion">The bastion to tunnel through.</param>
    /// <returns>The same consumer builder.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="target"/> has no endpoint, or more than one (the message names them).</exception>
    public static IResourceBuilder<T> WithReference<T>(
        this IResourceBuilder<T> consumer,
        IResourceBuilder<IResourceWithEndpoints> target,
        IResourceBuilder<SshBastionResource> bastion)
        where T : IResourceWithEnvironment, IResourceWithWaitSupport
    {
        ArgumentNullException.ThrowIfNull(consumer);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(bastion);
        var endpoints = target.Resource.Annotations.OfType<EndpointAnnotation>().Select(e => e.Name).ToList();
        if (endpoints.Count != 1)
        {
            throw new InvalidOperationException(endpoints.Count == 0
                ? $"'{target.Resource.Name}' has no endpoint to reach through the bastion '{bastion.Resource.Name}': add one (WithEndpoint) or use WithSshTunnel with SshForwardTarget.FromContainerPort."
                : $"'{target.Resource.Name}' has several endpoints ({string.Join(", ", endpoints)}): reference the one to reach through the bastion, for example WithReference({target.Resource.Name}.GetEndpoint(\"{endpoints[0]}\"), {bastion.Resource.Name}).");
        }

        return consumer.WithReference(target.Resource.GetEndpoint(endpoints[0]), bastion);
    }

    /// <summary>
    /// Makes <paramref name="consumer"/> reach <paramref name="endpoint"/> through
    /// <paramref name="bastion"/> (RFC 4254 local forwarding), under the connection name
    /// <c>ConnectionStrings__{endpoint's resource name}</c>: the same as
    /// <c>consumer.WithSshTunnel(bastion, endpoint)</c>.
    /// </summary>
    /// <typeparam name="T">The consumer's resource type: a project, container or executable.</typeparam>
    /// <param name="consumer">The consumer.</param>
    /// <param name="endpoint">The endpoint to reach, for example <c>server.GetEndpoint("zmq")</c>.</param>
    /// <param name="bastion">The bastion to tunnel through.</param>
    /// <returns>The same consumer builder.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static IResourceBuilder<T> WithReference<T>(
        this IResourceBuilder<T> consumer,
        EndpointReference endpoint,
        IResourceBuilder<SshBastionResource> bastion)
        where T : IResourceWithEnvironment, IResourceWithWaitSupport
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return consumer.WithSshTunnel(bastion, SshForwardTarget.FromEndpoint(endpoint));
    }
}
