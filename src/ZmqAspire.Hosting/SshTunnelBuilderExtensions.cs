using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;

namespace Aspire.Hosting;

/// <summary>
/// Makes a consumer (a project, a container, an executable) reach targets only through an SSH
/// bastion (RFC 4254 local forwarding), the way Aspire's dev tunnels hand a consumer the tunnelled
/// address. The consumer receives one connection string, <c>ConnectionStrings__{connectionName}</c>:
/// <code>SshServer=tunnel@localhost:2222;HostKeyFingerprint=SHA256:...;RemoteEndpoint=tcp://server:5556;PrivateKeyPath=/path/to/client_ed25519_key</code>
/// <list type="bullet">
/// <item><c>SshServer</c>: <c>user@host:port</c> of the bastion as the consumer reaches it (a
/// process on the host: the published host port; a container: the bastion's name and port 22).</item>
/// <item><c>HostKeyFingerprint</c>: the bastion's host key fingerprint to pin (<c>SHA256:...</c>).</item>
/// <item><c>RemoteEndpoint</c>: <c>tcp://host:port</c> of each target as the bastion reaches it,
/// comma-separated, in order (replicas).</item>
/// <item><c>PrivateKeyPath</c>: the consumer's OpenSSH private key (for a container consumer the
/// key is copied into the container, read-only for its owner, root unless <see cref="WithSshKeyOwner"/>
/// names the container's user, and this is the in-container path),
/// or <c>Password</c> when password login is chosen.</item>
/// </list>
/// The ZmqAspire.SshTunnel client integration (<c>builder.AddSshTunnel("server")</c>) reads it.
/// </summary>
public static class SshTunnelBuilderExtensions
{
    /// <summary>The folder a container consumer finds its private login key in.</summary>
    public const string ContainerKeyDirectory = "/run/aspire-ssh";

    /// <summary>
    /// Makes <paramref name="consumer"/> reach <paramref name="target"/> through
    /// <paramref name="bastion"/> with key login: allows the forward on the bastion, hands the
    /// consumer the connection string <c>ConnectionStrings__{target resource name}</c>, and starts
    /// the consumer after the bastion is healthy. An <see cref="EndpointReference"/> converts
    /// implicitly: <c>worker.WithSshTunnel(bastion, server.GetEndpoint("tcp"))</c>. For another
    /// connection name, several targets or password login, pass a list.
    /// </summary>
    /// <typeparam name="T">The consumer's resource type.</typeparam>
    /// <param name="consumer">The consumer.</param>
    /// <param name="bastion">The bastion to tunnel through.</param>
    /// <param name="target">The endpoint to reach.</param>
    /// <returns>The same consumer builder.</returns>
    public static IResourceBuilder<T> WithSshTunnel<T>(
        this IResourceBuilder<T> consumer,
        IResourceBuilder<SshBastionResource> bastion,
        SshForwardTarget target)
        where T : IResourceWithEnvironment, IResourceWithWaitSupport
    {
        ArgumentNullException.ThrowIfNull(target);
        return consumer.WithSshTunnel(bastion, [target], target.Resource.Name);
    }

    /// <summary>
    /// Makes <paramref name="consumer"/> reach every one of <paramref name="targets"/> (replicas of
    /// one service) through <paramref name="bastion"/> under one connection name: PermitOpen lists
    /// each, and <c>RemoteEndpoint</c> lists them comma-separated, in order. The consumer starts
    /// after the bastion is healthy.
    /// </summary>
    /// <typeparam name="T">The consumer's resource type.</typeparam>
    /// <param name="consumer">The consumer.</param>
    /// <param name="bastion">The bastion to tunnel through.</param>
    /// <param name="targets">The endpoints to reach; at least one.</param>
    /// <param name="connectionName">The connection name (<c>ConnectionStrings__{connectionName}</c>).</param>
    /// <param name="password">When given, the consumer logs in with this password instead of the key (the bastion needs <see cref="SshBastionBuilderExtensions.WithPasswordLogin"/>).</param>
    /// <returns>The same consumer builder.</returns>
    /// <exception cref="ArgumentException"><paramref name="targets"/> is empty, or <paramref name="connectionName"/> is empty.</exception>
    public static IResourceBuilder<T> WithSshTunnel<T>(
        this IResourceBuilder<T> consumer,
        IResourceBuilder<SshBastionResource> bastion,
        IReadOnlyList<SshForwardTarget> targets,
        string connectionName,
        IResourceBuilder<ParameterResource>? password = null)
        where T : IResourceWithEnvironment, IResourceWithWaitSupport
    {
        ArgumentNullException.ThrowIfNull(consumer);
        ArgumentNullException.ThrowIfNull(bastion);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentException.ThrowIfNullOrEmpty(connectionName);
        if (targets.Count == 0)
        {
            throw new ArgumentException("Give at least one target.", nameof(targets));
        }

        foreach (var target in targets)
        {
            bastion.WithForwardTo(target);
        }

        var inContainer = consumer.Resource is ContainerResource;
        if (inContainer && password is null)
        {
            // The key travels into the container (a host path would not exist there).
            ((IResourceBuilder<ContainerResource>)(object)consumer).WithContainerFiles(ContainerKeyDirectory, async (context, ct) =>
            {
                var keyPath = await bastion.Resource.ClientPrivateKeyPath.GetValueAsync(ct).ConfigureAwait(false)
                    ?? throw new InvalidOperationException("The bastion's client key path has no value.");
                // Read when the container is created, so WithSshKeyOwner may come before or after this call.
                var owner = consumer.Resource.Annotations.OfType<SshKeyOwnerAnnotation>().LastOrDefault();
                return [new ContainerFile { Name = KeyFileName(bastion.Resource), SourcePath = keyPath, Mode = UnixFileMode.UserRead, Owner = owner?.UserId, Group = owner?.GroupId }];
            });
        }

        var value = SshTunnelConnectionString.Create(bastion.Resource, targets, inContainer, password?.Resource);
        consumer.WithEnvironment($"ConnectionStrings__{connectionName}", value);
        consumer.WithAnnotation(new ResourceRelationshipAnnotation(bastion.Resource, "SshTunnel"));
        return consumer.WaitFor(bastion);
    }

    /// <summary>
    /// Gives the login key that <c>WithSshTunnel</c> copies into <paramref name="consumer"/> (at
    /// <see cref="ContainerKeyDirectory"/>, read-only for its owner, 0400) to the user the
    /// container runs as. Needed when that user is not root: the key is root's otherwise, and a
    /// consumer using the ZmqAspire.SshTunnel client integration stops with "... may not read it
    /// ...: give it this container's user with WithSshKeyOwner(1654)". Images made by
    /// <c>dotnet publish -t:PublishContainer</c>, and .NET's own images when they run as their
    /// <c>app</c> user, run as uid 1654: <c>worker.WithSshTunnel(bastion, endpoint).WithSshKeyOwner(1654)</c>.
    /// May be called before or after <c>WithSshTunnel</c>; the last call wins. Has no effect on a
    /// consumer that logs in with a password.
    /// </summary>
    /// <typeparam name="T">The consumer's container resource type.</typeparam>
    /// <param name="consumer">The container consumer.</param>
    /// <param name="userId">The numeric user id (uid) the container's process runs as, 0 or more (the image's <c>USER</c>, or the one it is started with).</param>
    /// <param name="groupId">The numeric group id (gid) for the key file, 0 or more; null leaves the runtime's default (root's group).</param>
    /// <returns>The same consumer builder.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="userId"/> or <paramref name="groupId"/> is negative.</exception>
    public static IResourceBuilder<T> WithSshKeyOwner<T>(this IResourceBuilder<T> consumer, int userId, int? groupId = null)
        where T : ContainerResource
    {
        ArgumentNullException.ThrowIfNull(consumer);
        return consumer.WithAnnotation(new SshKeyOwnerAnnotation(userId, groupId), ResourceAnnotationMutationBehavior.Replace);
    }

    /// <summary>
    /// Registers a TCP health check for <paramref name="target"/>'s endpoint: healthy once it
    /// accepts a connection on its host address, so a consumer's <c>WaitFor(target)</c> waits for a
    /// listening socket rather than a started process.
    /// </summary>
    /// <typeparam name="T">The target's resource type.</typeparam>
    /// <param name="target">The target.</param>
    /// <param name="endpointName">The endpoint to check.</param>
    /// <returns>The same builder.</returns>
    public static IResourceBuilder<T> WithTcpHealthCheck<T>(this IResourceBuilder<T> target, string endpointName)
        where T : IResourceWithEndpoints
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentException.ThrowIfNullOrEmpty(endpointName);
        var endpoint = target.Resource.GetEndpoint(endpointName);
        var key = $"{target.Resource.Name}_{endpointName}_tcp";
        target.ApplicationBuilder.Services.AddHealthChecks().AddAsyncCheck(key, ct => SshHealthChecks.CheckTcpAcceptAsync(endpoint, ct));
        return target.WithHealthCheck(key);
    }

    internal static string KeyFileName(SshBastionResource bastion) => $"{bastion.Name}_client_ed25519_key";
}
