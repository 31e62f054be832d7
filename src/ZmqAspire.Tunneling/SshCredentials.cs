using Renci.SshNet;
using Renci.SshNet.Common;

namespace ZmqAspire.Tunneling;

/// <summary>Turns <see cref="SshTunnelOptions"/> into SSH.NET authentication methods.</summary>
internal static class SshCredentials
{
    private static readonly string[] DefaultKeyNames = ["id_ed25519", "id_ecdsa", "id_rsa"];

    /// <exception cref="SshPrivateKeyException">A key cannot be loaded.</exception>
    /// <exception cref="ArgumentException">No credential is available at all.</exception>
    public static (AuthenticationMethod[] Methods, IDisposable[] Owned, string[] Names) Create(SshTunnelOptions options)
    {
        var user = options.Server.User;
        var methods = new List<AuthenticationMethod>();
        var owned = new List<IDisposable>();
        var names = new List<string>();

        var keyPaths = options.PrivateKeyPath is not null
            ? [options.PrivateKeyPath]
            : options.Password is null ? DefaultKeyPaths() : [];
        if (keyPaths.Count > 0)
        {
            var keys = keyPaths.Select(path => LoadKey(path, options.PrivateKeyPassphrase)).ToArray();
            owned.AddRange(keys);
            var method = new PrivateKeyAuthenticationMethod(user, keys);
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
            throw new ArgumentException(
                "No SSH credential: set PrivateKeyPath or Password (no default key exists in ~/.ssh).", nameof(options));
        }

        return ([.. methods], [.. owned], [.. names]);
    }

    private static List<string> DefaultKeyPaths()
    {
        var sshDir = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".ssh");
        return [.. DefaultKeyNames.Select(n => Path.Combine(sshDir, n)).Where(File.Exists)];
    }

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
        catch (Exception ex) when (ex is SshException or System.Security.Cryptography.CryptographicException or FormatException or ArgumentException or InvalidOperationException)
        {
            // SSH.NET reports a wrong passphrase as a failed decryption or an unreadable key body.
            var detail = passphrase is null ? "it is not a readable private key" : "wrong passphrase, or not a readable private key";
            throw new SshPrivateKeyException(path, $"{detail} ({ex.Message})", ex);
        }
    }
}
