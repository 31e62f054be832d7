using System.Globalization;

namespace ZmqAspire.Testing.Sshd;

/// <summary>OpenSSH's ssh-keygen, for the fresh host and client keys each run makes (never committed).</summary>
public static class SshKeygen
{
    /// <summary>Gets the path of ssh-keygen (Debian package openssh-client).</summary>
    public const string Path = "/usr/bin/ssh-keygen";

    /// <summary>
    /// Makes a key pair: <paramref name="path"/> (private, OpenSSH format) and <c>path.pub</c>.
    /// </summary>
    /// <param name="path">Where to write the private key.</param>
    /// <param name="type">ssh-keygen's <c>-t</c>: <c>ed25519</c>, <c>ecdsa</c>, <c>rsa</c>.</param>
    /// <param name="bits">ssh-keygen's <c>-b</c> (key size in bits), or null for the type's default.</param>
    /// <param name="passphrase">The passphrase; empty for an unencrypted key.</param>
    /// <param name="comment">The comment written into the public key.</param>
    /// <returns><paramref name="path"/>.</returns>
    /// <exception cref="InvalidOperationException">ssh-keygen failed.</exception>
    public static string Generate(string path, string type, int? bits, string passphrase, string comment)
    {
        List<string> arguments = ["-q", "-t", type, "-N", passphrase, "-C", comment, "-f", path];
        if (bits is not null)
        {
            arguments.InsertRange(0, ["-b", bits.Value.ToString(CultureInfo.InvariantCulture)]);
        }

        ProcessRunner.RunChecked(Path, arguments);
        return path;
    }

    /// <summary>Reads a <c>.pub</c> file: the key type (e.g. <c>ssh-ed25519</c>) and the base64 key blob, as in a known_hosts line.</summary>
    public static (string Type, string Base64) ReadPublicKey(string publicKeyPath)
    {
        var fields = File.ReadAllText(publicKeyPath).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return (fields[0], fields[1]);
    }

    /// <summary>Gets a public key's SHA-256 fingerprint, <c>SHA256:...</c>, as ssh-keygen and sshd's log print it.</summary>
    /// <exception cref="InvalidOperationException">ssh-keygen failed.</exception>
    public static string Fingerprint(string publicKeyPath)
    {
        // ssh-keygen -lf FILE -E sha256 prints "256 SHA256:xxx comment (ED25519)".
        var output = ProcessRunner.RunChecked(Path, ["-lf", publicKeyPath, "-E", "sha256"]).StandardOutput;
        return output.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
    }
}
