using Aspire.Hosting.ApplicationModel;

namespace ZmqAspire.Hosting;

/// <summary>
/// An OpenSSH bastion (jump host) in a container: key login for <see cref="UserName"/> only,
/// local TCP forwards only, and only to the targets added with
/// <see cref="ZmqAspireHostingExtensions.WithForwardTo"/>.
/// </summary>
/// <param name="name">The resource name.</param>
/// <param name="keys">The deployment's host and client keys.</param>
public sealed class SshBastionResource(string name, SshKeyMaterial keys) : ContainerResource(name)
{
    /// <summary>The name of the bastion's SSH endpoint.</summary>
    public const string SshEndpointName = "ssh";

    /// <summary>Gets the login user baked into the bastion image.</summary>
    public string UserName => "tunnel";

    /// <summary>Gets the deployment's keys.</summary>
    public SshKeyMaterial Keys { get; } = keys;

    /// <summary>Gets the forward targets allowed (<c>host:port</c>, as clients request them).</summary>
    public ISet<string> PermittedTargets { get; } = new SortedSet<string>(StringComparer.Ordinal);

    /// <summary>Gets or sets the tunnel user's password, when password login is opted into (<see cref="ZmqAspireHostingExtensions.WithPasswordLogin"/>); null: key login only.</summary>
    public ParameterResource? Password { get; set; }

    /// <summary>
    /// Gets or sets whether AES-CTR ciphers (<c>aes256-ctr</c>, <c>aes128-ctr</c>, still only with
    /// the ETM MACs) are offered besides the AEAD ciphers, for SSH clients that have no AEAD cipher
    /// (paramiko before 3.5, as Debian 12 and Ubuntu 22.04 ship it). Off by default
    /// (<see cref="ZmqAspireHostingExtensions.WithAesCtrCiphers"/>).
    /// </summary>
    public bool AesCtrCiphers { get; set; }

    /// <summary>Gets the ports on which clients may ask the bastion to listen for remote forwards (<c>ssh -R</c>); empty: none.</summary>
    public ISet<int> RemoteListenPorts { get; } = new SortedSet<int>();

    /// <summary>Gets the SSH endpoint as the host sees it.</summary>
    public EndpointReference SshEndpoint => new(this, SshEndpointName);
}
