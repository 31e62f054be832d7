using System.Security.Cryptography;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Decides whether the host key an SSH server presents is the one expected. There is no
/// "accept anything" policy: SSH.NET trusts every key unless told otherwise, and a tunnel that
/// does so can be silently redirected by whoever sits on the path (RFC 4251, section 4.1).
/// </summary>
public abstract class HostKeyPolicy
{
    private protected HostKeyPolicy()
    {
    }

    /// <summary>
    /// Trusts only keys whose SHA-256 fingerprint is one of <paramref name="fingerprints"/>, in
    /// OpenSSH's form (<c>SHA256:</c> followed by unpadded base64, as <c>ssh-keygen -lf</c>
    /// prints; the <c>SHA256:</c> prefix is optional). Several pins allow a key rotation.
    /// </summary>
    /// <param name="fingerprints">One or more fingerprints.</param>
    /// <returns>The policy.</returns>
    /// <exception cref="ArgumentException">No fingerprint is given, or one is not 43 characters of
    /// unpadded base64 (a SHA-256 digest).</exception>
    public static HostKeyPolicy Pinned(params string[] fingerprints) => new PinnedHostKeyPolicy(fingerprints);

    /// <summary>
    /// Trusts the keys an OpenSSH <c>known_hosts</c> file lists for the server (plain or hashed
    /// host names, <c>[host]:port</c> entries for ports other than 22, <c>*</c>/<c>?</c>
    /// patterns and <c>!</c> negation). A key marked <c>@revoked</c> is refused; a
    /// <c>@cert-authority</c> line is ignored (host certificates are not supported). The file is
    /// read at each connection, so edits apply to the next connect.
    /// </summary>
    /// <param name="path">The path of the known_hosts file.</param>
    /// <returns>The policy.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty.</exception>
    public static HostKeyPolicy KnownHosts(string path) => new KnownHostsPolicy(path);

    /// <summary>Checks one presented key.</summary>
    internal abstract HostKeyVerdict Verify(string host, int port, string keyType, byte[] keyBlob);

    /// <summary>Checks, before connecting, that what the policy reads (a known_hosts file) can be read.</summary>
    /// <exception cref="SshTunnelConfigurationException">It cannot.</exception>
    internal virtual void CheckReadable()
    {
    }

    /// <summary>Computes OpenSSH's SHA-256 fingerprint of a public key blob.</summary>
    /// <param name="keyBlob">The key in SSH wire format (RFC 4253, section 6.6).</param>
    /// <returns><c>SHA256:</c> followed by the unpadded base64 digest.</returns>
    public static string Fingerprint(ReadOnlySpan<byte> keyBlob) =>
        "SHA256:" + Convert.ToBase64String(SHA256.HashData(keyBlob)).TrimEnd('=');

    /// <summary>Normalizes a user-supplied fingerprint to <c>SHA256:xxxx</c>.</summary>
    internal static string NormalizeFingerprint(string fingerprint)
    {
        ArgumentNullException.ThrowIfNull(fingerprint);
        var body = fingerprint.Trim();
        if (body.StartsWith("SHA256:", StringComparison.OrdinalIgnoreCase))
        {
            body = body["SHA256:".Length..];
        }

        body = body.TrimEnd('=');
        Span<byte> digest = stackalloc byte[33];
        if (body.Length != 43 || !Convert.TryFromBase64String(body + "=", digest, out var written) || written != 32)
        {
            throw new ArgumentException(
                $"'{fingerprint}' is not a SHA-256 host key fingerprint (expected SHA256: and 43 base64 characters, as 'ssh-keygen -lf' prints).",
                nameof(fingerprint));
        }

        return "SHA256:" + body;
    }
}

/// <summary>The outcome of a host key check.</summary>
internal sealed record HostKeyVerdict(bool Trusted, HostKeyRejectionReason Reason, IReadOnlyList<string> Expected)
{
    public static HostKeyVerdict Trust { get; } = new(true, HostKeyRejectionReason.None, []);
}

/// <summary>Why a host key was refused.</summary>
public enum HostKeyRejectionReason
{
    /// <summary>The key was not refused.</summary>
    None,

    /// <summary>Nothing is known about this server: no pin matches and known_hosts has no entry for it.</summary>
    Unknown,

    /// <summary>The server is known under a different key: it was re-keyed or someone is in the middle.</summary>
    Changed,

    /// <summary>The key is marked <c>@revoked</c> in known_hosts.</summary>
    Revoked,
}

internal sealed class PinnedHostKeyPolicy : HostKeyPolicy
{
    private readonly string[] _pins;

    public PinnedHostKeyPolicy(string[] fingerprints)
    {
        ArgumentNullException.ThrowIfNull(fingerprints);
        if (fingerprints.Length == 0)
        {
            throw new ArgumentException("Give at least one host key fingerprint to pin.", nameof(fingerprints));
        }

        _pins = [.. fingerprints.Select(NormalizeFingerprint)];
    }

    internal override HostKeyVerdict Verify(string host, int port, string keyType, byte[] keyBlob)
    {
        var seen = Fingerprint(keyBlob);
        // Base64 is case-sensitive: compare ordinally.
        return _pins.Contains(seen, StringComparer.Ordinal)
            ? HostKeyVerdict.Trust
            : new HostKeyVerdict(false, HostKeyRejectionReason.Changed, _pins);
    }
}

internal sealed class KnownHostsPolicy : HostKeyPolicy
{
    private readonly string _path;

    public KnownHostsPolicy(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        _path = path;
    }

    internal override void CheckReadable()
    {
        try
        {
            _ = KnownHostsFile.Read(_path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            // KnownHostsFile.Read already names the file when it is missing; say it once.
            var message = ex is FileNotFoundException ? ex.Message : $"The known_hosts file '{_path}' cannot be read: {ex.Message}";
            throw new SshTunnelConfigurationException("HostKey", message, ex);
        }
    }

    internal override HostKeyVerdict Verify(string host, int port, string keyType, byte[] keyBlob)
    {
        var entries = KnownHostsFile.Read(_path).Where(e => e.Matches(host, port)).ToList();
        if (entries.Any(e => e.Marker == KnownHostsMarker.Revoked && e.HasKey(keyBlob)))
        {
            return new HostKeyVerdict(false, HostKeyRejectionReason.Revoked, []);
        }

        var keys = entries.Where(e => e.Marker == KnownHostsMarker.None).ToList();
        if (keys.Any(e => e.HasKey(keyBlob)))
        {
            return HostKeyVerdict.Trust;
        }

        return keys.Count == 0
            ? new HostKeyVerdict(false, HostKeyRejectionReason.Unknown, [])
            : new HostKeyVerdict(false, HostKeyRejectionReason.Changed, [.. keys.Select(e => Fingerprint(e.KeyBlob)).Distinct()]);
    }
}
