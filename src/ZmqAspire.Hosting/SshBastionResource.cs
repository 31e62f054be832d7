namespace Aspire.Hosting.ApplicationModel;

/// <summary>
/// An OpenSSH bastion (jump host) in a container: key login for <see cref="UserName"/> only, local
/// TCP forwards (RFC 4254 section 7.2) only, and only to the targets named with
/// <c>WithForwardTo</c> or <c>WithSshTunnel</c> (sshd's <c>PermitOpen</c>). Options are annotations
/// on the resource (<see cref="SshForwardTargetAnnotation"/>, <see cref="SshPasswordLoginAnnotation"/>, ...).
/// </summary>
public sealed class SshBastionResource : ContainerResource
{
    /// <summary>The name of the bastion's SSH endpoint.</summary>
    public const string SshEndpointName = "ssh";

    /// <summary>The port sshd listens on inside the container.</summary>
    public const int SshTargetPort = 22;

    /// <summary>The login user baked into the bastion image.</summary>
    public const string DefaultUserName = "tunnel";

    private readonly Lazy<SshKeyMaterial> _keys;

    /// <summary>Initializes a new instance of the <see cref="SshBastionResource"/> class.</summary>
    /// <param name="name">The resource name; also the bastion's name on the container network.</param>
    /// <param name="defaultKeyDirectory">The key folder used unless a <see cref="SshKeyDirectoryAnnotation"/> names another.</param>
    public SshBastionResource(string name, string defaultKeyDirectory)
        : base(name)
    {
        ArgumentException.ThrowIfNullOrEmpty(defaultKeyDirectory);
        DefaultKeyDirectory = defaultKeyDirectory;
        // Made on first use, which only run mode reaches (a publish never generates keys).
        _keys = new Lazy<SshKeyMaterial>(() => SshKeyMaterial.EnsureCreated(KeyDirectory), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>Gets the login user the tunnels use (the image's only login).</summary>
    public string UserName => DefaultUserName;

    /// <summary>Gets the key folder given to the constructor.</summary>
    public string DefaultKeyDirectory { get; }

    /// <summary>Gets the folder holding the run-mode keys: the last <see cref="SshKeyDirectoryAnnotation"/>, else <see cref="DefaultKeyDirectory"/>.</summary>
    public string KeyDirectory => Annotations.OfType<SshKeyDirectoryAnnotation>().LastOrDefault()?.Path ?? DefaultKeyDirectory;

    /// <summary>Gets the SSH endpoint as the host sees it.</summary>
    public EndpointReference SshEndpoint => new(this, SshEndpointName);

    /// <summary>Gets the forward targets allowed, in the order they were added, without duplicates.</summary>
    public IReadOnlyList<SshForwardTarget> ForwardTargets =>
        [.. Annotations.OfType<SshForwardTargetAnnotation>().Select(a => a.Target).DistinctBy(t => t.Key)];

    /// <summary>
    /// Gets the SHA-256 fingerprint of the bastion's host key (<c>SHA256:...</c>), which consumers
    /// pin. Run mode: read from the key folder (keys made there on first use). Publish mode: the
    /// parameter <c>{name}-host-key-fingerprint</c>, filled in by whoever deploys with the keys
    /// they made.
    /// </summary>
    public ReferenceExpression HostKeyFingerprint { get; internal set; } = ReferenceExpression.Empty;

    /// <summary>
    /// Gets the path of the consumers' private login key as a process on the host reads it. Run
    /// mode: the file in the key folder. Publish mode: the parameter <c>{name}-client-key-path</c>
    /// (where the deployment mounts the key; default <c>/run/secrets/client_ed25519_key</c>).
    /// </summary>
    public ReferenceExpression ClientPrivateKeyPath { get; internal set; } = ReferenceExpression.Empty;

    /// <summary>Gets the run-mode key material, generating it with <c>ssh-keygen</c> on first use.</summary>
    /// <returns>The keys in <see cref="KeyDirectory"/>.</returns>
    /// <exception cref="InvalidOperationException"><c>ssh-keygen</c> is missing or fails.</exception>
    public SshKeyMaterial GetOrCreateKeys() => _keys.Value;
}
