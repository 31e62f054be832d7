namespace ZmqAspire.Tunneling;

/// <summary>
/// Base type of every error the tunnel reports. Catch this to handle all tunnel failures; catch
/// a subtype to tell a security failure (host key) from a credential failure or an unreachable
/// server.
/// </summary>
public class SshTunnelException : Exception
{
    /// <summary>Creates the exception with a default message.</summary>
    public SshTunnelException()
        : base("The SSH tunnel failed.")
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed, in words a user can act on.</param>
    public SshTunnelException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed, in words a user can act on.</param>
    /// <param name="innerException">The SSH.NET or socket error underneath, if any.</param>
    public SshTunnelException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// The SSH server presented a host key that the <see cref="HostKeyPolicy"/> does not trust. The
/// connection was closed during key exchange, before any credential was sent.
/// </summary>
/// <remarks>
/// The tunnel always uses the constructor that names the server and the key; the standard
/// constructors (for tests and wrappers) leave <see cref="Server"/>, <see cref="KeyType"/> and
/// <see cref="SeenFingerprint"/> null, <see cref="Reason"/> <see cref="HostKeyRejectionReason.None"/>
/// and <see cref="ExpectedFingerprints"/> empty.
/// </remarks>
public sealed class SshHostKeyRejectedException : SshTunnelException
{
    /// <summary>Creates the exception with a default message.</summary>
    public SshHostKeyRejectedException()
        : base("The SSH server's host key was refused.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">Why the key was refused.</param>
    public SshHostKeyRejectedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the error underneath.</summary>
    /// <param name="message">Why the key was refused.</param>
    /// <param name="innerException">The error underneath, if any.</param>
    public SshHostKeyRejectedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="server">The server that presented the key.</param>
    /// <param name="keyType">The key's algorithm name, for example <c>ssh-ed25519</c>.</param>
    /// <param name="seenFingerprint">The fingerprint of the key presented (<c>SHA256:...</c>).</param>
    /// <param name="reason">Why the key was refused.</param>
    /// <param name="expectedFingerprints">The fingerprints that would have been trusted, if known.</param>
    public SshHostKeyRejectedException(
        SshServerAddress server, string keyType, string seenFingerprint, HostKeyRejectionReason reason, IReadOnlyList<string> expectedFingerprints)
        : base(BuildMessage(server, keyType, seenFingerprint, reason, expectedFingerprints))
    {
        Server = server;
        KeyType = keyType;
        SeenFingerprint = seenFingerprint;
        Reason = reason;
        ExpectedFingerprints = expectedFingerprints;
    }

    /// <summary>Gets the server that presented the key (null only after a standard constructor).</summary>
    public SshServerAddress? Server { get; }

    /// <summary>Gets the key's algorithm name, for example <c>ssh-ed25519</c> (null only after a standard constructor).</summary>
    public string? KeyType { get; }

    /// <summary>Gets the SHA-256 fingerprint of the key the server presented (<c>SHA256:...</c>; null only after a standard constructor).</summary>
    public string? SeenFingerprint { get; }

    /// <summary>Gets why the key was refused (<see cref="HostKeyRejectionReason.None"/> only after a standard constructor).</summary>
    public HostKeyRejectionReason Reason { get; }

    /// <summary>Gets the fingerprints that would have been trusted (empty when the server is unknown).</summary>
    public IReadOnlyList<string> ExpectedFingerprints { get; } = [];

    private static string BuildMessage(
        SshServerAddress server, string keyType, string seen, HostKeyRejectionReason reason, IReadOnlyList<string> expected)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(expected);
        var where = $"{server.Host}:{server.Port}";
        return reason switch
        {
            HostKeyRejectionReason.Revoked =>
                $"Host key for {where} is REVOKED ({keyType} {seen}); refusing to connect.",
            HostKeyRejectionReason.Unknown =>
                $"Host key for {where} is unknown ({keyType} {seen}); refusing to connect. Add it to known_hosts or pin its fingerprint after checking it out of band.",
            _ =>
                $"Host key for {where} does not match: expected {string.Join(" or ", expected)}, seen {keyType} {seen}. The server was re-keyed or someone is intercepting the connection; refusing to connect.",
        };
    }
}

/// <summary>The SSH server refused every credential offered (wrong key, wrong password, or user not allowed).</summary>
/// <remarks>The standard constructors (for tests and wrappers) leave <see cref="Server"/> null and <see cref="Methods"/> empty.</remarks>
public sealed class SshTunnelAuthenticationException : SshTunnelException
{
    /// <summary>Creates the exception with a default message.</summary>
    public SshTunnelAuthenticationException()
        : base("The SSH server refused the login.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">Why the login was refused.</param>
    public SshTunnelAuthenticationException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the error underneath.</summary>
    /// <param name="message">Why the login was refused.</param>
    /// <param name="innerException">SSH.NET's error, if any.</param>
    public SshTunnelAuthenticationException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="server">The server that refused the login.</param>
    /// <param name="methods">The authentication methods tried, for example <c>publickey</c>.</param>
    /// <param name="innerException">SSH.NET's error.</param>
    public SshTunnelAuthenticationException(SshServerAddress server, IReadOnlyList<string> methods, Exception? innerException)
        : this(server, methods, credentials: null, innerException)
    {
    }

    /// <summary>Creates the exception, naming the credentials offered.</summary>
    /// <param name="server">The server that refused the login.</param>
    /// <param name="methods">The authentication methods tried, for example <c>publickey</c>.</param>
    /// <param name="credentials">The key files offered and the default keys skipped with why, if any (never a secret).</param>
    /// <param name="innerException">SSH.NET's error.</param>
    public SshTunnelAuthenticationException(SshServerAddress server, IReadOnlyList<string> methods, string? credentials, Exception? innerException)
        : base(BuildMessage(server, methods, credentials, innerException), innerException)
    {
        Server = server;
        Methods = methods;
    }

    /// <summary>Gets the server that refused the login (null only after a standard constructor).</summary>
    public SshServerAddress? Server { get; }

    /// <summary>Gets the authentication methods offered, in the order tried (empty only after a standard constructor).</summary>
    public IReadOnlyList<string> Methods { get; } = [];

    private static string BuildMessage(SshServerAddress server, IReadOnlyList<string> methods, string? credentials, Exception? innerException)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(methods);
        return $"SSH login as '{server.User}' on {server.Host}:{server.Port} was refused (tried: {string.Join(", ", methods)}"
            + (string.IsNullOrEmpty(credentials) ? string.Empty : $"; {credentials}") + $"): {innerException?.Message}";
    }
}

/// <summary>
/// The SSH server could not be reached or did not complete the SSH handshake in time: DNS
/// failure, connection refused, no route, or <see cref="SshTunnelOptions.ConnectTimeout"/>
/// elapsed.
/// </summary>
/// <remarks>The standard constructors (for tests and wrappers) leave <see cref="Server"/> null and <see cref="TimedOut"/> false.</remarks>
public sealed class SshServerUnreachableException : SshTunnelException
{
    /// <summary>The words the message uses when the server's host name does not resolve.</summary>
    public const string NameNotResolvedText = "name not resolved";

    /// <summary>Creates the exception with a default message.</summary>
    public SshServerUnreachableException()
        : base("The SSH server is unreachable.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public SshServerUnreachableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the error underneath.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The socket or SSH.NET error underneath, if any.</param>
    public SshServerUnreachableException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="server">The server that could not be reached.</param>
    /// <param name="timedOut"><see langword="true"/> when the connect timeout elapsed.</param>
    /// <param name="detail">What went wrong.</param>
    /// <param name="innerException">The socket or SSH.NET error underneath, if any.</param>
    public SshServerUnreachableException(SshServerAddress server, bool timedOut, string detail, Exception? innerException = null)
        : base(BuildMessage(server, detail), innerException)
    {
        Server = server;
        TimedOut = timedOut;
    }

    /// <summary>Gets the server that could not be reached (null only after a standard constructor).</summary>
    public SshServerAddress? Server { get; }

    /// <summary>Gets a value indicating whether the connect timeout elapsed (as opposed to an immediate refusal).</summary>
    public bool TimedOut { get; }

    /// <summary>Gets a value indicating whether the server's host name did not resolve (DNS), as opposed to an address that did not answer.</summary>
    public bool NameNotResolved { get; init; }

    private static string BuildMessage(SshServerAddress server, string detail)
    {
        ArgumentNullException.ThrowIfNull(server);
        return $"SSH server {server.Host}:{server.Port} is unreachable: {detail}";
    }
}

/// <summary>A private key file could not be used: missing, malformed, encrypted with no passphrase given, or a wrong passphrase.</summary>
/// <remarks>The standard constructors (for tests and wrappers) leave <see cref="KeyPath"/> and <see cref="Detail"/> null.</remarks>
public sealed class SshPrivateKeyException : SshTunnelException
{
    /// <summary>Creates the exception with a default message.</summary>
    public SshPrivateKeyException()
        : base("A private key cannot be used.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">Which key cannot be used, and why.</param>
    public SshPrivateKeyException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the error underneath.</summary>
    /// <param name="message">Which key cannot be used, and why.</param>
    /// <param name="innerException">SSH.NET's or the file system's error, if any.</param>
    public SshPrivateKeyException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="path">The key file, or a description of where the key came from.</param>
    /// <param name="detail">What is wrong with it.</param>
    /// <param name="innerException">SSH.NET's error, if any.</param>
    public SshPrivateKeyException(string path, string detail, Exception? innerException = null)
        : base($"Private key '{path}' cannot be used: {detail}", innerException)
    {
        KeyPath = path;
        Detail = detail;
    }

    /// <summary>Gets what is wrong with the key, without its path (for example <c>it is encrypted and no passphrase was given</c>; null only after a standard constructor).</summary>
    public string? Detail { get; }

    /// <summary>Gets the key file path (null only after a standard constructor).</summary>
    public string? KeyPath { get; }
}

/// <summary>A local forward could not be opened or the SSH session it needs is gone.</summary>
/// <remarks>The standard constructors (for tests and wrappers) leave <see cref="Remote"/> null.</remarks>
public sealed class SshForwardException : SshTunnelException
{
    /// <summary>Creates the exception with a default message.</summary>
    public SshForwardException()
        : base("A forward failed.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public SshForwardException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the error underneath.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The error underneath, if any.</param>
    public SshForwardException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="remote">The target of the forward, as the SSH server sees it.</param>
    /// <param name="detail">What went wrong.</param>
    /// <param name="innerException">The error underneath, if any.</param>
    public SshForwardException(TcpEndpoint remote, string detail, Exception? innerException = null)
        : base($"Forward to {remote ?? throw new ArgumentNullException(nameof(remote))} failed: {detail}", innerException)
    {
        Remote = remote;
    }

    /// <summary>Gets the forward's target as the SSH server sees it (null only after a standard constructor).</summary>
    public TcpEndpoint? Remote { get; }
}

/// <summary>
/// The tunnel's own configuration cannot work, whatever the server does: no credential to offer,
/// or a file it names (a known_hosts file) cannot be read. Raised before anything is sent, and
/// never retried: it needs the setting named by <see cref="Setting"/> changed.
/// </summary>
/// <remarks>The standard constructors (for tests and wrappers) leave <see cref="Setting"/> null.</remarks>
public sealed class SshTunnelConfigurationException : SshTunnelException
{
    /// <summary>Creates the exception with a default message.</summary>
    public SshTunnelConfigurationException()
        : base("The SSH tunnel's configuration cannot work.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What is wrong, in words a user can act on.</param>
    public SshTunnelConfigurationException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the error underneath.</summary>
    /// <param name="message">What is wrong, in words a user can act on.</param>
    /// <param name="innerException">The error underneath, if any.</param>
    public SshTunnelConfigurationException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="setting">The <see cref="SshTunnelOptions"/> property to change, for example <c>PrivateKeyPath</c>.</param>
    /// <param name="message">What is wrong, in words a user can act on.</param>
    /// <param name="innerException">The error underneath, if any.</param>
    public SshTunnelConfigurationException(string setting, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Setting = setting;
    }

    /// <summary>Gets the <see cref="SshTunnelOptions"/> property to change, for example <c>PrivateKeyPath</c> (null only after a standard constructor).</summary>
    public string? Setting { get; }
}
