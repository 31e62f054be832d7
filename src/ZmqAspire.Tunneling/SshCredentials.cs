using Renci.SshNet;
using Renci.SshNet.Common;

namespace ZmqAspire.Tunneling;

/// <summary>Turns <see cref="SshTunnelOptions"/> into SSH.NET authentication methods.</summary>
internal static class SshCredentials
{
    /// <summary>
    /// OpenSSH's default identities, in the order its <c>ssh -i</c> documents them (OpenSSH 9.2,
    /// <c>man ssh</c>; <c>id_xmss</c> exists only in builds with XMSS, which Debian's lacks).
    /// SSH.NET cannot use the <c>_sk</c> (FIDO) keys nor DSA: those are skipped with the reason.
    /// </summary>
    internal static readonly string[] DefaultKeyNames = ["id_rsa", "id_ecdsa", "id_ecdsa_sk", "id_ed25519", "id_ed25519_sk", "id_dsa"];

    /// <summary>Loads the credentials <paramref name="options"/> call for.</summary>
    /// <returns>The methods in the order offered, what to dispose with the session, the method
    /// names and a description of the keys offered and skipped (for error messages).</returns>
    /// <exception cref="SshPrivateKeyException">The key named by <see cref="SshTunnelOptions.PrivateKeyPath"/> cannot be loaded.</exception>
    /// <exception cref="SshTunnelConfigurationException">No credential is available at all.</exception>
    public static Loaded Create(SshTunnelOptions options)
    {
        var user = options.Server.User;
        var methods = new List<AuthenticationMethod>();
        var owned = new List<IDisposable>();
        var names = new List<string>();
        var keys = new List<PrivateKeyFile>();
        var offered = new List<string>();
        var skipped = new List<string>();

        if (options.PrivateKeyPath is not null)
        {
            // A key the user named must work: its error is the answer, not a reason to try others.
            keys.Add(LoadKey(options.PrivateKeyPath, options.PrivateKeyPassphrase));
            offered.Add(options.PrivateKeyPath);
        }
        else if (options.Password is null)
        {
            // As ssh in batch mode: each default key that exists is offered, and one that cannot
            // be used (encrypted with no passphrase, a type SSH.NET lacks) is skipped, not fatal.
            foreach (var path in DefaultKeyPaths().Where(File.Exists))
            {
                try
                {
                    keys.Add(LoadKey(path, options.PrivateKeyPassphrase));
                    offered.Add(path);
                }
                catch (SshPrivateKeyException ex)
                {
                    skipped.Add($"{path} ({ex.Detail})");
                }
            }
        }

        if (keys.Count > 0)
        {
            owned.AddRange(keys);
            var method = new PrivateKeyAuthenticationMethod(user, [.. keys]);
            methods.Add(method);
            owned.Add(method);
            names.Add("publickey");
        }

        if (options.Password is not null)
        {
            var method = new PasswordAuthenticationMethod(user, options.Password);
            methods.Add(method);
            owned.Add(method);
            names.Add("password");
        }

        if (methods.Count == 0)
        {
            var defaults = skipped.Count > 0
                ? $"no default key in {SshDirectory()} can be used: {string.Join("; ", skipped)}"
                : $"none of the default keys exists ({string.Join(", ", DefaultKeyNames.Select(n => Path.Combine(SshDirectory(), n)))})";
            throw new SshTunnelConfigurationException(
                nameof(SshTunnelOptions.PrivateKeyPath), $"No SSH credential: set PrivateKeyPath or Password; {defaults}.");
        }

        var keysText = offered.Count > 0 ? $"keys offered: {string.Join(", ", offered)}" : null;
        var skippedText = skipped.Count > 0 ? $"default keys skipped: {string.Join("; ", skipped)}" : null;
        var description = string.Join("; ", new[] { keysText, skippedText }.Where(t => t is not null));
        return new Loaded([.. methods], [.. owned], [.. names], description);
    }

    private static string SshDirectory() => Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".ssh");

    private static IEnumerable<string> DefaultKeyPaths() => DefaultKeyNames.Select(n => Path.Combine(SshDirectory(), n));

    private static PrivateKeyFile LoadKey(string path, string? passphrase)
    {
        if (!File.Exists(path))
        {
            throw new SshPrivateKeyException(path, "the file does not exist");
        }

        try
        {
            return passphrase is null ? new PrivateKeyFile(path) : new PrivateKeyFile(path, passphrase);
        }
        catch (SshPassPhraseNullOrEmptyException ex)
        {
            throw new SshPrivateKeyException(path, "it is encrypted and no passphrase was given", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            // Not a key problem: say so, with what decides it (who this process is, the file's mode).
            throw new SshPrivateKeyException(path, $"this process ({ProcessUser.Describe()}) may not read it: the file's mode is {ModeOf(path)}, and the file is another user's or a folder above it is closed to this one ({ex.Message})", ex);
        }
        catch (Exception ex) when (ex is SshException or System.Security.Cryptography.CryptographicException or FormatException or ArgumentException or InvalidOperationException or NotSupportedException or IOException)
        {
            // SSH.NET reports a wrong passphrase as a failed decryption or an unreadable key body.
            var detail = passphrase is null ? "it is not a readable private key" : "wrong passphrase, or not a readable private key";
            throw new SshPrivateKeyException(path, $"{detail} ({ex.Message})", ex);
        }
    }

    /// <summary>The file's permission bits in octal (<c>0400</c>), or "unknown" where there are none to read.</summary>
    private static string ModeOf(string path)
    {
        try
        {
            return OperatingSystem.IsWindows() ? "unknown" : "0" + Convert.ToString((int)File.GetUnixFileMode(path), 8);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "unknown";
        }
    }

    /// <summary>What <see cref="Create"/> loaded.</summary>
    /// <param name="Methods">The authentication methods, in the order offered.</param>
    /// <param name="Owned">What to dispose with the session.</param>
    /// <param name="Names">The method names, for example <c>publickey</c>.</param>
    /// <param name="Description">The keys offered and skipped, for error messages; empty for a password alone.</param>
    internal sealed record Loaded(AuthenticationMethod[] Methods, IDisposable[] Owned, string[] Names, string Description);
}
