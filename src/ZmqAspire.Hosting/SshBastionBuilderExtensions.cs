using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;

namespace Aspire.Hosting;

/// <summary>
/// Adds an OpenSSH bastion (jump host) to an Aspire application model and says what it may
/// forward to. Consumers reach targets through it with <see cref="SshTunnelBuilderExtensions"/>.
/// </summary>
public static class SshBastionBuilderExtensions
{
    /// <summary>
    /// Adds an OpenSSH bastion container built from the recipe inside this package
    /// (<see cref="SshBastionContainerImageTags"/>): hardened sshd, key login for the user
    /// <see cref="SshBastionResource.DefaultUserName"/>, local forwards only, and only to the targets
    /// added with <see cref="WithForwardTo"/> or a consumer's <c>WithSshTunnel</c>. Its SSH endpoint
    /// (<see cref="SshBastionResource.SshEndpointName"/>) is published on the host. It is healthy
    /// once sshd sends its SSH banner.
    /// <para>Run mode makes the keys with <c>ssh-keygen</c> when the app starts (host key and the
    /// consumers' login key, kept in the key folder so pins stay valid across runs; see
    /// <see cref="WithKeyDirectory"/>) and copies them into the container. Publish mode makes no
    /// keys: the manifest refers to the parameters <c>{name}-host-key-fingerprint</c> and
    /// <c>{name}-client-key-path</c>, and the deployment mounts the key files as secrets
    /// (the image's install-secrets script takes them from <c>/run/secrets</c>).</para>
    /// </summary>
    /// <param name="builder">The application builder.</param>
    /// <param name="name">The resource name; also the bastion's name on the container network.</param>
    /// <param name="port">The host port of the SSH endpoint; null: one is chosen when the app starts.</param>
    /// <returns>The bastion's resource builder.</returns>
    public static IResourceBuilder<SshBastionResource> AddSshBastion(this IDistributedApplicationBuilder builder, [ResourceName] string name, int? port = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);
        var defaultKeys = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".aspire", "ssh-bastion", builder.Environment.ApplicationName, name);
        var bastion = new SshBastionResource(name, defaultKeys);
        var healthCheckKey = $"{name}_ssh_banner";
        builder.Services.AddHealthChecks().AddAsyncCheck(healthCheckKey, ct => SshHealthChecks.CheckSshBannerAsync(bastion.SshEndpoint, ct));

        var context = SshBastionImage.WriteBuildContext(BuildContextParent(builder));
        var resource = builder.AddResource(bastion)
            .WithImage(SshBastionContainerImageTags.Image)
            .WithDockerfile(context)
            .WithEndpoint(port: port, targetPort: SshBastionResource.SshTargetPort, name: SshBastionResource.SshEndpointName, scheme: "tcp")
            .WithIconName("ShieldLock")
            .WithHealthCheck(healthCheckKey);

        if (builder.ExecutionContext.IsPublishMode)
        {
            var fingerprint = builder.AddParameter($"{name}-host-key-fingerprint")
                .WithDescription("SHA256:... fingerprint of the bastion's ed25519 host key (ssh-keygen -lf ssh_host_ed25519_key.pub), which consumers pin.");
            var keyPath = builder.AddParameter($"{name}-client-key-path", "/run/secrets/client_ed25519_key", publishValueAsDefault: true)
                .WithDescription("Where consumers read their private login key (a mounted secret).");
            bastion.HostKeyFingerprint = ReferenceExpression.Create($"{fingerprint.Resource}");
            bastion.ClientPrivateKeyPath = ReferenceExpression.Create($"{keyPath.Resource}");
            // The image turns these into sshd settings (install-secrets); the keys are mounted secrets.
            resource.WithEnvironment(async context =>
            {
                var permitOpen = await SshBastionFiles.PermitOpenAsync(bastion, context.CancellationToken).ConfigureAwait(false);
                if (permitOpen.Count > 0)
                {
                    context.EnvironmentVariables["BASTION_PERMIT_OPEN"] = string.Join(' ', permitOpen);
                }

                if (bastion.Annotations.OfType<SshAesCtrCiphersAnnotation>().Any())
                {
                    context.EnvironmentVariables["BASTION_CTR_CIPHERS"] = "yes";
                }
            });
        }
        else
        {
            bastion.HostKeyFingerprint = ReferenceExpression.Create($"{new RunModeKeyValue(bastion, "hostKeyFingerprint", k => k.HostKeyFingerprint)}");
            bastion.ClientPrivateKeyPath = ReferenceExpression.Create($"{new RunModeKeyValue(bastion, "clientPrivateKeyPath", k => k.ClientPrivateKeyPath)}");
            resource.WithContainerFiles(SshBastionFiles.Directory, (_, ct) => SshBastionFiles.CreateAsync(bastion, ct));
        }

        return resource;
    }

    /// <summary>Keeps the run-mode keys in <paramref name="directory"/> (default: <c>~/.aspire/ssh-bastion/{AppHost}/{name}</c>). Delete the folder to rotate them.</summary>
    /// <param name="bastion">The bastion.</param>
    /// <param name="directory">The folder; created 0700 if missing.</param>
    /// <returns>The same builder.</returns>
    public static IResourceBuilder<SshBastionResource> WithKeyDirectory(this IResourceBuilder<SshBastionResource> bastion, string directory)
    {
        ArgumentNullException.ThrowIfNull(bastion);
        return bastion.WithAnnotation(new SshKeyDirectoryAnnotation(directory), ResourceAnnotationMutationBehavior.Replace);
    }

    /// <summary>
    /// Allows the bastion to forward to <paramref name="target"/> (an entry of sshd's
    /// <c>PermitOpen</c>, written as the bastion reaches it, see <see cref="SshForwardTarget"/>).
    /// Nothing else may be forwarded. An <see cref="EndpointReference"/> converts implicitly:
    /// <c>bastion.WithForwardTo(api.GetEndpoint("tcp"))</c>.
    /// </summary>
    /// <param name="bastion">The bastion.</param>
    /// <param name="target">The endpoint it may forward to.</param>
    /// <returns>The same builder.</returns>
    public static IResourceBuilder<SshBastionResource> WithForwardTo(this IResourceBuilder<SshBastionResource> bastion, SshForwardTarget target)
    {
        ArgumentNullException.ThrowIfNull(bastion);
        ArgumentNullException.ThrowIfNull(target);
        return bastion.WithAnnotation(new SshForwardTargetAnnotation(target));
    }

    /// <summary>
    /// Opts into password login for the tunnel user, in addition to keys (run mode). The password
    /// reaches the container as a root-only file that is fed to <c>chpasswd</c> and removed before
    /// sshd starts, so it is never on a command line or in a log.
    /// </summary>
    /// <param name="bastion">The bastion.</param>
    /// <param name="password">A secret parameter holding the password.</param>
    /// <returns>The same builder.</returns>
    public static IResourceBuilder<SshBastionResource> WithPasswordLogin(this IResourceBuilder<SshBastionResource> bastion, IResourceBuilder<ParameterResource> password)
    {
        ArgumentNullException.ThrowIfNull(bastion);
        ArgumentNullException.ThrowIfNull(password);
        return bastion.WithAnnotation(new SshPasswordLoginAnnotation(password.Resource), ResourceAnnotationMutationBehavior.Replace);
    }

    /// <summary>
    /// Opts into AES-CTR ciphers (RFC 4344 <c>aes256-ctr</c>, <c>aes128-ctr</c>) after the AEAD
    /// ones, still only with the encrypt-then-MAC MACs, for SSH clients without AEAD ciphers
    /// (paramiko before 3.5). Clients with AEAD keep negotiating it.
    /// </summary>
    /// <param name="bastion">The bastion.</param>
    /// <returns>The same builder.</returns>
    public static IResourceBuilder<SshBastionResource> WithAesCtrCiphers(this IResourceBuilder<SshBastionResource> bastion)
    {
        ArgumentNullException.ThrowIfNull(bastion);
        return bastion.WithAnnotation(new SshAesCtrCiphersAnnotation(), ResourceAnnotationMutationBehavior.Replace);
    }

    /// <summary>Publishes the SSH endpoint on a fixed host port, for SSH clients outside the app (OpenSSH, pyzmq).</summary>
    /// <param name="bastion">The bastion.</param>
    /// <param name="port">The host port, 1-65535.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="port"/> is not 1-65535.</exception>
    public static IResourceBuilder<SshBastionResource> WithHostPort(this IResourceBuilder<SshBastionResource> bastion, int port)
    {
        ArgumentNullException.ThrowIfNull(bastion);
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        return bastion.WithEndpoint(SshBastionResource.SshEndpointName, endpoint => endpoint.Port = port);
    }

    /// <summary>
    /// Opts into remote forwards (RFC 4254 section 7.1, <c>ssh -R</c>) on <paramref name="port"/>:
    /// a consumer may ask the bastion to listen there (on all its addresses, so other containers
    /// reach it). Only the listed ports are allowed.
    /// </summary>
    /// <param name="bastion">The bastion.</param>
    /// <param name="port">The port, 1-65535.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="port"/> is not 1-65535.</exception>
    public static IResourceBuilder<SshBastionResource> WithRemoteForwarding(this IResourceBuilder<SshBastionResource> bastion, int port)
    {
        ArgumentNullException.ThrowIfNull(bastion);
        return bastion.WithAnnotation(new SshRemoteForwardAnnotation(port));
    }

    // The recipe is written where the manifest may point at it: beside the publisher's output
    // (the manifest publisher's output path names the file), else under the temp folder.
    private static string BuildContextParent(IDistributedApplicationBuilder builder)
    {
        if (builder.ExecutionContext.IsPublishMode
            && (builder.Configuration["Pipeline:OutputPath"] ?? builder.Configuration["Publishing:OutputPath"]) is { Length: > 0 } output)
        {
            var full = Path.GetFullPath(output);
            var folder = string.Equals(Path.GetExtension(full), ".json", StringComparison.OrdinalIgnoreCase) ? Path.GetDirectoryName(full)! : full;
            return Path.Combine(folder, "ssh-bastion-image");
        }

        return Path.Combine(Path.GetTempPath(), "aspire-ssh-bastion-image");
    }

    /// <summary>A run-mode key value, read (and the keys made) only when the app resolves it.</summary>
    private sealed class RunModeKeyValue(SshBastionResource bastion, string property, Func<SshKeyMaterial, string> select) : IValueProvider, IManifestExpressionProvider
    {
        // Never in a manifest (publish mode uses the parameters); names the value in expressions.
        public string ValueExpression => $"{{{bastion.Name}.keys.{property}}}";

        public ValueTask<string?> GetValueAsync(CancellationToken cancellationToken = default) => new(select(bastion.GetOrCreateKeys()));
    }
}
