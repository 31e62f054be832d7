using System.Diagnostics;
using System.Security.Cryptography;

namespace Aspire.Hosting.ApplicationModel;

/// <summary>
/// The key pairs of one deployment: the bastion's ed25519 host key and the client's ed25519
/// login key, made with <c>ssh-keygen</c> on first use and kept (0600, in a 0700 folder outside
/// the repository) so the pinned fingerprint stays the same across runs. Delete the folder to
/// rotate both.
/// </summary>
public sealed class SshKeyMaterial
{
    private const string HostKeyName = "ssh_host_ed25519_key";
    private const string ClientKeyName = "client_ed25519_key";

    private SshKeyMaterial(string directory)
    {
        Directory = directory;
        HostPrivateKeyPath = Path.Combine(directory, HostKeyName);
        ClientPrivateKeyPath = Path.Combine(directory, ClientKeyName);
        HostPublicKey = File.ReadAllText(HostPrivateKeyPath + ".pub").Trim();
        ClientPublicKey = File.ReadAllText(ClientPrivateKeyPath + ".pub").Trim();
        HostKeyFingerprint = Fingerprint(HostPublicKey);
    }

    /// <summary>Gets the folder holding the keys.</summary>
    public string Directory { get; }

    /// <summary>Gets the path of the bastion's private host key (copied into the bastion container only).</summary>
    public string HostPrivateKeyPath { get; }

    /// <summary>Gets the bastion's public host key, one OpenSSH line.</summary>
    public string HostPublicKey { get; }

    /// <summary>Gets the SHA-256 fingerprint of the bastion's host key, <c>SHA256:...</c>, which clients pin.</summary>
    public string HostKeyFingerprint { get; }

    /// <summary>Gets the path of the client's private login key.</summary>
    public string ClientPrivateKeyPath { get; }

    /// <summary>Gets the client's public key, one OpenSSH line (the bastion's authorized_keys).</summary>
    public string ClientPublicKey { get; }

    /// <summary>Loads the keys in <paramref name="directory"/>, generating any that are missing.</summary>
    /// <param name="directory">The key folder; created with mode 0700 if missing.</param>
    /// <returns>The key material.</returns>
    /// <exception cref="InvalidOperationException"><c>ssh-keygen</c> is not installed or fails.</exception>
    public static SshKeyMaterial EnsureCreated(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(directory); // user-profile ACLs already keep it private
        }
        else
        {
            System.IO.Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        Generate(Path.Combine(directory, HostKeyName), "ssh-bastion-host-key");
        Generate(Path.Combine(directory, ClientKeyName), "ssh-tunnel-client");
        return new SshKeyMaterial(directory);
    }

    /// <summary>Computes OpenSSH's SHA-256 fingerprint of a public key line (<c>type base64 [comment]</c>).</summary>
    /// <param name="publicKeyLine">The public key line.</param>
    /// <returns><c>SHA256:</c> and the unpadded base64 digest, as <c>ssh-keygen -lf</c> prints.</returns>
    public static string Fingerprint(string publicKeyLine)
    {
        var blob = Convert.FromBase64String(publicKeyLine.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
        return "SHA256:" + Convert.ToBase64String(SHA256.HashData(blob)).TrimEnd('=');
    }

    private static void Generate(string path, string comment)
    {
        if (File.Exists(path) && File.Exists(path + ".pub"))
        {
            return;
        }

        File.Delete(path);
        File.Delete(path + ".pub");
        var start = new ProcessStartInfo("ssh-keygen")
        {
            ArgumentList = { "-q", "-t", "ed25519", "-N", string.Empty, "-C", comment, "-f", path },
            RedirectStandardInput = true, // never let it prompt
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("ssh-keygen did not start.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("ssh-keygen is needed to make the SSH keys; install OpenSSH's client (Debian: openssh-client).", ex);
        }

        using (process)
        {
            process.StandardInput.Close();
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"ssh-keygen failed for '{path}': {error.Trim()}");
            }
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }
}
