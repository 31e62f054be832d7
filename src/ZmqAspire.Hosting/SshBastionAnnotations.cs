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
