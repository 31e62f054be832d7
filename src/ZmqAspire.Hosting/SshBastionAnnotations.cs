namespace Aspire.Hosting.ApplicationModel;

/// <summary>A TCP endpoint the bastion may forward to (one <c>PermitOpen</c> entry).</summary>
/// <param name="target">The target.</param>
public sealed class SshForwardTargetAnnotation(SshForwardTarget target) : IResourceAnnotation
{
    /// <summary>Gets the target.</summary>
    public SshForwardTarget Target { get; } = target ?? throw new ArgumentNullException(nameof(target));
}

/// <summary>Password login for the tunnel user, in addition to keys (opt-in).</summary>
/// <param name="password">The secret parameter holding the password.</param>
public sealed class SshPasswordLoginAnnotation(ParameterResource password) : IResourceAnnotation
{
    /// <summary>Gets the parameter holding the password.</summary>
    public ParameterResource Password { get; } = password ?? throw new ArgumentNullException(nameof(password));
}

/// <summary>AES-CTR ciphers (RFC 4344) offered after the AEAD ones, for SSH clients without AEAD (opt-in).</summary>
public sealed class SshAesCtrCiphersAnnotation : IResourceAnnotation;

/// <summary>A port the bastion may listen on for remote forwards (RFC 4254 section 7.1, <c>ssh -R</c>; opt-in).</summary>
/// <param name="port">The port, 1-65535.</param>
public sealed class SshRemoteForwardAnnotation(int port) : IResourceAnnotation
{
    /// <summary>Gets the port.</summary>
    public int Port { get; } = port is >= 1 and <= 65535 ? port : throw new ArgumentOutOfRangeException(nameof(port), port, "1-65535");
}

/// <summary>The folder where run mode keeps the bastion's host key and the consumers' login key.</summary>
/// <param name="path">The folder; created 0700 if missing.</param>
public sealed class SshKeyDirectoryAnnotation(string path) : IResourceAnnotation
{
    /// <summary>Gets the folder.</summary>
    public string Path { get; } = string.IsNullOrEmpty(path) ? throw new ArgumentException("A key folder is needed.", nameof(path)) : path;
}

/// <summary>
/// The user a container consumer runs as, who is given the login key <c>WithSshTunnel</c> copies
/// into the container. The key stays read-only for its owner (0400), so without this annotation
/// it belongs to root and a consumer that runs as another user cannot read it: for example uid
/// 1654, the <c>app</c> user of .NET's container images and of <c>dotnet publish -t:PublishContainer</c>.
/// </summary>
/// <param name="userId">The numeric user id (uid) the container's process runs as, 0 or more.</param>
/// <param name="groupId">The numeric group id (gid) of the key file, 0 or more; null: the container runtime's default (root's group).</param>
public sealed class SshKeyOwnerAnnotation(int userId, int? groupId) : IResourceAnnotation
{
    /// <summary>Gets the uid that owns the key file inside the container.</summary>
    public int UserId { get; } = userId >= 0 ? userId : throw new ArgumentOutOfRangeException(nameof(userId), userId, "A uid is 0 or more.");

    /// <summary>Gets the gid of the key file inside the container, or null for the runtime's default.</summary>
    public int? GroupId { get; } = groupId is null or >= 0 ? groupId : throw new ArgumentOutOfRangeException(nameof(groupId), groupId, "A gid is 0 or more.");
}
